/**
 * Operating tern as a cluster operator does, through the real binary: the HTTP API (`/metrics`
 * scraped during a run and checked against what the emulated Elasticsearch stored, `/readyz` ready
 * only after the sink's healthcheck passed, `/healthz`), a reload under load (a sink's options
 * changed while a file grows: the unchanged source keeps its position, every event arrives at least
 * once), a broken new file (rejected with file:line and the code of what was wrong, the old pipeline
 * goes on), `--watch-config`, `tern tap` and `tern top` against the running process.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startElasticsearch, type ElasticsearchEmulator } from '@tern/test-kit';
import { logs, tern, tmp, until, write, type Run } from './helpers.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Starts `tern run` and waits for its API; the process is stopped by the cleanup hook if the test does not. */
async function runWithApi(args: string[], env: Record<string, string> = {}): Promise<{ run: Run; url: string }> {
  const run = tern(['run', '--log-format', 'json', ...args], { env });
  cleanups.push(() => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  });
  let url = '';
  await until(() => {
    const l = logs(run).find((x) => x.msg === 'API listening: /healthz, /readyz, /metrics');
    url = (l?.url as string | undefined) ?? '';
    return url !== '' || run.child.exitCode !== null;
  }, 20_000, 'the API to listen');
  assert.ok(url, run.stderr());
  return { run, url };
}

function pick(o: Record<string, unknown> | undefined, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o?.[k]]));
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/** Value of one sample in Prometheus text (`name{labels}` exactly as exposed, labels in order). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  const want = l === '' ? name : `${name}{${l}}`;
  const line = text.split('\n').find((l) => l.startsWith(`${want} `));
  return line === undefined ? undefined : Number(line.slice(want.length + 1));
}

/** A GET on a new connection (a moved API closed the kept-alive ones). */
function fresh(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}

function seqLines(from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += `${JSON.stringify({ seq: i, msg: `event ${i}` })}\n`;
  return s;
}

function esSeqs(es: ElasticsearchEmulator): Set<number> {
  const seqs = new Set<number>();
  for (const t of es.targets()) for (const d of es.docs(t)) seqs.add((d._source as { seq: number }).seq);
  return seqs;
}

const ES_SINK = (extra = '') => `  es:\n    type: elasticsearch\n    inputs: [in]\n    endpoints: ["\${ES_URL}"]\n    index: events\n    request: { retry_initial_ms: 20, retry_max_ms: 200 }\n${extra}`;

