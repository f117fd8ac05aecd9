// End to end through the CLI: a 100,000-line Tetragon log, `file → elasticsearch`, `tern run --once`
// against the emulator (full store: ids, data-stream rules, @timestamp checked): every line arrives once.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { startElasticsearch } from '@tern/test-kit';
import { finalCounters, nodeToExit as run, ternArgs, workdir, writeTetragonLog } from '@tern/test-kit/e2e';

const LINES = 100_000;

it(`file → elasticsearch: ${LINES} Tetragon lines arrive exactly once`, { timeout: 180_000 }, async () => {
  const dir = workdir('tern-es-e2e-');
  const log = join(dir, 'tetragon.log');
  await writeTetragonLog(log, LINES);

  const emu = await startElasticsearch({ store: 'full', recordBodies: false });
  after(() => emu.close());
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    `data_dir: ./state
sources:
  tetragon: { type: file, include: ["./tetragon.log"] }
sinks:
  es:
    type: elasticsearch
    inputs: [tetragon]
    endpoints: ["${emu.url}"]
    data_stream: { dataset: cilium_tetragon.log }
`,
  );
  const t0 = Date.now();
  const r = await run(ternArgs(['run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json']), dir);
  const ms = Date.now() - t0;
  assert.equal(r.code, 0, r.stderr);

  const ds = 'logs-cilium_tetragon.log-default';
  assert.deepEqual(emu.targets(), [ds]);
  assert.equal(emu.count(ds), LINES, 'every line stored once');
  const stats = emu.stats();
  assert.equal(stats.conflicts, 0, 'no replays needed');
  assert.equal(stats.itemsByStatus[201], LINES, 'every item created, none refused');

  const c = finalCounters(r.stderr, 'es');
  assert.ok(c, 'final counters logged');
  assert.equal(c.events_delivered, LINES);
  assert.equal(c.events_rejected, 0);
  process.stderr.write(`# e2e: ${LINES} events in ${ms} ms (${Math.round((LINES / ms) * 1000)} events/s incl. emulator), ${c.requests} requests, ${c.bytes_sent} bytes on the wire\n`);
});
