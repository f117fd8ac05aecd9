/**
 * The fault suite: tern run as a user runs it (the CLI, a pipeline file, Tetragon-like input with a
 * unique `seq` per line) against emulated servers that fail in every way the reliability issue
 * names. Each row counts what was sent, what arrived (distinct), duplicates stored, what went to a
 * dead-letter output, and what was lost. Lost must be 0 in every row; the table is printed at the end.
 *
 * `TERN_FAULT_OUTAGE_MS` sets the mid-stream outage (default 60 s, as the issue asks).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadPipeline, Pipeline, createLogger } from '@tern/core';
import { startElasticsearch, startWebhook, type ElasticsearchEmulator } from '@tern/test-kit';
import { builtinRegistry } from '../src/registry.ts';
import { crashTransform } from './crash-transform.ts';
import { BIN, finalCounters, lines, logs, tern, tetragonLines, tmp, until, write, type Run } from './helpers.ts';

interface Row {
  fault: string;
  sent: number;
  delivered: number;
  duplicates: number;
  dead_lettered: number;
  lost: number;
  note?: string;
}

const rows: Row[] = [];
const OUTAGE_MS = Number(process.env.TERN_FAULT_OUTAGE_MS ?? 60_000);

after(() => {
  const cols = ['fault', 'sent', 'delivered', 'duplicates', 'dead_lettered', 'lost'] as const;
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(width[i] as number)).join(' | ')} |`;
  const out = [line([...cols]), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map((r) => line(cols.map((c) => String(r[c]))))];
  process.stdout.write(`\nfault suite (lost must be 0 in every row):\n${out.join('\n')}\n`);
});

/** Records a row after checking it: lost = sent − distinct arrived − distinct dead-lettered, and must be 0. */
function record(row: Omit<Row, 'lost'>, arrived: Set<number>, deadLettered: Set<number> = new Set()): void {
  let lost = 0;
  for (let i = 0; i < row.sent; i++) if (!arrived.has(i) && !deadLettered.has(i)) lost++;
  rows.push({ ...row, lost });
  assert.equal(lost, 0, `${row.fault}: ${lost} events lost`);
}

/** Distinct seqs and duplicates in what an emulator stored (across several emulator lifetimes). */
function esSeqs(...emus: ElasticsearchEmulator[]): { seqs: Set<number>; stored: number } {
  const seqs = new Set<number>();
  let stored = 0;
  for (const es of emus) {
    for (const t of es.targets()) {
      for (const d of es.docs(t)) {
        stored++;
        const s = (d._source as { seq?: number }).seq;
        if (typeof s === 'number') seqs.add(s);
      }
    }
  }
  return { seqs, stored };
}

function fileSeqs(path: string): { seqs: Set<number>; stored: number; torn: number } {
  const seqs = new Set<number>();
  let stored = 0;
  let torn = 0;
  for (const l of lines(path)) {
    try {
      const s = (JSON.parse(l) as { seq?: number }).seq;
      stored++;
      if (typeof s === 'number') seqs.add(s);
    } catch {
      torn++;
    }
  }
  return { seqs, stored, torn };
}

/** Seqs of the refused events in a dead-letter file. */
function deadLetterSeqs(path: string): Set<number> {
  const out = new Set<number>();
  for (const l of lines(path)) {
    const d = JSON.parse(l) as { event: { original: string } };
    try {
      const s = (JSON.parse(d.event.original) as { seq?: number }).seq;
      if (typeof s === 'number') out.add(s);
    } catch {
      // an original that is not JSON (the nested line is, but keep the count honest)
    }
  }
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as { port: number };
      s.close(() => resolve(a.port));
    });
  });
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c().catch(() => undefined);
});

async function es(opts: Parameters<typeof startElasticsearch>[0] = {}): Promise<ElasticsearchEmulator> {
  const e = await startElasticsearch(opts);
  closers.push(() => e.close());
  return e;
}

/** Pipeline: Tetragon-like lines → Elasticsearch (index `faults`, content-hash ids), refusals → dlq.ndjson. */
function esPipeline(extra: { sink?: string; top?: string } = {}): string {
  return `data_dir: ./state
shutdown_timeout_ms: \${TIMEOUT:-8000}
${extra.top ?? ''}
sources:
  logs:
    type: file
    include: ["./in/*.log"]
    decoding: json_lazy
    checkpoint_interval_ms: 100
sinks:
  es:
    type: elasticsearch
    inputs: [logs]
    endpoints: ["\${ES_URL}"]
    mode: index
    index: faults
    id: content_hash
    compression: none
    batch: { max_events: 200, timeout_ms: 50 }
    request: { retry_initial_ms: 50, retry_max_ms: 500, timeout_ms: 1500 }
${extra.sink ?? ''}
  dlq:
    type: file
    inputs: [es.dead_letter]
    path: ./dlq.ndjson
`;
}