describe('the HTTP API', () => {
  it('/metrics during a run: the counters match what the emulated Elasticsearch stored', async () => {
    const es = await startElasticsearch();
    cleanups.push(() => es.close());
    const dir = tmp();
    write(dir, 'in.log', seqLines(0, 1500));
    const p = write(dir, 'p.yaml', `api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\nsinks:\n${ES_SINK('    batch: { max_events: 100 }\n')}`);
    const { run, url } = await runWithApi(['-c', p], { ES_URL: es.url });
    await until(() => es.count() === 1500, 20_000, '1500 documents');
    // Counters move when the server answered; scrape until the last answer was counted.
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = (await get(`${url}/metrics`)).text;
      if (sample(text, 'tern_events_delivered_total', { component: 'es', component_kind: 'sink', component_type: 'elasticsearch' }) === 1500) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const es_ = { component: 'es', component_kind: 'sink', component_type: 'elasticsearch' };
    const src = { component: 'in', component_kind: 'source', component_type: 'file' };
    const bulks = es.requests.filter((r) => r.path.endsWith('/_bulk') || r.path === '/_bulk').length;
    assert.equal(sample(text, 'tern_events_delivered_total', es_), es.count());
    assert.equal(sample(text, 'tern_events_in_total', es_), 1500);
    assert.equal(sample(text, 'tern_events_out_total', src), 1500);
    assert.equal(sample(text, 'tern_read_bytes_total', src), seqLines(0, 1500).length);
    // Event bytes: the lines as read, without their newlines.
    assert.equal(sample(text, 'tern_received_event_bytes_total', es_), seqLines(0, 1500).length - 1500);
    assert.equal(sample(text, 'tern_requests_total', es_), bulks);
    assert.equal(sample(text, 'tern_request_duration_seconds_count', es_), bulks, 'one latency observation per request');
    assert.equal(sample(text, 'tern_batch_events_sum', es_), 1500);
    assert.ok((sample(text, 'tern_batch_events_bucket', { ...es_, le: '100' }) ?? 0) >= 15, 'batches of 100');
    assert.equal(sample(text, 'tern_sink_state', { ...es_, state: 'healthy' }), 1);
    assert.equal(sample(text, 'tern_buffer_events', es_), 0);
    assert.equal(sample(text, 'tern_file_lag_bytes', { ...src, path: join(dir, 'in.log') }), 0);
    assert.ok((sample(text, 'tern_checkpoint_age_seconds', src) ?? -1) >= 0);
    assert.equal(sample(text, 'tern_in_flight_events', {}), 0);
    assert.match(text, /^tern_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
    assert.match(text, /^process_cpu_user_seconds_total /m, 'process metrics from prom-client');
    // More input moves the counters and the lag shows what is left while it is read.
    appendFileSync(join(dir, 'in.log'), seqLines(1500, 500));
    await until(() => es.count() === 2000, 20_000, '2000 documents');
    for (let i = 0; i < 100; i++) {
      text = (await get(`${url}/metrics`)).text;
      if (sample(text, 'tern_events_delivered_total', es_) === 2000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(sample(text, 'tern_events_delivered_total', es_), 2000);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
  });

  it('/readyz answers 503 until the sink\'s healthcheck passes, then 200; /healthz answers 200 throughout', async () => {
    const es = await startElasticsearch();
    cleanups.push(() => es.close());
    es.fault({ match: { method: 'GET', path: '/' }, times: Number.POSITIVE_INFINITY, action: { status: 503 } });
    const dir = tmp();
    write(dir, 'in.log', seqLines(0, 10));
    const p = write(dir, 'p.yaml', `api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\nsinks:\n${ES_SINK()}`);
    const { run, url } = await runWithApi(['-c', p], { ES_URL: es.url });
    await until(() => es.requests.filter((r) => r.method === 'GET' && r.path === '/').length >= 2, 10_000, 'two failed healthchecks');
    const notReady = await get(`${url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(JSON.parse(notReady.text), { ready: false, reasons: ['sink es: healthcheck not passed yet'] });
    assert.equal((await get(`${url}/healthz`)).status, 200);
    assert.equal(es.count(), 0, 'nothing is sent before the healthcheck passed');
    es.clearFaults();
    let ready = await get(`${url}/readyz`);
    const start = Date.now();
    while (ready.status !== 200 && Date.now() - start < 10_000) {
      await new Promise((r) => setTimeout(r, 50));
      ready = await get(`${url}/readyz`);
    }
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(JSON.parse(ready.text), { ready: true });
    await until(() => es.count() === 10, 10_000, 'the buffered events');
    assert.equal((await get(`${url}/healthz`)).status, 200);
    assert.equal((await get(`${url}/nope`)).status, 404);
    // Readiness changes are logged from a once-a-second sample.
    await until(() => logs(run).some((l) => l.msg === 'ready: every sink passed its healthcheck or buffers on disk'), 10_000, 'the ready line');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
  });
});

describe('reload', () => {
  it('SIGHUP under load: a changed sink is replaced, the unchanged source keeps its position, every event arrives; a broken file is rejected with file:line and the old pipeline goes on', async () => {
    const es = await startElasticsearch();
    cleanups.push(() => es.close());
    const dir = tmp();
    const log = join(dir, 'in.log');
    writeFileSync(log, '');
    const pipeline = (batch: number) => `api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\nsinks:\n${ES_SINK(`    batch: { max_events: ${batch}, timeout_ms: 50 }\n`)}`;
    const p = write(dir, 'p.yaml', pipeline(50));
    const { run } = await runWithApi(['-c', p], { ES_URL: es.url });
    // A writer appends 200 lines every 10 ms from before the first reload until 4,000 lines after the last.
    let written = 0;
    let stopAt = Number.POSITIVE_INFINITY;
    const writer = setInterval(() => {
      if (written >= stopAt) return;
      appendFileSync(log, seqLines(written, 200));
      written += 200;
    }, 10);
    cleanups.push(() => clearInterval(writer));
    await until(() => es.count() >= 2000, 20_000, 'the first 2000 events');
    const atSighup = written;
    writeFileSync(p, pipeline(500));
    run.child.kill('SIGHUP');
    await until(() => logs(run).some((l) => l.msg === 'configuration reloaded'), 20_000, 'the reload');
    const reloaded = logs(run).find((l) => l.msg === 'configuration reloaded') as { kept: string[]; started: string[]; stopped: string[] };
    assert.deepEqual(reloaded.kept, ['in']);
    assert.deepEqual(reloaded.started, ['es']);
    assert.deepEqual(reloaded.stopped, ['es']);
    // A broken file: rejected with its file:line errors; the pipeline goes on.
    writeFileSync(p, `${pipeline(500)}  extra:\n    type: elasticsearch\n    inputs: [nowhere]\n    endpoints: ["http://x"]\n`);
    run.child.kill('SIGHUP');
    await until(() => logs(run).some((l) => typeof l.msg === 'string' && l.msg.startsWith('reload rejected')), 20_000, 'the rejection');
    assert.equal(logs(run).find((l) => typeof l.msg === 'string' && l.msg.startsWith('reload rejected'))?.code, 'TERN_ERR_CONFIG_INPUT', 'the rejection names what was wrong');
    const issue = logs(run).find((l) => l.code === 'TERN_ERR_CONFIG_INPUT') as { msg: string; file: string; line: number };
    assert.equal(issue.file, p);
    assert.equal(issue.line, 14);
    assert.match(issue.msg, new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:14:\\d+: error: extra: input "nowhere" does not exist`));
    stopAt = written + 4000;
    await until(() => written >= stopAt, 30_000, 'the writer');
    clearInterval(writer);
    const TOTAL = written;
    assert.ok(TOTAL > atSighup, 'lines were written while the configuration changed');
    await until(() => esSeqs(es).size === TOTAL, 30_000, `all ${TOTAL} events (have ${esSeqs(es).size})`);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
    const reads = logs(run).filter((l) => l.msg === 'reading file');
    assert.equal(reads.length, 1, 'the source opened its file once: it was not restarted');
    const seqs = esSeqs(es);
    for (let i = 0; i < TOTAL; i++) if (!seqs.has(i)) assert.fail(`event ${i} never arrived`);
    // Deterministic ids make a replay harmless; without a source restart there is none to speak of.
    assert.equal(es.count(), TOTAL);
  });

  it('SIGHUP that changes the only source: tern goes on, the new instance resumes at the checkpoint and reads the added file', async () => {
    const dir = tmp();
    write(dir, 'a.log', seqLines(0, 300));
    write(dir, 'b.log', seqLines(1000, 20));
    const pipeline = (include: string) => `api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: ${include}, decoding: json }\nsinks:\n  out: { type: file, inputs: [in], path: out.ndjson }\n`;
    const p = write(dir, 'p.yaml', pipeline('[a.log]'));
    const { run } = await runWithApi(['-c', p]);
    const out = (): number[] => {
      try {
        return readFileSync(join(dir, 'out.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq);
      } catch {
        return [];
      }
    };
    await until(() => out().length === 300, 10_000, 'a.log delivered');
    writeFileSync(p, pipeline('[a.log, b.log]'));
    run.child.kill('SIGHUP');
    await until(() => logs(run).some((l) => l.msg === 'configuration reloaded'), 10_000, 'the reload');
    const reloaded = logs(run).find((l) => l.msg === 'configuration reloaded') as { started: string[]; stopped: string[] };
    assert.deepEqual([reloaded.started, reloaded.stopped], [['in'], ['in']]);
    appendFileSync(join(dir, 'a.log'), seqLines(300, 50));
    await until(() => out().length >= 370, 10_000, `the new lines of a.log and all of b.log (have ${out().length})`);
    assert.equal(run.child.exitCode, null, `tern is still running:\n${run.stderr()}`);
    assert.ok(!logs(run).some((l) => l.msg === 'inputs finished; draining'), 'the old source stopping was taken for the inputs ending');
    const resumed = logs(run).filter((l) => l.msg === 'reading file' && String(l.path).endsWith('a.log'));
    assert.equal(resumed.length, 2, 'a.log opened by the old and by the new instance');
    assert.equal(resumed[1]?.resumed, true, 'the new instance resumed from the checkpoint');
    const seqs = out();
    assert.deepEqual([...new Set(seqs)].sort((x, y) => x - y), [...Array.from({ length: 350 }, (_, i) => i), ...Array.from({ length: 20 }, (_, i) => 1000 + i)]);
    assert.equal(seqs.length, 370, 'nothing read twice');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
  });

  it('SIGHUP that changes a file source whose checkpoint cannot be read: the reload is refused naming it, and the running instance goes on reading', async () => {
    const dir = tmp();
    const data = join(dir, 'data');
    write(dir, 'a.log', seqLines(0, 100));
    write(dir, 'b.log', seqLines(1000, 20));
    const pipeline = (include: string) =>
      `api: { address: "127.0.0.1:0" }\ndata_dir: ${data}\nsources:\n  in: { type: file, include: ${include}, decoding: json, checkpoint_interval_ms: 100 }\nsinks:\n  out: { type: file, inputs: [in], path: out.ndjson }\n`;
    const p = write(dir, 'p.yaml', pipeline('[a.log]'));
    const { run } = await runWithApi(['-c', p]);
    const out = (): number[] => {
      try {
        return readFileSync(join(dir, 'out.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq);
      } catch {
        return [];
      }
    };
    const checkpoint = join(data, 'checkpoints', 'in.json');
    const size = statSync(join(dir, 'a.log')).size;
    const saved = (): number => {
      try {
        return Object.values((JSON.parse(readFileSync(checkpoint, 'utf8')) as { files: Record<string, { offset: number }> }).files)[0]?.offset ?? -1;
      } catch {
        return -1;
      }
    };
    await until(() => out().length === 100 && saved() === size, 10_000, 'a.log delivered and checkpointed');
    // The checkpoint cannot be read (as with EIO or another user's file; tests run as root, so not EACCES):
    // the new options cannot be built, nor could the previous ones be built again.
    const kept = readFileSync(checkpoint);
    rmSync(checkpoint);
    mkdirSync(checkpoint);
    writeFileSync(p, pipeline('[a.log, b.log]'));
    run.child.kill('SIGHUP');
    await until(() => logs(run).some((l) => String(l.msg).startsWith('reload failed')), 10_000, 'the refusal');
    const refused = logs(run).find((l) => String(l.msg).startsWith('reload failed')) as { msg: string; code: string };
    assert.equal(refused.code, 'TERN_ERR_DATA_DIR');
    assert.ok(refused.msg.includes(`cannot read checkpoint ${checkpoint} (EISDIR)`), refused.msg);
    rmSync(checkpoint, { recursive: true });
    writeFileSync(checkpoint, kept);
    appendFileSync(join(dir, 'a.log'), seqLines(100, 50));
    await until(() => out().length >= 150, 10_000, `the new lines of a.log, read by the instance that kept running (have ${out().length})`);
    assert.deepEqual(out(), Array.from({ length: 150 }, (_, i) => i), 'every line once, b.log not followed (the reload was refused)');
    assert.equal(logs(run).filter((l) => l.msg === 'reading file').length, 1, 'a.log was never closed and opened again');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
  });

  it('an http_server source on a port that is taken: at start-up tern exits 1 saying why; moved there by SIGHUP, it goes back to its previous port and tern goes on', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const busy = (taken.address() as AddressInfo).port;
    const dir = tmp();
    const pipeline = (port: number) => `api: { address: "127.0.0.1:0" }\nsources:\n  falco: { type: http_server, address: "127.0.0.1:${port}" }\nsinks:\n  out: { type: file, inputs: [falco], path: out.ndjson }\n`;
    // At start-up: fail fast, and say so in the exit code.
    const atStart = tern(['run', '--log-format', 'json', '-c', write(dir, 'busy.yaml', pipeline(busy))]);
    assert.equal(await atStart.exit, 1, 'a source that cannot run is not a successful run');
    const last = logs(atStart).at(-1) as { msg: string; code: string };
    assert.equal(last.code, 'TERN_ERR_SOURCE');
    assert.match(last.msg, /^stopped with an error: source falco stopped with an error: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    // After a reload: the running pipeline goes on with the source's previous options.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const p = write(dir, 'p.yaml', pipeline(port));
    const { run } = await runWithApi(['-c', p]);
    await until(() => logs(run).filter((l) => l.msg === 'listening').length === 1, 10_000, 'the http_server to listen');
    const post = async (n: number): Promise<number> => (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"n":${n}}` })).status;
    assert.equal(await post(1), 200);
    writeFileSync(p, pipeline(busy));
    run.child.kill('SIGHUP');
    await until(() => logs(run).filter((l) => l.msg === 'listening').length === 2, 10_000, 'the source back on its port');
    const undone = logs(run).find((l) => typeof l.msg === 'string' && l.msg.startsWith('the source the reload changed failed when it ran')) as { msg: string; code: string };
    assert.match(undone.msg, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy}: .*EADDRINUSE.*; running it with its previous options$`));
    assert.equal(undone.code, 'TERN_ERR_SOURCE');
    assert.equal(await post(2), 200, 'the source takes events on its previous port again');
    assert.equal(run.child.exitCode, null, 'tern goes on');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
    assert.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), '{"n":1}\n{"n":2}\n', 'both events delivered, once');
  });

  it('moved by SIGHUP to a taken port while its previous options cannot be built again (their token file is gone): tern stops with exit 1 naming the file, not running on without the source', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const busy = (taken.address() as AddressInfo).port;
    const dir = tmp();
    const oldToken = write(dir, 'old-token', 's3cret\n');
    write(dir, 'new-token', 's3cret\n');
    const pipeline = (address: string, token: string) =>
      `api: { address: "127.0.0.1:0" }\nsources:\n  falco: { type: http_server, address: "${address}", auth: { strategy: bearer, token_file: ${token} } }\nsinks:\n  out: { type: file, inputs: [falco], path: out.ndjson }\n`;
    const p = write(dir, 'p.yaml', pipeline('127.0.0.1:0', 'old-token'));
    const { run } = await runWithApi(['-c', p]);
    await until(() => logs(run).some((l) => l.msg === 'listening'), 10_000, 'the http_server to listen');
    rmSync(oldToken);
    writeFileSync(p, pipeline(`127.0.0.1:${busy}`, 'new-token'));
    run.child.kill('SIGHUP');
    const code = await Promise.race([run.exit, new Promise<string>((r) => setTimeout(r, 15_000, 'still running'))]);
    assert.equal(code, 1, `tern ends the run instead of going on without its only source:\n${run.stderr()}`);
    const lost = logs(run).find((l) => String(l.msg).startsWith('its previous options cannot be built either; stopping')) as { msg: string; code: string } | undefined;
    assert.ok(lost, run.stderr());
    assert.ok(lost.msg.includes(oldToken), lost.msg);
    assert.equal(lost.code, 'TERN_ERR_SECRET_FILE');
    const last = logs(run).at(-1) as { msg: string };
    assert.ok(last.msg.includes(oldToken), `the run's last line names the file: ${last.msg}`);
  });

  it('SIGHUP that moves api.address to a taken port keeps the API where it was; a free one moves it', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const busy = (taken.address() as AddressInfo).port;
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
    const freePort = (free.address() as AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    const dir = tmp();
    write(dir, 'in.log', seqLines(0, 3));
    const pipeline = (port: number) => `api: { address: "127.0.0.1:${port}" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\nsinks:\n  out: { type: file, inputs: [in], path: out.ndjson }\n`;
    const first = createServer();
    await new Promise<void>((r) => first.listen(0, '127.0.0.1', () => r()));
    const firstPort = (first.address() as AddressInfo).port;
    await new Promise<void>((r) => first.close(() => r()));
    const p = write(dir, 'p.yaml', pipeline(firstPort));
    const { run, url } = await runWithApi(['-c', p]);
    // The API listens before the SIGHUP handler is installed: wait for the run to start.
    await until(() => logs(run).some((l) => l.msg === 'starting'), 10_000, 'the run to start');
        writeFileSync(p, pipeline(busy));
    run.child.kill('SIGHUP');
    await until(() => logs(run).some((l) => typeof l.msg === 'string' && l.msg.startsWith('the API could not move')), 10_000, 'the refusal');
    const refused = logs(run).find((l) => typeof l.msg === 'string' && l.msg.startsWith('the API could not move')) as { msg: string; url: string };
    assert.match(refused.msg, new RegExp(`^the API could not move to 127\\.0\\.0\\.1:${busy} \\(.*EADDRINUSE\\); it stays on 127\\.0\\.0\\.1:${firstPort}$`));
    assert.equal(refused.url, url);
    assert.equal((await fresh(`${url}/readyz`)).status, 200, 'the probes still answer where they did');
    assert.match((await fresh(`${url}/metrics`)).text, /^tern_config_reloads_total\{result="applied"\} 1$/m, 'the rest of the new configuration applies');
    writeFileSync(p, pipeline(freePort));
    run.child.kill('SIGHUP');
    const moved = `http://127.0.0.1:${freePort}`;
    await until(() => logs(run).some((l) => l.msg === 'API listening: /healthz, /readyz, /metrics' && l.url === moved), 10_000, 'the move');
    assert.equal((await fresh(`${moved}/readyz`)).status, 200);
    await assert.rejects(fresh(`${url}/readyz`), /ECONNREFUSED/, 'the old address is closed');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
  });

  it('a rejected reload carries the code of what was wrong: a YAML syntax error, then a schema error and an unknown input together', async () => {
    const dir = tmp();
    write(dir, 'in.log', seqLines(0, 3));
    const good = 'api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\nsinks:\n  out: { type: file, inputs: [in], path: out.ndjson }\n';
    const p = write(dir, 'p.yaml', good);
    const { run, url } = await runWithApi(['-c', p]);
    // The API listens before the SIGHUP handler is installed: wait for the run to start.
    await until(() => logs(run).some((l) => l.msg === 'starting'), 10_000, 'the run to start');
    const rejections = () => logs(run).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('reload rejected'));
    // A YAML syntax error: nothing more can be read, and the line says so with its own code.
    writeFileSync(p, good.replace('path: out.ndjson }', 'path: out.ndjson'));
    run.child.kill('SIGHUP');
    await until(() => rejections().length === 1, 10_000, 'the first rejection');
    assert.deepEqual(pick(rejections()[0], ['code', 'codes', 'errors']), { code: 'TERN_ERR_CONFIG_PARSE', codes: ['TERN_ERR_CONFIG_PARSE'], errors: 1 });
    const parse = logs(run).find((l) => l.code === 'TERN_ERR_CONFIG_PARSE' && typeof l.line === 'number') as { msg: string; file: string };
    assert.equal(parse.file, p);
    assert.match(parse.msg, /tern could not read this file past here/);
    // Two kinds of error in one file: both logged with their lines, both codes on the rejection.
    writeFileSync(p, good.replace('decoding: json }', 'decodng: json }').replace('inputs: [in]', 'inputs: [in, nowhere]'));
    run.child.kill('SIGHUP');
    await until(() => rejections().length === 2, 10_000, 'the second rejection');
    assert.deepEqual(pick(rejections()[1], ['code', 'codes', 'errors']), { code: 'TERN_ERR_CONFIG_SCHEMA', codes: ['TERN_ERR_CONFIG_SCHEMA', 'TERN_ERR_CONFIG_INPUT'], errors: 2 });
    const all = logs(run);
    const issues = all.slice(all.findIndex((l) => typeof l.msg === 'string' && l.msg.startsWith('reload rejected'))).filter((l) => l.file === p && typeof l.line === 'number').map((l) => `${String(l.line)} ${String(l.code)}`);
    assert.deepEqual(issues, ['3 TERN_ERR_CONFIG_SCHEMA', '5 TERN_ERR_CONFIG_INPUT']);
    assert.match((await get(`${url}/metrics`)).text, /^tern_config_reloads_total\{result="rejected"\} 2$/m);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
    assert.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8').split('\n').filter(Boolean).length, 3, 'the running pipeline went on');
  });

  it('--watch-config applies a changed file without a signal', async () => {
    const dir = tmp();
    write(dir, 'in.log', seqLines(0, 5));
    const p = write(dir, 'p.yaml', 'api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\nsinks:\n  out: { type: file, inputs: [in], path: one.ndjson }\n');
    const { run } = await runWithApi(['-c', p, '--watch-config']);
    await until(() => logs(run).some((l) => l.msg === 'ready: every sink passed its healthcheck or buffers on disk'), 10_000, 'ready');
    writeFileSync(p, 'api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\nsinks:\n  out: { type: file, inputs: [in], path: two.ndjson }\n');
    await until(() => logs(run).some((l) => l.msg === 'configuration reloaded'), 10_000, 'the reload');
    appendFileSync(join(dir, 'in.log'), seqLines(5, 3));
    await until(() => {
      try {
        return readFileSync(join(dir, 'two.ndjson'), 'utf8').split('\n').filter(Boolean).length === 3;
      } catch {
        return false;
      }
    }, 10_000, 'the new lines in the new file');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
    assert.equal(logs(run).find((l) => l.msg === 'reloading the configuration')?.reason, 'file changed');
  });
});

