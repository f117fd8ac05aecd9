/**
 * A reload that changes a source which cannot be built, or whose previous options cannot be built
 * again, must never leave tern running without it: the refused source keeps reading (the old
 * instance was not stopped for a replacement that cannot exist), and a source that can run with
 * neither its new nor its previous options ends the run with that error (result not ok, exit 1).
 */
import assert from 'node:assert/strict';
import { after, beforeEach, it } from 'node:test';
import { loadPipeline, LogEvent, Pipeline, Registry, TernError, type SourceDefinition } from '../src/index.ts';
import { captureLogger, waitFor } from '../src/testing/helpers.ts';
import { memorySink, received, silent, tmp, writeYaml } from './helpers.ts';

/** `every_ms` values whose build fails, as the file source's would on an unreadable checkpoint. */
const unbuildable = new Set<number>();
const closes: string[] = [];

/** Source `ticker`: `{n}` every `every_ms` until aborted; `crash: true` fails once it runs; `close_ms`: how long closing takes. */
const ticker: SourceDefinition<{ every_ms: number; crash: boolean; close_ms: number }> = {
  kind: 'source',
  type: 'ticker',
  description: 'test source',
  schema: { type: 'object', additionalProperties: false, properties: { every_ms: { type: 'integer', default: 2 }, crash: { type: 'boolean', default: false }, close_ms: { type: 'integer', default: 0 } } },
  build(cfg, ctx) {
    if (unbuildable.has(cfg.every_ms)) throw new TernError('TERN_ERR_DATA_DIR', `cannot read checkpoint ${ctx.dataDir}/checkpoints/${ctx.id}.json (EACCES) (simulated)`);
    ctx.telemetry.gauge('every_ms', () => cfg.every_ms);
    let n = 0;
    return {
      async run() {
        if (cfg.crash) throw new Error('cannot listen (simulated)');
        const origin = { sourceId: ctx.id, path: 'ticker', host: 'test' };
        while (!ctx.signal.aborted) {
          await ctx.emit([new LogEvent(origin, JSON.stringify({ n }), 'json', { n }, n++)]).catch(() => undefined);
          await new Promise((r) => setTimeout(r, cfg.every_ms));
        }
      },
      async close() {
        await new Promise((r) => setTimeout(r, cfg.close_ms));
        closes.push(`${ctx.id}@${cfg.every_ms}`);
      },
    };
  },
};

const registry = (): Registry => new Registry().register(ticker, memorySink);
const config = (dir: string, name: string, yaml: string) => loadPipeline([writeYaml(dir, name, yaml)], registry(), { env: {} });
const count = (id: string): number => received.get(id)?.length ?? 0;

beforeEach(() => {
  unbuildable.clear();
  closes.length = 0;
  received.clear();
});

it('a reload whose changed source cannot be built is refused and the old instance goes on reading', async () => {
  const dir = tmp();
  const a = config(dir, 'p.yaml', 'sources:\n  s: { type: ticker }\nsinks:\n  out: { type: memory, inputs: [s] }\n  gone: { type: memory, inputs: [s] }\n');
  const b = config(dir, 'q.yaml', 'sources:\n  s: { type: ticker, every_ms: 3 }\nsinks:\n  out: { type: memory, inputs: [s] }\n');
  const { logger, records } = captureLogger('info');
  const p = new Pipeline(a, { logger });
  const run = p.run();
  // A failed assertion must not leave the pipeline running (the test would hang instead of failing).
  after(() => p.stop());
  await waitFor(() => count('out') > 10, 5000, 'events before the reload');
  // The same data_dir for both: the previous options cannot be built again either.
  unbuildable.add(3).add(2);
  const r = await p.reload(b);
  unbuildable.clear();
  assert.equal(r, undefined, 'the reload is refused');
  assert.equal(p.reloads.rejected, 1);
  const refusal = records.find((x) => x.msg.startsWith('reload failed'));
  assert.ok(refusal, 'the refusal is logged');
  assert.equal(refusal.code, 'TERN_ERR_DATA_DIR');
  assert.match(refusal.msg, /cannot read checkpoint .*s\.json/);
  const before = count('out');
  await waitFor(() => count('out') >= before + 20, 5000, 'events after the refused reload');
  assert.deepEqual(closes, [], 'the running instance of s was not stopped');
  assert.deepEqual(p.components().map((c) => c.id).sort(), ['gone', 'out', 's'], 'the running pipeline is the one of p.yaml');
  assert.ok(count('gone') > 0);
  p.stop();
  const result = await run;
  assert.equal(result.ok, true, result.summary.problems.join('; '));
  assert.deepEqual(closes, ['s@2']);
});

