#!/usr/bin/env node
/**
 * `tern-emulator`: runs one emulator as a standalone process for benchmarks, examples and manual
 * testing. Prints the URL on stdout (one line, so scripts can read it), logs one line per request
 * on stderr (`POST /_bulk 200 1000 items`), and on SIGINT/SIGTERM prints its statistics as one
 * JSON line on stderr and exits 0.
 *
 * From the checkout: `node --conditions=tern-src packages/test-kit/src/cli.ts elasticsearch --port 9200`.
 * Each emulator is one entry of EMULATORS: its flags, and how flags become start options.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { startElasticsearch } from './elasticsearch.ts';
import { startLogScale } from './logscale.ts';
import { startParseable } from './parseable.ts';
import type { CommonOptions, Emulator } from './server.ts';
import { startWebhook } from './webhook.ts';

type Flags = Record<string, unknown>;

interface Running {
  emulator: Emulator;
  stats: () => unknown;
}

interface EmulatorCommand {
  description: string;
  defaultPort: number;
  flags: (cmd: Command) => Command;
  start: (flags: Flags, common: CommonOptions) => Promise<Running>;
}

const EMULATORS: Record<string, EmulatorCommand> = {
  elasticsearch: {
    description: 'Elasticsearch 8.x (_bulk, data streams, product check, compatible-with, auth)',
    defaultPort: 9200,
    flags: (c) =>
      c
        .option('--version <version>', 'reported version.number', '8.15.0')
        .option('--user <user:password>', 'accept Basic credentials (repeatable)', collect, [])
        .option('--api-key <base64>', 'accept this ApiKey header value, base64(id:key) (repeatable)', collect, [])
        .option('--bearer <token>', 'accept this Bearer token (repeatable)', collect, [])
        .option('--store <mode>', 'full (keep documents) or count (benchmarks)', 'full')
        .option('--max-body-bytes <n>', 'http.max_content_length', int, 100 * 1024 * 1024)
        .option('--data-stream <pattern>', 'data-stream name pattern (repeatable; default logs-*-*, metrics-*-*)', collect, [])
        .option('--opensearch', 'behave like OpenSearch (406 on vendor types, no product header)')
        .option('--dynamic-mapping', 'infer field types from first values and refuse misfits (full store)'),
    start: async (f, common) => {
      const users = (f['user'] as string[]).map(splitPair);
      const apiKeys = f['apiKey'] as string[];
      const bearer = f['bearer'] as string[];
      const auth = users.length + apiKeys.length + bearer.length === 0 ? undefined : { basic: users.map(([username, password]) => ({ username, password })), apiKeys, bearer };
      const patterns = f['dataStream'] as string[];
      const store = f['store'] === 'count' ? 'count' : 'full';
      const es = await startElasticsearch({
        ...common,
        version: f['version'] as string,
        ...(auth === undefined ? {} : { auth }),
        store,
        maxBodyBytes: f['maxBodyBytes'] as number,
        ...(patterns.length > 0 ? { dataStreamPatterns: patterns } : {}),
        flavor: f['opensearch'] === true ? 'opensearch' : 'elasticsearch',
        dynamicMapping: f['dynamicMapping'] === true,
      });
      return { emulator: es, stats: () => ({ ...es.stats(), docs: es.count(), targets: Object.fromEntries(es.targets().map((t) => [t, es.count(t)])) }) };
    },
  },
  logscale: {
    description: 'LogScale / Humio ingest (structured, unstructured, HEC)',
    defaultPort: 8080,
    flags: (c) =>
      c
        .option('--token <token:repository[:parser]>', 'ingest token (repeatable; default test-token:sandbox)', collect, [])
        .option('--max-request-bytes <n>', 'MAX_INGEST_REQUEST_SIZE, after decoding', int, 32 * 1024 * 1024),
    start: async (f, common) => {
      const specs = f['token'] as string[];
      const tokens = specs.length === 0 ? undefined : Object.fromEntries(specs.map((s) => {
        const [token = '', repository = '', parser] = s.split(':');
        if (token === '' || repository === '') throw new InvalidArgumentError(`--token ${s}: expected token:repository[:parser]`);
        return [token, parser === undefined ? { repository } : { repository, parser }];
      }));
      const ls = await startLogScale({ ...common, ...(tokens === undefined ? {} : { tokens }), maxRequestBytes: f['maxRequestBytes'] as number });
      return { emulator: ls, stats: () => ({ ...ls.stats(), repositories: Object.fromEntries([...new Set(ls.events().map((e) => e['#repo']))].map((r) => [r, ls.count(r)])) }) };
    },
  },
  parseable: {
    description: 'Parseable v2.9 ingest (/api/v1/ingest, /api/v1/logstream)',
    defaultPort: 8000,
    flags: (c) =>
      c
        .option('--user <user:password>', 'P_USERNAME:P_PASSWORD', 'admin:admin')
        .option('--api-key <key>', 'accept this X-API-Key (repeatable)', collect, [])
        .option('--max-payload-bytes <n>', 'P_MAX_EVENT_PAYLOAD_SIZE', int, 10 * 1024 * 1024)
        .option('--no-explode-arrays', 'keep arrays as values instead of one row per element'),
    start: async (f, common) => {
      const [username, password] = splitPair(f['user'] as string);
      const pb = await startParseable({ ...common, username, password, apiKeys: f['apiKey'] as string[], maxPayloadBytes: f['maxPayloadBytes'] as number, explodeArrays: f['explodeArrays'] !== false });
      return { emulator: pb, stats: () => ({ ...pb.stats(), streams: Object.fromEntries(pb.streams().map((s) => [s, pb.rows(s).length])) }) };
    },
  },
  webhook: {
    description: 'generic webhook receiver, or a Slack incoming webhook with --slack',
    defaultPort: 9000,
    flags: (c) =>
      c
        .option('--slack', 'Slack incoming-webhook mode')
        .option('--status <code>', 'generic mode: success status', int, 200)
        .option('--secret <Header:value>', 'generic mode: require this header')
        .option('--slack-rate <perSecond:burst>', 'Slack mode: token bucket per webhook')
        .option('--known <path>', 'Slack mode: known webhook path (repeatable; default any /services/a/b/c)', collect, [])
        .option('--archived <path>', 'Slack mode: archived webhook path (repeatable)', collect, []),
    start: async (f, common) => {
      const secret = typeof f['secret'] === 'string' ? splitPair(f['secret']) : undefined;
      const rate = typeof f['slackRate'] === 'string' ? splitPair(f['slackRate']).map(Number) : undefined;
      const known = f['known'] as string[];
      const archived = f['archived'] as string[];
      const wh = await startWebhook({
        ...common,
        mode: f['slack'] === true ? 'slack' : 'generic',
        status: f['status'] as number,
        ...(secret === undefined ? {} : { secretHeader: { name: secret[0], value: secret[1] } }),
        ...(rate === undefined ? {} : { slackRate: { perSecond: rate[0] ?? 1, burst: rate[1] ?? 1 } }),
        slackWebhooks: { ...(known.length > 0 ? { known } : {}), archived },
      });
      return { emulator: wh, stats: () => ({ ...wh.stats(), received: wh.received.length }) };
    },
  },
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a non-negative integer: ${value}`);
  return n;
}

function splitPair(s: string): [string, string] {
  const i = s.indexOf(':');
  if (i <= 0) throw new InvalidArgumentError(`expected a:b, got ${s}`);
  return [s.slice(0, i), s.slice(i + 1)];
}

async function run(name: string, spec: EmulatorCommand, flags: Flags): Promise<void> {
  const quiet = flags['quiet'] === true;
  let requests = 0;
  const common: CommonOptions = {
    port: flags['port'] as number,
    host: flags['host'] as string,
    // A long benchmark must not accumulate request records; the count is enough here.
    recordRequests: false,
    recordBodies: false,
    ...(typeof flags['tlsCert'] === 'string' && typeof flags['tlsKey'] === 'string'
      ? { tls: { cert: readFileSync(flags['tlsCert']), key: readFileSync(flags['tlsKey']) } }
      : {}),
    onRequest: (e) => {
      requests++;
      if (!quiet) process.stderr.write(`${e.method} ${e.path} ${e.status === 0 ? 'reset' : e.status}${e.note === '' ? '' : ` ${e.note}`}\n`);
    },
  };
  const started = Date.now();
  const { emulator, stats } = await spec.start(flags, common);
  // Faults for benchmarks and manual tests, on ingest (POST) requests only, so healthchecks pass.
  if (typeof flags['faultStatus'] === 'number') emulator.fault({ match: { method: 'POST' }, times: Infinity, action: { status: flags['faultStatus'] } });
  if (typeof flags['faultDelayMs'] === 'number') emulator.fault({ match: { method: 'POST' }, times: Infinity, action: { delayMs: flags['faultDelayMs'] } });
  process.stdout.write(`${emulator.url}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const cpu = process.cpuUsage();
    const summary = {
      emulator: name,
      signal,
      requests,
      ...(stats() as Record<string, unknown>),
      cpu_s: (cpu.user + cpu.system) / 1e6,
      rss_mb: Math.round(process.memoryUsage().rss / 1048576),
      uptime_s: (Date.now() - started) / 1000,
    };
    process.stderr.write(`${JSON.stringify(summary)}\n`);
    void emulator.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

const program = new Command('tern-emulator').description('Protocol-faithful emulated servers for tern (see @tern/test-kit README)');
for (const [name, spec] of Object.entries(EMULATORS)) {
  const cmd = program
    .command(name)
    .description(spec.description)
    .option('--port <port>', 'port to listen on (0 = any free port)', int, spec.defaultPort)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--quiet', 'no per-request log lines')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--fault-status <code>', 'answer every ingest (POST) request with this status (benchmarks: a sink that keeps retrying)', int)
    .option('--fault-delay-ms <ms>', 'answer every ingest (POST) request this late (benchmarks: a slow sink)', int);
  spec.flags(cmd).action((flags: Flags) => run(name, spec, flags));
}
await program.parseAsync(process.argv);
