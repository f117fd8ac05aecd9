// End to end through the CLI: a 100,000-line Tetragon log, `file → elasticsearch`, `tern run --once`
// against the emulator (full store: ids, data-stream rules, @timestamp checked): every line arrives once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startElasticsearch } from '@tern/test-kit';

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));
const GEN = '/work/shared/bench/gen-tetragon.mjs';
const LINES = 100_000;

function run(args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

it(`file → elasticsearch: ${LINES} Tetragon lines arrive exactly once`, { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tern-es-e2e-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'tetragon.log');
  const gen = await run([GEN, String(LINES), log], dir);
  assert.equal(gen.code, 0, gen.stderr);

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
  const r = await run(['--conditions=tern-src', BIN, 'run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json'], dir);
  const ms = Date.now() - t0;
  assert.equal(r.code, 0, r.stderr);

  const ds = 'logs-cilium_tetragon.log-default';
  assert.deepEqual(emu.targets(), [ds]);
  assert.equal(emu.count(ds), LINES, 'every line stored once');
  const stats = emu.stats();
  assert.equal(stats.conflicts, 0, 'no replays needed');
  assert.equal(stats.itemsByStatus[201], LINES, 'every item created, none refused');

  const last = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg?: string; counters?: Record<string, Record<string, number>> }).findLast((l) => l.counters !== undefined);
  const c = last?.counters?.es;
  assert.ok(c, 'final counters logged');
  assert.equal(c.events_delivered, LINES);
  assert.equal(c.events_rejected, 0);
  process.stderr.write(`# e2e: ${LINES} events in ${ms} ms (${Math.round((LINES / ms) * 1000)} events/s incl. emulator), ${c.requests} requests, ${c.bytes_sent} bytes on the wire\n`);
});
