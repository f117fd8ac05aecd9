// Keeps examples/parseable runnable: its pipeline, run through the CLI (from a copy, so no state
// lands in the repository) against the Parseable emulator (admin/admin, arrays exploded), creates
// the stream and stores the 35 sample events as 35 rows with the cluster column; a second run sends
// nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startParseable } from '@tern/test-kit';
import { TERN_BIN as BIN } from '@tern/test-kit/e2e';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

function run(cwd: string, env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=tern-src', BIN, 'run', '--once', '-c', 'parseable/pipeline.yaml', '--log-level', 'warn'], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

it('examples/parseable: the 35 sample events arrive as 35 rows in the stream tetragon', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tern-parseable-example-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'parseable'));
  mkdirSync(join(dir, 'quickstart'));
  copyFileSync(join(EXAMPLES, 'parseable/pipeline.yaml'), join(dir, 'parseable/pipeline.yaml'));
  copyFileSync(join(EXAMPLES, 'quickstart/tetragon.log'), join(dir, 'quickstart/tetragon.log'));
  // What `pnpm emulator parseable --port 8000` starts.
  const emu = await startParseable();
  after(() => emu.close());

  assert.equal(await run(dir, { PARSEABLE_URL: emu.url }), 0);
  assert.deepEqual(emu.streams(), ['tetragon']);
  assert.ok(emu.requests.some((r) => r.method === 'PUT' && r.path === '/api/v1/logstream/tetragon' && r.status === 200), 'create_stream');
  const rows = emu.rows('tetragon');
  assert.equal(rows.length, 35, 'one row per event, kprobe args included');
  assert.ok(rows.every((r) => r.cluster === 'demo'));
  const kprobe = rows.find((r) => r.process_kprobe_args !== undefined);
  assert.equal(typeof kprobe?.process_kprobe_args, 'string');

  assert.equal(await run(dir, { PARSEABLE_URL: emu.url }), 0);
  assert.equal(emu.rows('tetragon').length, 35, 'the checkpoint remembers what was delivered');
});