describe('tern tap and tern top', () => {
  it('tap streams the events leaving a component, filtered by CEL and limited; top prints every component', async () => {
    const dir = tmp();
    const log = write(dir, 'in.log', '');
    const p = write(dir, 'p.yaml', 'api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\ntransforms:\n  odd: { type: filter, inputs: [in], condition: "int(event.seq) % 2 == 1" }\nsinks:\n  out: { type: file, inputs: [odd], path: out.ndjson }\n');
    const { run, url } = await runWithApi(['-c', p]);
    const t = tern(['tap', 'odd', '--api', url, '--filter', 'event.seq > 10.0', '--limit', '3', '--rate', '1000']);
    cleanups.push(() => void (t.child.exitCode === null && t.child.kill('SIGKILL')));
    await until(() => t.stderr().includes('tapping odd'), 10_000, 'the tap to attach');
    appendFileSync(log, seqLines(0, 40));
    assert.equal(await t.exit, 0, t.stderr());
    assert.deepEqual(t.stdout().trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq), [11, 13, 15]);
    // The rate limit: a burst of 200 events, at most 5 a second (a burst of one second's worth) reach the client.
    const slow = tern(['tap', 'in', '--api', url, '--rate', '5']);
    cleanups.push(() => void (slow.child.exitCode === null && slow.child.kill('SIGKILL')));
    await until(() => slow.stderr().includes('tapping in'), 10_000, 'the second tap to attach');
    appendFileSync(log, seqLines(40, 200));
    // Every event of the burst is either shown or counted as skipped (reported at most once a second).
    const shown = (): number => slow.stdout().trim().split('\n').filter(Boolean).length;
    const skipped = (): number => [...slow.stderr().matchAll(/… (\d+) events skipped \(rate limit or slow reader\)/g)].reduce((a, m) => a + Number(m[1]), 0);
    await until(() => shown() + skipped() === 200, 10_000, 'every event of the burst shown or skipped');
    assert.ok(shown() >= 1 && shown() <= 10, `${shown()} events through a 5/s tap`);
    slow.child.kill('SIGINT');
    assert.equal(await slow.exit, 0, slow.stderr());
    // A filter that cannot be evaluated (`%` on a JSON number, a double) shows nothing, and says so
    // instead of looking like a quiet component.
    const broken = tern(['tap', 'in', '--api', url, '--filter', 'event.seq % 2 == 0']);
    cleanups.push(() => void (broken.child.exitCode === null && broken.child.kill('SIGKILL')));
    await until(() => broken.stderr().includes('tapping in'), 10_000, 'the third tap to attach');
    appendFileSync(log, seqLines(240, 7));
    const notShown = (): number => [...broken.stderr().matchAll(/… (\d+) events not shown: the filter could not be evaluated on them/g)].reduce((a, m) => a + Number(m[1]), 0);
    await until(() => notShown() === 7, 10_000, 'the tap to report the events its filter failed on');
    assert.equal(broken.stdout(), '');
    assert.match(broken.stderr(), /int\(event\.n\)/, 'the message says how to fix the filter');
    broken.child.kill('SIGINT');
    assert.equal(await broken.exit, 0, broken.stderr());
    const bad = tern(['tap', 'nothere', '--api', url]);
    assert.equal(await bad.exit, 1);
    assert.match(bad.stderr(), /no component "nothere"; running: in, odd, out/);
    const top = tern(['top', '--api', url, '--interval', '0.2']);
    assert.equal(await top.exit, 0, top.stderr());
    const screen = top.stdout();
    assert.equal(screen.match(/^COMPONENT /gm)?.length, 1, 'in a pipe: one table, with rates');
    assert.doesNotMatch(screen, /q to quit/, 'in a pipe there is no key to press');
    assert.match(screen, /^COMPONENT +KIND +TYPE +IN\/s +OUT\/s +EVENTS OUT +ERRORS +DROPPED +BUFFER +STATE/m);
    assert.match(screen, /^in +source +file +- +[\d.]+ +247 /m);
    assert.match(screen, /^odd +transform +filter +[\d.]+ +[\d.]+ +123 /m);
    assert.match(screen, /^out +sink +file +[\d.]+ +[\d.]+ +123 +0 +0 +[\d.]+% 0ev +healthy/m);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
  });
});