it('a refused reload leaves the metrics of the running source its own, not those of the replacement it built', async () => {
  const dir = tmp();
  const p = new Pipeline(config(dir, 'p.yaml', 'sources:\n  s: { type: ticker }\nsinks:\n  out: { type: memory, inputs: [s] }\n'), { logger: silent });
  const run = p.run();
  after(() => p.stop());
  await waitFor(() => count('out') > 10, 5000, 'events before the reload');
  const gauge = (): number | undefined => p.telemetry.component('s').gaugeValue('every_ms');
  assert.equal(gauge(), 2);
  // s is built with its new options; t, added, cannot be built: the reload is refused.
  unbuildable.add(7);
  const r = await p.reload(config(dir, 'q.yaml', 'sources:\n  s: { type: ticker, every_ms: 3 }\n  t: { type: ticker, every_ms: 7 }\nsinks:\n  out: { type: memory, inputs: [s, t] }\n'));
  assert.equal(r, undefined);
  assert.deepEqual(closes, ['s@3'], 'the replacement built for s was closed, the running one was not');
  assert.equal(gauge(), 2, 'the gauge reads the instance that runs');
  p.stop();
  assert.equal((await run).ok, true);
});

it('a changed source that fails when it runs goes back to its previous options, and the pipeline takes those as its configuration: asked for again, the failed options are tried again', async () => {
  const dir = tmp();
  const a = config(dir, 'p.yaml', 'sources:\n  s: { type: ticker }\nsinks:\n  out: { type: memory, inputs: [s] }\n');
  const b = config(dir, 'q.yaml', 'sources:\n  s: { type: ticker, every_ms: 3, crash: true }\nsinks:\n  out: { type: memory, inputs: [s] }\n');
  const { logger, records } = captureLogger('info');
  const p = new Pipeline(a, { logger });
  const run = p.run();
  after(() => p.stop());
  const undone = (): number => records.filter((x) => x.msg.startsWith('the source the reload changed failed when it ran')).length;
  await waitFor(() => count('out') > 10, 5000, 'events before the reload');
  assert.deepEqual((await p.reload(b))?.started, ['s']);
  await waitFor(() => undone() === 1, 5000, 'back on its previous options');
  const n = count('out');
  await waitFor(() => count('out') > n + 10, 5000, 'events from the previous options');
  // Before, the pipeline kept the failed options as its configuration: this reload found "nothing changed".
  assert.deepEqual((await p.reload(b))?.started, ['s'], 'the failed options are tried again');
  await waitFor(() => undone() === 2, 5000, 'the second try undone too');
  const m = count('out');
  await waitFor(() => count('out') > m + 10, 5000, 'events from the previous options again');
  const back = await p.reload(a);
  assert.deepEqual(back?.started, [], `the previous options are what runs: going back to them changes nothing (${JSON.stringify(back)})`);
  p.stop();
  assert.equal((await run).ok, true);
});

// The next two: a reload that runs while a failed source goes back to its previous options (found in
// review). s's failing instance takes 200 ms to close; t's old instance 600 ms, which holds the reload.
const RACE_A = 'sources:\n  s: { type: ticker }\n  t: { type: ticker, close_ms: 600 }\nsinks:\n  out: { type: memory, inputs: [s, t] }\n';
const RACE_B = 'sources:\n  s: { type: ticker, every_ms: 3, crash: true, close_ms: 200 }\n  t: { type: ticker, close_ms: 600 }\nsinks:\n  out: { type: memory, inputs: [s, t] }\n';
const failedRuns = (records: Array<{ msg: string }>): number => records.filter((x) => x.msg.startsWith('the source the reload changed failed when it ran')).length;