/** Lines with a unique seq; every `badEvery`-th line carries `bad: "x"` (a field the emulator can refuse). */
function input(dir: string, n: number, from = 0, badEvery = 0): void {
  let s = tetragonLines(n, from);
  if (badEvery > 0) s = s.split('\n').map((l, i) => (l && (from + i) % badEvery === 0 ? l.replace('{"process_exec"', '{"bad":"x","process_exec"') : l)).join('\n');
  write(dir, `in/${from}.log`, s);
}

async function once(dir: string, env: Record<string, string>): Promise<{ code: number | null; run: Run }> {
  const run = tern(['run', '--once', '-c', join(dir, 'p.yaml'), '--log-format', 'json'], { env });
  return { code: await run.exit, run };
}

/** CPU seconds a process used so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Runs tern under a file-size limit (RLIMIT_FSIZE, `ulimit -f` in 512-byte blocks on dash, 1024 on bash). */
function ternLimited(blocks: number, args: string[], env: Record<string, string>): Run {
  const child = spawn('bash', ['-c', `ulimit -f ${blocks}; exec "$0" "$@"`, process.execPath, '--conditions=tern-src', BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  const out: Buffer[] = [];
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exit, stdout: () => Buffer.concat(out).toString(), stderr: () => Buffer.concat(err).toString() };
}

function checkpointOffset(dir: string): number {
  const p = join(dir, 'state/checkpoints/logs.json');
  if (!existsSync(p)) return 0;
  const cp = JSON.parse(readFileSync(p, 'utf8')) as { files: Record<string, { offset: number }> };
  return Object.values(cp.files).reduce((a, f) => a + f.offset, 0);
}

/**
 * A small file system that can fill up: a tmpfs of `sizeKiB` mounted over `target` in a mount
 * namespace of its own (`unshare --mount`), held open by a `sleep` (the mount lives as long as it
 * does, across tern's restarts). tern runs inside it through `wrap` (nsenter); the test reaches the
 * mounted files through `/proc/<holder>/root`. Needs root (CAP_SYS_ADMIN).
 */
async function smallFs(target: string, sizeKiB: number): Promise<{ wrap: string[]; path: (p: string) => string }> {
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=${sizeKiB}k tern-full "$0" && echo mounted && exec sleep 900`, target], { stdio: ['ignore', 'pipe', 'pipe'] });
  closers.push(async () => {
    holder.kill('SIGKILL');
  });
  let out = '';
  holder.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  await until(() => out.includes('mounted') || holder.exitCode !== null, 10_000, 'the tmpfs mounted');
  assert.ok(out.includes('mounted'), 'unshare --mount and mount -t tmpfs (root needed)');
  const ns = `--mount=/proc/${holder.pid}/ns/mnt`;
  return {
    wrap: ['nsenter', ns, '--'],
    path: (p) => `/proc/${holder.pid}/root${p}`,
  };
}

/** Writes zeros to `path` until the file system holding it is full (ENOSPC). */
function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (;;) writeSync(fd, Buffer.alloc(4096));
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}

describe('fault suite', { timeout: 600_000 }, () => {
  // ---------------------------------------------------------------- destination faults, one run each

  const statusRows: Array<{ fault: string; setup: (e: ElasticsearchEmulator) => void; check?: (e: ElasticsearchEmulator) => void }> = [
    { fault: '429 with Retry-After', setup: (e) => e.fault({ match: { path: /_bulk/ }, times: 2, action: { status: 429, headers: { 'retry-after': '1' } } }) },
    { fault: '429 without Retry-After', setup: (e) => e.fault({ match: { path: /_bulk/ }, times: 4, action: { status: 429 } }) },
    { fault: '5xx (503, 502, 500)', setup: (e) => e.fault({ match: { path: /_bulk/ }, times: 2, action: { status: 503 } }, { match: { path: /_bulk/ }, times: 2, action: { status: 502 } }, { match: { path: /_bulk/ }, times: 2, action: { status: 500 } }) },
    { fault: 'timeout past request.timeout_ms', setup: (e) => e.fault({ match: { path: /_bulk/ }, times: 2, action: { delayMs: 2500 } }) },
    { fault: 'connection reset mid-body', setup: (e) => e.fault({ match: { path: /_bulk/ }, times: 3, action: { reset: 'mid_body' } }) },
    { fault: 'connection reset after commit', setup: (e) => e.fault({ match: { path: /_bulk/ }, times: 2, action: { reset: 'after' } }) },
    { fault: 'partial bulk failures (item 429)', setup: (e) => e.itemFault({ positions: [0, 7, 50, 199], status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' }, times: 5 }) },
  ];
  for (const row of statusRows) {
    it(`${row.fault}: everything arrives once`, async () => {
      const e = await es();
      row.setup(e);
      const dir = tmp();
      input(dir, 2000);
      write(dir, 'p.yaml', esPipeline());
      const { code, run } = await once(dir, { ES_URL: e.url });
      assert.equal(code, 0, run.stderr().slice(-3000));
      const { seqs, stored } = esSeqs(e);
      record({ fault: row.fault, sent: 2000, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
      assert.equal(stored, 2000, 'deterministic ids: a replay stores nothing twice');
    });
  }

  it('413: the request is split and retried until it fits', async () => {
    const e = await es({ maxBodyBytes: 60_000 });
    const dir = tmp();
    input(dir, 2000);
    write(dir, 'p.yaml', esPipeline().replace('batch: { max_events: 200, timeout_ms: 50 }', 'batch: { max_events: 1000, max_bytes: 1000000, timeout_ms: 50 }'));
    const { code, run } = await once(dir, { ES_URL: e.url });
    assert.equal(code, 0, run.stderr().slice(-3000));
    const { seqs, stored } = esSeqs(e);
    assert.ok(e.requests.some((r) => r.status === 413), 'the emulator answered 413');
    record({ fault: '413 (split and retry)', sent: 2000, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
  });

  it('permanent 400s: refused events are dead-lettered with the reason; the others arrive; exit 0', async () => {
    const e = await es();
    e.mappingConflict({ field: 'bad', type: 'long' });
    const dir = tmp();
    input(dir, 2000, 0, 10);
    write(dir, 'p.yaml', esPipeline());
    const { code, run } = await once(dir, { ES_URL: e.url });
    assert.equal(code, 0, run.stderr().slice(-3000));
    const { seqs, stored } = esSeqs(e);
    const dl = deadLetterSeqs(join(dir, 'dlq.ndjson'));
    assert.equal(dl.size, 200);
    const first = JSON.parse(lines(join(dir, 'dlq.ndjson'))[0] as string) as { tern: { dead_letter: { component: string; status: number } }; error: { message: string } };
    assert.equal(first.tern.dead_letter.component, 'es');
    assert.equal(first.tern.dead_letter.status, 400);
    assert.match(first.error.message, /mapper_parsing_exception|document_parsing_exception/);
    record({ fault: 'permanent 400s (dead-lettered)', sent: 2000, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: dl.size }, seqs, dl);
  });

  it('permanent 400s with no dead-letter output: the run fails and says how many were refused', async () => {
    const e = await es();
    e.mappingConflict({ field: 'bad', type: 'long' });
    const dir = tmp();
    input(dir, 500, 0, 10);
    write(dir, 'p.yaml', esPipeline().replace(/  dlq:[\s\S]*$/, ''));
    const { code, run } = await once(dir, { ES_URL: e.url });
    assert.equal(code, 1);
    assert.match(run.stderr(), /sink es: 50 events refused for good with no dead-letter output/);
    assert.doesNotMatch(run.stderr(), /stopped; everything read was delivered/);
  });

  // ---------------------------------------------------------------- outages

  it('the sink down at start: events wait; everything arrives when it comes up', async () => {
    const port = await freePort();
    const dir = tmp();
    input(dir, 2000);
    write(dir, 'p.yaml', esPipeline());
    const run = tern(['run', '--once', '-c', join(dir, 'p.yaml')], { env: { ES_URL: `http://127.0.0.1:${port}`, TIMEOUT: '30000' } });
    await new Promise((r) => setTimeout(r, 2500));
    const e = await es({ port });
    assert.equal(await run.exit, 0, run.stderr().slice(-3000));
    const { seqs, stored } = esSeqs(e);
    record({ fault: 'sink down at start', sent: 2000, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
  });

  it(`the sink down mid-stream for ${Math.round(OUTAGE_MS / 1000)} s: nothing lost`, { timeout: OUTAGE_MS + 120_000 }, async () => {
    const first = await es();
    const port = Number(new URL(first.url).port);
    const dir = tmp();
    input(dir, 1000);
    write(dir, 'p.yaml', esPipeline());
    const run = tern(['run', '-c', join(dir, 'p.yaml')], { env: { ES_URL: first.url } });
    await until(() => first.count() === 1000, 20_000, 'first 1000');
    await first.close();
    input(dir, 2000, 1000);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const second = await es({ port });
    await until(() => esSeqs(first, second).seqs.size === 3000, 60_000, 'all 3000 after the outage');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr().slice(-3000));
    const { seqs, stored } = esSeqs(first, second);
    record({ fault: `sink down mid-stream (${Math.round(OUTAGE_MS / 1000)} s)`, sent: 3000, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
  });

  it('one dead sink beside a healthy one: the healthy one keeps its rate; the dead one keeps its events on disk', async () => {
    const N = 20_000;
    const healthyOnly = await es({ store: 'count' });
    const dirA = tmp();
    input(dirA, N);
    write(dirA, 'p.yaml', esPipeline().replace('mode: index', 'mode: index\n    healthcheck: false').replace(/  dlq:[\s\S]*$/, ''));
    let t = Date.now();
    const alone = await once(dirA, { ES_URL: healthyOnly.url });
    const aloneMs = Date.now() - t;
    assert.equal(alone.code, 0);

    const healthy = await es();
    const deadPort = await freePort();
    const dirB = tmp();
    input(dirB, N);
    const dead = `  dead:
    type: elasticsearch
    inputs: [logs]
    endpoints: ["http://127.0.0.1:${deadPort}"]
    mode: index
    index: faults
    compression: none
    buffer: { type: disk }
    request: { retry_initial_ms: 50, retry_max_ms: 500 }
`;
    write(dirB, 'p.yaml', esPipeline({ sink: dead }).replace('mode: index\n    index: faults\n    id', 'mode: index\n    healthcheck: false\n    index: faults\n    id'));
    t = Date.now();
    const withDead = tern(['run', '--once', '-c', join(dirB, 'p.yaml'), '--log-format', 'json'], { env: { ES_URL: healthy.url, TIMEOUT: '3000' } });
    await until(() => healthy.count() === N, 60_000, 'healthy sink got everything');
    const withDeadMs = Date.now() - t;
    assert.equal(await withDead.exit, 1, 'the dead sink still holds events: not a success');
    assert.match(withDead.stderr(), new RegExp(`sink dead: ${N} events still in its disk buffer`));
    assert.ok(withDeadMs < aloneMs * 2 + 1500, `healthy sink rate held: ${N} in ${withDeadMs} ms beside a dead sink, ${aloneMs} ms alone`);
    // The dead endpoint comes back: the buffered events go out.
    const revived = await es({ port: deadPort });
    const again = await once(dirB, { ES_URL: healthy.url });
    assert.equal(again.code, 0, again.run.stderr().slice(-3000));
    const { seqs, stored } = esSeqs(revived);
    record({ fault: `dead sink beside a healthy one (healthy ${Math.round((N / withDeadMs) * 1000)}/s vs ${Math.round((N / aloneMs) * 1000)}/s alone)`, sent: N, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
    assert.equal(esSeqs(healthy).stored, N, 'the healthy sink got nothing twice');
  });

  it('SIGKILL during an outage with a disk buffer, then restart: everything arrives', async () => {
    const port = await freePort();
    const dir = tmp();
    input(dir, 3000);
    write(dir, 'p.yaml', esPipeline({ sink: '' }).replace('    compression: none\n', '    compression: none\n    buffer: { type: disk }\n'));
    const size = statSync(join(dir, 'in/0.log')).size;
    const run = tern(['run', '-c', join(dir, 'p.yaml')], { env: { ES_URL: `http://127.0.0.1:${port}` } });
    await until(() => checkpointOffset(dir) === size, 20_000, 'the source checkpoint past every line (durably buffered)');
    run.child.kill('SIGKILL');
    await run.exit;
    const e = await es({ port });
    const { code, run: r2 } = await once(dir, { ES_URL: e.url });
    assert.equal(code, 0, r2.stderr().slice(-3000));
    assert.match(r2.stderr(), /disk buffer holds events from before the restart/);
    const { seqs, stored } = esSeqs(e);
    record({ fault: 'SIGKILL during an outage, disk buffer, restart', sent: 3000, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
  });

  it('a disk buffer with a torn (corrupted) tail: reported with its byte range, skipped; nothing lost', async () => {
    const port = await freePort();
    const dir = tmp();
    input(dir, 1000);
    write(dir, 'p.yaml', esPipeline({ sink: '' }).replace('    compression: none\n', '    compression: none\n    buffer: { type: disk }\n'));
    const size = statSync(join(dir, 'in/0.log')).size;
    const run = tern(['run', '-c', join(dir, 'p.yaml')], { env: { ES_URL: `http://127.0.0.1:${port}` } });
    await until(() => checkpointOffset(dir) === size, 20_000, 'durably buffered');
    run.child.kill('SIGKILL');
    await run.exit;
    // A write cut short: the start of a record and half its payload after the last whole record.
    const segDir = join(dir, 'state/buffers/es');
    const last = readdirSync(segDir).filter((n) => n.endsWith('.seg')).sort().filter((n) => statSync(join(segDir, n)).size > 0).pop() as string;
    appendFileSync(join(segDir, last), Buffer.concat([Buffer.from('TERN'), Buffer.alloc(12, 0x7f), Buffer.from('{"p":"faults","o":[["logs"')]));
    const e = await es({ port });
    const { code, run: r2 } = await once(dir, { ES_URL: e.url });
    assert.equal(code, 0, r2.stderr().slice(-3000));
    const report = logs(r2).find((l) => l.code === 'TERN_ERR_BUFFER');
    assert.ok(report, 'the torn tail is reported');
    assert.match(String(report.msg), /torn tail .* at bytes \d+-\d+/);
    const { seqs, stored } = esSeqs(e);
    record({ fault: 'disk buffer with a torn tail', sent: 1000, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
  });

  it('SIGTERM against a dead endpoint exits within shutdown_timeout_ms; the events are read again after restart', async () => {
    const port = await freePort();
    const dir = tmp();
    input(dir, 1000);
    write(
      dir,
      'p.yaml',
      `data_dir: ./state
shutdown_timeout_ms: 2000
in_flight: { max_events: 100 }
sources:
  logs: { type: file, include: ["./in/*.log"], checkpoint_interval_ms: 100 }
sinks:
  hook:
    type: webhook
    inputs: [logs]
    url: "\${HOOK_URL}"
    buffer: { max_events: 200 }
`,
    );
    const run = tern(['run', '-c', join(dir, 'p.yaml'), '--log-format', 'json'], { env: { HOOK_URL: `http://127.0.0.1:${port}/hook` } });
    // Events read and a send refused (a fixed wait raced a start-up slowed by a busy machine: nothing
    // read yet at SIGTERM, and exit 0 was then the truth).
    await until(() => run.stderr().includes('request failed; retrying'), 20_000, 'a refused send');
    const t = Date.now();
    run.child.kill('SIGTERM');
    const code = await run.exit;
    const took = Date.now() - t;
    // The deadline is when the process is gone (the parent sees the exit a little later on a busy
    // machine), and the pipeline met it on its own, not the CLI's backstop.
    assert.ok(took < 2000 + 300, `exited ${took} ms after SIGTERM (deadline 2000 ms)`);
    assert.doesNotMatch(run.stderr(), /shutdown did not finish within shutdown_timeout_ms/, 'the pipeline stopped by itself, not cut off by the backstop');
    assert.equal(code, 1, 'not everything was delivered: not a success');
    assert.ok(checkpointOffset(dir) < statSync(join(dir, 'in/0.log')).size, 'the checkpoint did not move past undelivered events');
    const hook = await startWebhook({ port });
    closers.push(() => hook.close());
    const again = tern(['run', '--once', '-c', join(dir, 'p.yaml')], { env: { HOOK_URL: `${hook.url}/hook` } });
    assert.equal(await again.exit, 0, again.stderr().slice(-3000));
    const seqs = new Set(hook.received.map((m) => (m.body as { seq: number }).seq));
    record({ fault: `SIGTERM, dead endpoint (exit in ${took} ms)`, sent: 1000, delivered: seqs.size, duplicates: hook.received.length - seqs.size, dead_lettered: 0 }, seqs);
  });

  // ---------------------------------------------------------------- bad input, crashes

  it('a 5,000-level nested line among good ones, through a rewriting transform, into file and network sinks', async () => {
    const e = await es();
    const dir = tmp();
    const good = tetragonLines(500).split('\n').filter(Boolean);
    const nested = `{"seq":250,"deep":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    good.splice(250, 1, nested);
    write(dir, 'in/0.log', good.join('\n') + '\n');
    write(
      dir,
      'p.yaml',
      `data_dir: ./state
sources:
  logs: { type: file, include: ["./in/*.log"], decoding: json_lazy }
transforms:
  ts: { type: timestamp, inputs: [logs] }
sinks:
  out: { type: file, inputs: [ts], path: ./out.ndjson }
  es:
    type: elasticsearch
    inputs: [ts]
    endpoints: ["\${ES_URL}"]
    mode: index
    index: faults
  dlq: { type: file, inputs: [out.dead_letter, es.dead_letter], path: ./dlq.ndjson }
`,
    );
    const { code, run } = await once(dir, { ES_URL: e.url });
    assert.equal(code, 0, run.stderr().slice(-3000));
    const file = fileSeqs(join(dir, 'out.ndjson'));
    const net = esSeqs(e);
    const dl = lines(join(dir, 'dlq.ndjson')).map((l) => JSON.parse(l) as { event: { original: string }; tern: { dead_letter: { component: string } } });
    assert.deepEqual(dl.map((d) => d.tern.dead_letter.component).sort(), ['es', 'out']);
    assert.ok(dl.every((d) => d.event.original === nested), 'the dead letter carries the original line');
    const dead = new Set([250]);
    record({ fault: '5,000-level nested line → file sink', sent: 500, delivered: file.seqs.size, duplicates: file.stored - file.seqs.size, dead_lettered: 1 }, file.seqs, dead);
    record({ fault: '5,000-level nested line → elasticsearch', sent: 500, delivered: net.seqs.size, duplicates: net.stored - net.seqs.size, dead_lettered: 1 }, net.seqs, dead);
  });

  it('a transform worker that crashes: replaced, its batches run again, the poisoned event dead-lettered', async () => {
    const dir = tmp();
    write(dir, 'in/0.log', Array.from({ length: 400 }, (_, n) => JSON.stringify({ n, seq: n })).join('\n') + '\n');
    const yaml = write(
      dir,
      'p.yaml',
      `data_dir: ./state
sources:
  logs: { type: file, include: ["./in/*.log"] }
transforms:
  t: { type: crash_on, inputs: [logs], workers: 2 }
sinks:
  out: { type: file, inputs: [t], path: ./out.ndjson }
  dlq: { type: file, inputs: [t.dead_letter], path: ./dlq.ndjson }
`,
    );
    const cfg = loadPipeline([yaml], builtinRegistry().register(crashTransform), { env: {} });
    const result = await new Pipeline(cfg, { logger: createLogger({ level: 'silent' }), once: true }).run();
    assert.equal(result.ok, true, result.summary.problems.join('; '));
    assert.ok((result.telemetry.t?.worker_restarts ?? 0) >= 2);
    const out = fileSeqs(join(dir, 'out.ndjson'));
    const dl = deadLetterSeqs(join(dir, 'dlq.ndjson'));
    assert.deepEqual([...dl], [13]);
    record({ fault: `worker crash (${result.telemetry.t?.worker_restarts} restarts)`, sent: 400, delivered: out.seqs.size, duplicates: out.stored - out.seqs.size, dead_lettered: dl.size }, out.seqs, dl);
  });

  // ---------------------------------------------------------------- local write errors, state errors

  it('ENOSPC on the file sink: reported, retried with backoff, no spin; exits within the deadline; nothing lost', async () => {
    const dir = tmp();
    input(dir, 1000);
    const yaml = (path: string) => `data_dir: ./state
shutdown_timeout_ms: 2000
sources:
  logs: { type: file, include: ["./in/*.log"], checkpoint_interval_ms: 100 }
sinks:
  out: { type: file, inputs: [logs], path: ${path} }
`;
    write(dir, 'p.yaml', yaml('/dev/full'));
    const run = tern(['run', '-c', join(dir, 'p.yaml'), '--log-format', 'json'], {});
    await until(() => run.stderr().includes('ENOSPC'), 10_000, 'the write error reported');
    const pid = run.child.pid as number;
    const c0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 2000));
    const cpu = (cpuSeconds(pid) - c0) / 2;
    assert.ok(cpu < 0.25, `no spin: ${(cpu * 100).toFixed(0)}% of a core while the disk is full`);
    const t = Date.now();
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 1);
    assert.ok(Date.now() - t < 2000 + 300, 'the process gone by the deadline (2000 ms; +300 for the parent to see it)');
    assert.ok(logs(run).some((l) => l.code === 'TERN_ERR_WRITE' && /cannot write to \/dev\/full \(ENOSPC\)/.test(String(l.msg))));
    assert.equal(checkpointOffset(dir), 0, 'nothing acknowledged');
    write(dir, 'p.yaml', yaml('./out.ndjson'));
    const { code } = await once(dir, {});
    assert.equal(code, 0);
    const out = fileSeqs(join(dir, 'out.ndjson'));
    record({ fault: `ENOSPC on the file sink (${(cpu * 100).toFixed(0)}% CPU)`, sent: 1000, delivered: out.seqs.size, duplicates: out.stored - out.seqs.size, dead_lettered: 0 }, out.seqs);
  });

  it('EFBIG on the file sink: no torn line, no spin, exits within the deadline; nothing lost', async () => {
    const dir = tmp();
    input(dir, 2000);
    write(dir, 'p.yaml', `data_dir: ./state
shutdown_timeout_ms: 2000
sources:
  logs: { type: file, include: ["./in/*.log"], checkpoint_interval_ms: 100 }
sinks:
  out: { type: file, inputs: [logs], path: ./out.ndjson, batch: { max_events: 100 } }
`);
    const run = ternLimited(200, ['run', '-c', join(dir, 'p.yaml'), '--log-format', 'json'], {});
    await until(() => run.stderr().includes('EFBIG'), 10_000, 'the file size limit reported');
    const c0 = cpuSeconds(run.child.pid as number);
    await new Promise((r) => setTimeout(r, 1500));
    const cpu = (cpuSeconds(run.child.pid as number) - c0) / 1.5;
    assert.ok(cpu < 0.25, `no spin: ${(cpu * 100).toFixed(0)}%`);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 1);
    const partial = fileSeqs(join(dir, 'out.ndjson'));
    assert.equal(partial.torn, 0, 'the failed write was cut back to the last whole line');
    assert.ok(partial.seqs.size > 0 && partial.seqs.size < 2000);
    const { code } = await once(dir, {});
    assert.equal(code, 0);
    const out = fileSeqs(join(dir, 'out.ndjson'));
    assert.equal(out.torn, 0);
    // Duplicates are possible (at-least-once): a source batch is acknowledged as a whole, so the lines
    // of a partly written batch are written again after the restart. None is torn, none is lost.
    record({ fault: 'EFBIG on the file sink', sent: 2000, delivered: out.seqs.size, duplicates: out.stored - out.seqs.size, dead_lettered: 0 }, out.seqs);
  });

  it('EFBIG on the disk buffer: no spin, exits within the deadline, no torn record; everything arrives later', async () => {
    const port = await freePort();
    const dir = tmp();
    input(dir, 2000);
    write(dir, 'p.yaml', esPipeline({ sink: '' }).replace('    compression: none\n', '    compression: none\n    buffer: { type: disk }\n').replace('TIMEOUT:-8000', 'TIMEOUT:-2000'));
    const run = ternLimited(150, ['run', '-c', join(dir, 'p.yaml'), '--log-format', 'json'], { ES_URL: `http://127.0.0.1:${port}` });
    await until(() => run.stderr().includes('EFBIG'), 15_000, 'the disk buffer write error reported');
    const c0 = cpuSeconds(run.child.pid as number);
    await new Promise((r) => setTimeout(r, 1500));
    const cpu = (cpuSeconds(run.child.pid as number) - c0) / 1.5;
    assert.ok(cpu < 0.25, `no spin: ${(cpu * 100).toFixed(0)}%`);
    const t = Date.now();
    run.child.kill('SIGTERM');
    await run.exit;
    assert.ok(Date.now() - t < 2000 + 300, 'the process gone by the deadline (2000 ms; +300 for the parent to see it)');
    const e = await es({ port });
    const { code, run: r2 } = await once(dir, { ES_URL: e.url });
    assert.equal(code, 0, r2.stderr().slice(-3000));
    assert.ok(!logs(r2).some((l) => l.code === 'TERN_ERR_BUFFER'), 'no torn or corrupt record found on restart');
    const { seqs, stored } = esSeqs(e);
    record({ fault: 'EFBIG on the disk buffer', sent: 2000, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
  });

  it('ENOSPC on the disk buffer: no spin, no torn record, SIGTERM exits within the deadline; a restart while still full says so, drains the buffer through the space it frees, and loses nothing', { skip: process.getuid?.() === 0 ? false : 'needs root: a tmpfs in a mount namespace' }, async () => {
    const N = 10_000;
    const port = await freePort();
    const dir = tmp();
    input(dir, N);
    const bufDir = join(dir, 'state/buffers/es');
    mkdirSync(bufDir, { recursive: true });
    // 1 MiB for the disk buffer, half of it taken by another file: the buffer fills it long before the
    // ~2.2 MB of input is read.
    const fs = await smallFs(bufDir, 1024);
    writeFileSync(fs.path(join(bufDir, 'filler')), Buffer.alloc(512 << 10));
    write(dir, 'p.yaml', esPipeline({ sink: '', top: 'api: { address: "127.0.0.1:0" }' }).replace('    compression: none\n', '    compression: none\n    buffer: { type: disk }\n').replace('TIMEOUT:-8000', 'TIMEOUT:-2000'));
    const env = { ES_URL: `http://127.0.0.1:${port}` };
    const size = statSync(join(dir, 'in/0.log')).size;

    // The sink is down: the buffer grows until the file system is full.
    const run = tern(['run', '-c', join(dir, 'p.yaml'), '--log-format', 'json'], { env, wrap: fs.wrap });
    await until(() => run.stderr().includes('ENOSPC'), 20_000, 'the disk buffer write error reported', () => run.stderr().slice(-2000));
    const api = logs(run).find((l) => l.msg === 'API listening: /healthz, /readyz, /metrics')?.url as string;
    /** Events the buffer wrote whole (the counter moves only after a write succeeded). */
    const written = async (): Promise<number> => {
      const text = await (await fetch(`${api}/metrics`)).text();
      return Number(/^tern_buffer_events_written_total\{component="es"[^}]*\} (\d+)$/m.exec(text)?.[1]);
    };
    const pid = run.child.pid as number;
    const w0 = await written();
    const c0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 2000));
    const cpu = (cpuSeconds(pid) - c0) / 2;
    assert.ok(cpu < 0.25, `no spin: ${(cpu * 100).toFixed(0)}% of a core while the buffer's disk is full`);
    assert.equal(await written(), w0, 'nothing written while full');
    const report = logs(run).find((l) => l.code === 'TERN_ERR_BUFFER');
    assert.ok(report && /disk buffer: cannot write .*\(ENOSPC\)/.test(String(report.msg)), `reported as ENOSPC: ${JSON.stringify(report)}`);
    assert.ok(checkpointOffset(dir) < size, 'the source waits: its checkpoint stopped short of the end');

    // Space freed while tern runs (512 KiB, less than the 4 MiB staged): the buffer takes what fits.
    rmSync(fs.path(join(bufDir, 'filler')));
    let w = w0;
    for (const t0 = Date.now(); w < w0 + 1000; await new Promise((r) => setTimeout(r, 100))) {
      assert.ok(Date.now() - t0 < 30_000, `the buffer resumed in the freed space: written ${w0} when full, ${w} 30 s after space was freed`);
      w = await written();
    }
    // ... until full again (the written count stops moving); then whatever space is left is taken.
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await written();
      if (now === w) break;
      w = now;
    }
    fillUp(fs.path(join(bufDir, 'filler2')));

    // SIGTERM while full: within shutdown_timeout_ms (2000), not a success.
    const t = Date.now();
    run.child.kill('SIGTERM');
    const code = await run.exit;
    const took = Date.now() - t;
    assert.ok(took < 2000 + 300, `exited ${took} ms after SIGTERM (deadline 2000 ms)`);
    assert.equal(code, 1, 'events left undelivered: not a success');
    assert.ok(checkpointOffset(dir) < size, 'the checkpoint did not move past events that are not in the buffer');

    // A restart while the disk is still full says so and starts anyway: a refusal would keep the disk
    // full for good (pods in CrashLoopBackOff), as only sending what the buffer holds frees it. The
    // sink is back: the buffer replays what it holds, deleting what was sent, and the rest of the
    // input goes through the space that frees. No operator, no bigger volume.
    assert.ok(statfsSync(fs.path(bufDir)).bavail === 0, 'still full at the restart');
    const e = await es({ port });
    const again = tern(['run', '--once', '-c', join(dir, 'p.yaml'), '--log-format', 'json'], { env, wrap: fs.wrap });
    assert.equal(await again.exit, 0, again.stderr().slice(-3000));
    const fullAtStart = logs(again).find((l) => l.code === 'TERN_ERR_DATA_DIR');
    assert.match(String(fullAtStart?.msg), /disk buffer directory .* is full \(ENOSPC\).*starting anyway/, 'the full disk is said at start');
    assert.match(again.stderr(), /disk buffer holds events from before the restart/);
    // (Writes that meet the full disk are TERN_ERR_BUFFER too, and retried: a damaged record names its bytes.)
    const damaged = logs(again).filter((l) => l.code === 'TERN_ERR_BUFFER' && / at bytes \d+-\d+/.test(String(l.msg)));
    assert.deepEqual(damaged, [], 'no torn or corrupt record found on restart');
    const { seqs, stored } = esSeqs(e);
    // Buffered events past the source's checkpoint (a 512 KiB read is acknowledged as a whole) are read
    // again and sent twice; the content-hash _id makes the second copy overwrite the first.
    const resent = (finalCounters(again, 'es')?.events_delivered ?? 0) - N;
    record({ fault: `ENOSPC on the disk buffer (${(cpu * 100).toFixed(0)}% CPU, exit in ${took} ms, ${resent} resent)`, sent: N, delivered: seqs.size, duplicates: stored - seqs.size, dead_lettered: 0 }, seqs);
  });

  it('an unwritable or full data_dir: exit 1 at start naming the path and errno; nothing read, nothing sent', async () => {
    const e = await es();
    const dir = tmp();
    input(dir, 100);
    write(dir, 'afile', 'x');
    write(dir, 'p.yaml', esPipeline().replace('data_dir: ./state', 'data_dir: ./afile/state'));
    const notDir = await once(dir, { ES_URL: e.url });
    assert.equal(notDir.code, 1);
    assert.match(notDir.run.stderr(), /TERN_ERR_DATA_DIR/);
    assert.match(notDir.run.stderr(), /afile\/state cannot be created \((ENOTDIR|EEXIST)\)/);
    write(dir, 'p.yaml', esPipeline());
    const full = ternLimited(0, ['run', '--once', '-c', join(dir, 'p.yaml'), '--log-format', 'json'], { ES_URL: e.url });
    assert.equal(await full.exit, 1);
    assert.match(full.stderr(), /data_dir .*state is not writable \(EFBIG\)/);
    assert.equal(e.count(), 0, 'no silent replay: nothing was sent');
    rows.push({ fault: 'unwritable / full data_dir (exit 1 at start)', sent: 0, delivered: 0, duplicates: 0, dead_lettered: 0, lost: 0 });
  });
});
