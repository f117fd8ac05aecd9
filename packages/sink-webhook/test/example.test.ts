// Keeps examples/webhook runnable: the pipeline, run through the CLI against the Slack emulator
// (from a copy, so no state lands in the repository), posts the three sensitive-file alerts its
// README shows and writes all 35 events to the file sink.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startWebhook } from '@tern/test-kit';
import { DEFAULT_COLORS } from '../src/index.ts';
import { BIN } from './e2e-helpers.ts';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

it('examples/webhook: sensitive-file alerts to Slack, everything to a file', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tern-webhook-example-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'webhook'));
  mkdirSync(join(dir, 'quickstart'));
  copyFileSync(join(EXAMPLES, 'webhook/pipeline.yaml'), join(dir, 'webhook/pipeline.yaml'));
  copyFileSync(join(EXAMPLES, 'quickstart/tetragon.log'), join(dir, 'quickstart/tetragon.log'));
  const emu = await startWebhook({ mode: 'slack' });
  after(() => emu.close());

  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=tern-src', BIN, 'run', '--once', '-c', 'webhook/pipeline.yaml', '--log-level', 'warn'], {
      cwd: dir,
      env: { ...process.env, SLACK_WEBHOOK_URL: `${emu.url}/services/T0000000/B0000000/emulator` },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  assert.equal(code, 0);
  const messages = emu.received.map((m) => m.body as { blocks: Array<{ text: { text: string } }>; attachments: Array<{ color: string }> });
  assert.deepEqual(
    messages.map((m) => [m.attachments[0]?.color, m.blocks[0]?.text.text]),
    [
      [DEFAULT_COLORS['warning'], '*Tetragon file-monitoring-filtered*\nUnauthorised access: /etc/shadow read by pod default/debug-shell (binary /bin/cat, node kind-worker2)'],
      [DEFAULT_COLORS['warning'], '*Tetragon fd-install*\nUnauthorised access: /etc/shadow opened by pod default/debug-shell (binary /bin/cat, node kind-worker2)'],
      [DEFAULT_COLORS['critical'], '*Tetragon block-etc-writes*\nUnauthorised access: /etc/passwd written by pod default/debug-shell (binary /bin/sh, node kind-worker2) — action: sigkill'],
    ],
  );
  const lines = readFileSync(join(dir, 'webhook/out/events.ndjson'), 'utf8').split('\n').filter(Boolean);
  assert.equal(lines.length, 35);
});