it('a reload that keeps a source while it goes back to its previous options: the pipeline still takes those as what runs', async () => {
  const dir = tmp();
  const c = config(dir, 'c.yaml', RACE_B.replace('t: { type: ticker, close_ms: 600 }', 't: { type: ticker, every_ms: 5 }'));
  const { logger, records } = captureLogger('info');
  const p = new Pipeline(config(dir, 'a.yaml', RACE_A), { logger });
  const run = p.run();
  after(() => p.stop());
  await waitFor(() => count('out') > 10, 5000, 'events');
  assert.deepEqual((await p.reload(config(dir, 'b.yaml', RACE_B)))?.started, ['s']);
  await waitFor(() => failedRuns(records) === 1, 5000, 's failed');
  assert.deepEqual((await p.reload(c))?.started, ['t'], 'only t changed'); // while s goes back
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual((await p.reload(c))?.started, ['s'], 's runs its previous options: asking for the failed ones again tries them again');
  p.stop();
  assert.equal((await run).ok, true);
});

it('a reload that changes a source again while it goes back to its previous options: if the new options fail too, it goes back to those that ran, and tern goes on', async () => {
  const dir = tmp();
  const d = config(dir, 'd.yaml', 'sources:\n  s: { type: ticker, every_ms: 4, crash: true }\n  t: { type: ticker, every_ms: 5 }\nsinks:\n  out: { type: memory, inputs: [s, t] }\n');
  const { logger, records } = captureLogger('info');
  const p = new Pipeline(config(dir, 'a.yaml', RACE_A), { logger });
  let ended = false;
  const run = p.run().finally(() => (ended = true));
  after(() => p.stop());
  await waitFor(() => count('out') > 10, 5000, 'events');
  await p.reload(config(dir, 'b.yaml', RACE_B));
  await waitFor(() => failedRuns(records) === 1, 5000, 's failed');
  await p.reload(d); // while s goes back
  await waitFor(() => failedRuns(records) === 2, 5000, 'd\'s options failed too');
  const n = count('out');
  await waitFor(() => count('out') > n + 20, 5000, 'events flowing after d failed');
  // Before, d's fallback was b's options (read from the configuration the first restore had not yet
  // corrected): they failed again and the run stopped with TERN_ERR_SOURCE.
  assert.equal(ended, false, 'tern goes on');
  assert.equal(p.components().length, 3);
  p.stop();
  assert.equal((await run).ok, true);
});

it('a changed source that fails when it runs and whose previous options cannot be built either stops the run with that error', async () => {
  const dir = tmp();
  const a = config(dir, 'p.yaml', 'sources:\n  s: { type: ticker }\nsinks:\n  out: { type: memory, inputs: [s] }\n  gone: { type: memory, inputs: [s] }\n');
  const b = config(dir, 'q.yaml', 'sources:\n  s: { type: ticker, every_ms: 3, crash: true }\nsinks:\n  out: { type: memory, inputs: [s] }\n');
  const { logger, records } = captureLogger('info');
  const p = new Pipeline(a, { logger });
  let ended = false;
  const run = p.run().finally(() => (ended = true));
  after(() => p.stop());
  await waitFor(() => count('out') > 10, 5000, 'events before the reload');
  unbuildable.add(2); // the previous options: their checkpoint became unreadable meanwhile
  assert.ok(await p.reload(b), 'the new options build, so the reload applies');
  const result = await Promise.race([run, new Promise<undefined>((r) => setTimeout(r, 5000, undefined))]);
  assert.ok(result, 'the run ended on its own: tern does not stay up reading nothing');
  assert.equal(ended, true);
  assert.equal(result.ok, false);
  assert.equal(result.reason, 'error');
  assert.equal((result.error as TernError | undefined)?.code, 'TERN_ERR_DATA_DIR', String(result.error));
  assert.match(String(result.error?.message), /cannot read checkpoint .*s\.json/);
  const line = records.find((x) => x.msg.startsWith('its previous options cannot be built either'));
  assert.ok(line, 'the loss of the source is logged');
  assert.equal(line.code, 'TERN_ERR_DATA_DIR');
});

it('a source that cannot be built at start-up ends the start with its error and nothing left running', async () => {
  const dir = tmp();
  unbuildable.add(2);
  const p = new Pipeline(config(dir, 'p.yaml', 'sources:\n  s: { type: ticker }\nsinks:\n  out: { type: memory, inputs: [s] }\n'), { logger: silent });
  await assert.rejects(p.run(), (e: TernError) => e.code === 'TERN_ERR_DATA_DIR');
});