describe('tern tap and tern top without an API to talk to', () => {
  it('a pipeline with no api block, or an invalid one, is one line on stderr and exit 1, not a stack trace', async () => {
    const dir = tmp();
    const noApi = write(dir, 'p.yaml', 'sources:\n  in: { type: stdin }\nsinks:\n  out: { type: console, inputs: [in] }\n');
    for (const cmd of [['top', '-c', noApi], ['tap', 'in', '-c', noApi]]) {
      const r = tern(cmd);
      assert.equal(await r.exit, 1);
      assert.equal(r.stderr(), `tern ${cmd[0]}: ${noApi} sets no api.address: the API is off in that pipeline (add api: { address: 127.0.0.1:8686 })\n`);
    }
    const broken = write(dir, 'broken.yaml', 'api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: stdinn }\n');
    const r = tern(['tap', 'in', '-c', broken]);
    assert.equal(await r.exit, 1);
    // Every error of the file, each on its line: the pipeline has no sink, and its source's type is unknown.
    assert.deepEqual(r.stderr().split('\n').filter(Boolean).map((l) => l.slice(broken.length).replace(/ \[TERN_ERR_[A-Z_]+\]$/, '')), [
      ':1:1: error: the pipeline defines no sink: add one under sinks: (an empty pipeline would run and deliver nothing)',
      ':3:15: error: in: unknown source type "stdinn" (did you mean "stdin"?); known: file, http_server, stdin',
    ]);
    assert.doesNotMatch(r.stderr(), /\n\s+at /, 'no stack trace');
  });
});
