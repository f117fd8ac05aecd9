// Keeps examples/logscale runnable: its pipeline, run through the CLI (from a copy, so no state
// lands in the repository) against the LogScale emulator with the README's token, stores the 35
// sample events with their tags, timestamps and event ids; a second run sends nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startLogScale } from '@tern/test-kit';
import { TERN_BIN as BIN } from '@tern/test-kit/e2e';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

function run(cwd: string, env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=tern-src', BIN, 'run', '--once', '-c', 'logscale/pipeline.yaml', '--log-level', 'warn'], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

it('examples/logscale: the 35 sample events arrive tagged, with their own timestamps and event ids', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tern-logscale-example-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'logscale'));
  mkdirSync(join(dir, 'quickstart'));
  copyFileSync(join(EXAMPLES, 'logscale/pipeline.yaml'), join(dir, 'logscale/pipeline.yaml'));
  copyFileSync(join(EXAMPLES, 'quickstart/tetragon.log'), join(dir, 'quickstart/tetragon.log'));
  // What `pnpm emulator logscale --port 8080 --token demo-ingest-token:tetragon` starts.
  const emu = await startLogScale({ tokens: { 'demo-ingest-token': { repository: 'tetragon' } } });
  after(() => emu.close());

  assert.equal(await run(dir, { LOGSCALE_URL: emu.url, NODE_NAME: 'kind-worker' }), 0);
  const events = emu.events('tetragon');
  assert.equal(events.length, 35);
  for (const e of events) {
    assert.equal(e['#source'], 'tetragon');
    assert.equal(e['#cluster'], 'demo');
    assert.equal(e['#node'], 'kind-worker');
    assert.equal(e['@timestamp'], Date.parse(String(e.attributes.time)));
    assert.match(String(e.attributes.event_id), /^[A-Za-z0-9_-]{27}$/);
  }
  assert.equal(new Set(events.map((e) => e.attributes.event_id)).size, 35);

  assert.equal(await run(dir, { LOGSCALE_URL: emu.url, NODE_NAME: 'kind-worker' }), 0);
  assert.equal(emu.count(), 35, 'the checkpoint remembers what was delivered');
});
