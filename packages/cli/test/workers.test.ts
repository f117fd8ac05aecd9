/**
 * A transform run in worker threads (`workers: N`) gives the same output as on the main thread, and
 * the pipeline still acknowledges everything before it exits. A worker whose replacement cannot
 * start for a while costs no event: nothing is blamed on a worker that ran nothing. A pool closed
 * with batches it did not finish hands them back: a reload runs them through the new transform
 * (each event once), a stop leaves them unacknowledged and the run says so.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger, loadPipeline, Pipeline } from '@tern/core';
import { builtinRegistry } from '../src/registry.ts';
import { crashTransform } from './crash-transform.ts';
import { flakyStartTransform } from './flaky-start-transform.ts';
import { lines, tern, tmp, until, write } from './helpers.ts';
import { optionsProbeTransform } from './options-probe-transform.ts';

const sample = fileURLToPath(new URL('../../../examples/quickstart/tetragon.log', import.meta.url));

function pipeline(workers: number): string {
  // Path fields (a top-level scalar `{pod}` too) and file offsets must reach the workers as they are on the main thread.
  return `data_dir: ./state-${workers}\nsources:\n  tetragon: { type: file, include: ["./xwing/tetragon.log"], decoding: json_lazy, path_fields: "./{pod}/tetragon.log", add_metadata: ecs }\ntransforms:\n  ecs:\n    type: ecs\n    inputs: [tetragon]\n    profile: tetragon\n    workers: ${workers}\nsinks:\n  out: { type: file, inputs: [ecs], path: ./out-${workers}.ndjson }\n`;
}

describe('transforms in worker threads', () => {
  it('ecs with workers: 2 writes exactly what it writes on the main thread', async () => {
    const dir = tmp();
    // A malformed line too: the worker must tag it like the main thread does.
    write(dir, 'xwing/tetragon.log', readFileSync(sample, 'utf8') + '{"broken": \n');
    for (const w of [0, 2]) {
      const r = tern(['run', '--once', '-c', write(dir, `p${w}.yaml`, pipeline(w)), '--log-format', 'json']);
      assert.equal(await r.exit, 0, r.stderr());
    }
    const main = lines(join(dir, 'out-0.ndjson')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const workers = lines(join(dir, 'out-2.ndjson')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(main.length, 36);
    const key = (d: Record<string, unknown>) => JSON.stringify(d);
    assert.deepEqual(workers.map(key).sort(), main.map(key).sort());
    assert.ok(main.some((d) => Array.isArray(d.tags) && (d.tags as string[]).includes('_ecs_mapping_failure')));
    assert.ok(workers.filter((d) => d.pod === 'xwing').length >= 35, 'the path field reached the workers');
  });

  it('a transform in a worker gets its options frozen, as on the main thread', async () => {
    const dir = tmp();
    write(dir, 'in/0.log', '{"n":1}\n{"n":2}\n');
    for (const w of [0, 1]) {
      const yaml = write(dir, `p${w}.yaml`, `data_dir: ./state-${w}\nsources:\n  in: { type: file, include: ["./in/*.log"] }\ntransforms:\n  probe: { type: options_probe, inputs: [in], workers: ${w} }\nsinks:\n  out: { type: file, inputs: [probe], path: ./out-${w}.ndjson }\n`);
      const cfg = loadPipeline([yaml], builtinRegistry().register(optionsProbeTransform), { env: {} });
      const result = await new Pipeline(cfg, { logger: createLogger({ level: 'silent' }), once: true }).run();
      assert.equal(result.ok, true, result.summary.problems.join('; '));
      const out = lines(join(dir, `out-${w}.ndjson`)).map((l) => JSON.parse(l) as { options_frozen: boolean; label: string });
      assert.deepEqual(out.map((d) => [d.options_frozen, d.label]), [[true, 'probe'], [true, 'probe']], `workers: ${w}`);
    }
  });

  it('refuses workers on a transform that cannot run in a worker', async () => {
    const dir = tmp();
    const r = tern(['validate', '-c', write(dir, 'p.yaml', 'sources:\n  s: { type: stdin }\ntransforms:\n  f: { type: filter, inputs: [s], condition: "true", workers: 2 }\nsinks:\n  o: { type: console, inputs: [f] }\n')]);
    assert.equal(await r.exit, 1);
    assert.match(r.stderr(), /f: unknown option "workers"/);
  });

  it('a crashed worker whose replacements cannot start for a while: they are retried with a backoff, nothing is refused, everything arrives', async () => {
    const dir = tmp();
    write(dir, 'in/0.log', Array.from({ length: 400 }, (_, n) => JSON.stringify({ n })).join('\n') + '\n');
    const broken = join(dir, 'broken');
    const yaml = write(
      dir,
      'p.yaml',
      `data_dir: ./state
sources:
  logs: { type: file, include: ["./in/*.log"] }
transforms:
  t: { type: flaky_start, inputs: [logs], workers: 1, broken: ${broken}, once: ${join(dir, 'once')} }
sinks:
  out: { type: file, inputs: [t], path: ./out.ndjson }
  dlq: { type: file, inputs: [t.dead_letter], path: ./dlq.ndjson }
`,
    );
    const cfg = loadPipeline([yaml], builtinRegistry().register(flakyStartTransform), { env: {} });
    const log: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        log.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const pipeline = new Pipeline(cfg, { logger: createLogger({ level: 'info', format: 'pretty', destination }), once: true });
    const running = pipeline.run();
    const restarts = (): number => pipeline.telemetry.snapshot().t?.worker_restarts ?? 0;
    // The crash, then a replacement that cannot be built; the database stays away for 3 s.
    await until(() => restarts() >= 2, 20_000, 'a replacement that failed to start');
    await new Promise((r) => setTimeout(r, 3000));
    const during = restarts();
    assert.ok(existsSync(broken));
    rmSync(broken);
    const result = await running;
    assert.equal(result.ok, true, result.summary.problems.join('; '));
    assert.deepEqual(lines(join(dir, 'dlq.ndjson')), [], 'no event blamed for a worker that never started');
    const seen = new Set(lines(join(dir, 'out.ndjson')).map((l) => (JSON.parse(l) as { n: number }).n));
    assert.equal(seen.size, 400);
    // Backoff 100 ms doubling: at most 5 more starts in those 3 s, whatever the machine's speed (a spin starts one every few ms of work).
    assert.ok(during <= 8, `a backoff, not a spin: ${during} restarts in 3 s`);
    assert.equal(log.filter((l) => l.includes('transform worker exited; replacing it')).length, 1, 'one crash: the worker that ran the event');
    assert.ok(log.some((l) => l.includes('transform worker failed to start (cannot load')), log.join('\n'));
  });

  it('a replacement whose failed build leaves a handle open is ended and retried like one that exited: everything arrives', async () => {
    const dir = tmp();
    write(dir, 'in/0.log', Array.from({ length: 400 }, (_, n) => JSON.stringify({ n })).join('\n') + '\n');
    const broken = join(dir, 'broken');
    const yaml = write(
      dir,
      'p.yaml',
      `data_dir: ./state
shutdown_timeout_ms: 4000
sources:
  logs: { type: file, include: ["./in/*.log"] }
transforms:
  t: { type: flaky_start, inputs: [logs], workers: 1, broken: ${broken}, once: ${join(dir, 'once')}, hold_open: true }
sinks:
  out: { type: file, inputs: [t], path: ./out.ndjson }
`,
    );
    const cfg = loadPipeline([yaml], builtinRegistry().register(flakyStartTransform), { env: {} });
    const log: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        log.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const pipeline = new Pipeline(cfg, { logger: createLogger({ level: 'info', format: 'pretty', destination }), once: true });
    const running = pipeline.run();
    const restarts = (): number => pipeline.telemetry.snapshot().t?.worker_restarts ?? 0;
    // The crash, then replacements that say `fatal` but would stay alive: each must be ended and counted.
    // (Before the fix the one replacement hung "not started" and the run gave up after shutdown_timeout_ms.)
    const waited = until(() => restarts() >= 3, 10_000, 'replacements that failed to start and were ended').catch((e: unknown) => e);
    const err = await waited;
    rmSync(broken, { force: true });
    const result = await running;
    assert.equal(err, undefined, `${String(err)}\n${log.join('\n')}`);
    assert.equal(result.ok, true, result.summary.problems.join('; '));
    assert.equal(new Set(lines(join(dir, 'out.ndjson')).map((l) => (JSON.parse(l) as { n: number }).n)).size, 400);
    assert.ok(log.some((l) => l.includes('transform worker failed to start (cannot load')), log.join('\n'));
  });

  it('a reload that fixes a transform whose workers cannot start: the batches the old pool held run through the new one, everything arrives, nothing stays in flight', async () => {
    const dir = tmp();
    write(dir, 'in/0.log', Array.from({ length: 400 }, (_, n) => JSON.stringify({ n })).join('\n') + '\n');
    // The first worker crashes on n == 13 and creates db-old: its replacements cannot be built, the
    // batch waits in the pool. The operator's fix is a reload naming a database that is there.
    const yaml = (db: string): string =>
      write(
        dir,
        `${db}.yaml`,
        `data_dir: ./state
shutdown_timeout_ms: 10000
sources:
  logs: { type: file, include: ["./in/*.log"] }
transforms:
  t: { type: flaky_start, inputs: [logs], workers: 1, broken: ${join(dir, db)}, once: ${join(dir, 'once')} }
sinks:
  out: { type: file, inputs: [t], path: ./out.ndjson }
`,
      );
    const load = (db: string) => loadPipeline([yaml(db)], builtinRegistry().register(flakyStartTransform), { env: {} });
    const pipeline = new Pipeline(load('db-old'), { logger: createLogger({ level: 'silent' }) });
    const running = pipeline.run();
    const out = (): number => (existsSync(join(dir, 'out.ndjson')) ? lines(join(dir, 'out.ndjson')).length : 0);
    try {
      await until(() => (pipeline.telemetry.snapshot().t?.worker_restarts ?? 0) >= 2, 20_000, 'a replacement that failed to start');
      assert.equal(pipeline.budget.events, 400, 'the batch waits in the old pool');
      const t0 = Date.now();
      const r = await pipeline.reload(load('db-new'));
      assert.deepEqual(r?.started, ['t']);
      // The old pool is closed before the reload's drain (8 s here): nothing in it could finish.
      assert.ok(Date.now() - t0 < 4000, `the reload waited ${Date.now() - t0} ms for a pool that cannot start`);
      // Before the fix the old pool's close() never settled the batch: 400 events in flight forever, none written.
      await until(() => out() === 400 && pipeline.budget.events === 0, 5000, 'the old pool\'s batch through the new transform');
      // The 400 entered the transform once: running them again through its replacement does not count them again.
      assert.equal(pipeline.telemetry.snapshot().t?.events_in, 400, JSON.stringify(pipeline.telemetry.snapshot().t));
    } finally {
      pipeline.stop('signal');
    }
    const t0 = Date.now();
    const result = await running;
    assert.ok(Date.now() - t0 < 1000, `the final drain waited ${Date.now() - t0} ms for a batch nothing will finish`);
    assert.deepEqual(result.summary.problems, []);
    assert.equal(new Set(lines(join(dir, 'out.ndjson')).map((l) => (JSON.parse(l) as { n: number }).n)).size, 400);
  });

  it('stopped while its batch waits for a worker that cannot start: the batch is not acknowledged, the run says so, a restart delivers it', async () => {
    const dir = tmp();
    write(dir, 'in/0.log', Array.from({ length: 400 }, (_, n) => JSON.stringify({ n })).join('\n') + '\n');
    const broken = join(dir, 'broken');
    const cfg = (): ReturnType<typeof loadPipeline> =>
      loadPipeline(
        [
          write(
            dir,
            'p.yaml',
            `data_dir: ./state
shutdown_timeout_ms: 1000
sources:
  logs: { type: file, include: ["./in/*.log"] }
transforms:
  t: { type: flaky_start, inputs: [logs], workers: 1, broken: ${broken}, once: ${join(dir, 'once')} }
sinks:
  out: { type: file, inputs: [t], path: ./out.ndjson }
`,
          ),
        ],
        builtinRegistry().register(flakyStartTransform),
        { env: {} },
      );
    const first = new Pipeline(cfg(), { logger: createLogger({ level: 'silent' }) });
    const running = first.run();
    await until(() => (first.telemetry.snapshot().t?.worker_restarts ?? 0) >= 2, 20_000, 'a replacement that failed to start');
    first.stop('signal');
    const stopped = await running;
    // The closed pool hands the batch back and nothing replaces it: it must not count as delivered.
    assert.equal(stopped.ok, false);
    assert.ok(stopped.summary.problems.some((p) => p.includes('400 events still on the way')), stopped.summary.problems.join('; '));
    assert.equal(existsSync(join(dir, 'out.ndjson')) ? lines(join(dir, 'out.ndjson')).length : 0, 0);
    rmSync(broken);
    const again = await new Pipeline(cfg(), { logger: createLogger({ level: 'silent' }), once: true }).run();
    assert.equal(again.ok, true, again.summary.problems.join('; '));
    assert.equal(new Set(lines(join(dir, 'out.ndjson')).map((l) => (JSON.parse(l) as { n: number }).n)).size, 400);
  });

  it('a reload while a split batch is half done: only the events the old pool did not finish run again, each event arrives once', async () => {
    const dir = tmp();
    write(dir, 'in/0.log', Array.from({ length: 400 }, (_, n) => JSON.stringify({ n })).join('\n') + '\n');
    const hang = write(dir, 'hang', '');
    // n == 13 crashes every worker, so its batch is split until 13 is alone (dead-lettered); the half
    // holding n == 300 hangs in the old workers while the file `hang` exists. The reload points `hang`
    // elsewhere: the new pool runs what the old one handed back.
    const yaml = (name: string, hangPath: string): string =>
      write(
        dir,
        name,
        `data_dir: ./state
shutdown_timeout_ms: 10000
sources:
  logs: { type: file, include: ["./in/*.log"] }
transforms:
  t: { type: crash_on, inputs: [logs], workers: 1, hang: ${hangPath} }
sinks:
  out: { type: file, inputs: [t], path: ./out.ndjson }
  dlq: { type: file, inputs: [t.dead_letter], path: ./dlq.ndjson }
`,
      );
    const load = (name: string, hangPath: string) => loadPipeline([yaml(name, hangPath)], builtinRegistry().register(crashTransform), { env: {} });
    const pipeline = new Pipeline(load('p.yaml', hang), { logger: createLogger({ level: 'silent' }) });
    const running = pipeline.run();
    const out = (): string[] => (existsSync(join(dir, 'out.ndjson')) ? lines(join(dir, 'out.ndjson')) : []);
    try {
      await until(() => existsSync(`${hang}.hanging`) && existsSync(join(dir, 'dlq.ndjson')) && lines(join(dir, 'dlq.ndjson')).length === 1, 20_000, 'n == 13 isolated and n == 300 hanging');
      await pipeline.reload(load('q.yaml', join(dir, 'no-hang')));
      await until(() => out().length >= 399 && pipeline.budget.events === 0, 5000, 'the handed-back half through the new pool');
    } finally {
      pipeline.stop('signal');
      await running;
      rmSync(hang, { force: true });
    }
    const ns = out().map((l) => (JSON.parse(l) as { n: number }).n);
    // A batch handed back whole would have written the finished part twice.
    assert.equal(ns.length, 399, 'each event once');
    assert.equal(new Set(ns).size, 399);
    assert.ok(!ns.includes(13));
    assert.deepEqual(lines(join(dir, 'dlq.ndjson')).map((l) => (JSON.parse((JSON.parse(l) as { event: { original: string } }).event.original) as { n: number }).n), [13]);
  });
});

