// End to end through the real binary in Slack mode: a 429 with Retry-After is waited out (gaps
// measured on the emulator's arrival times), a 404 `no_service` pauses the sink loudly and keeps
// the events until the webhook answers again, and no secret (bearer token, HMAC key, the Slack
// URL path) appears in the logs, even at --log-level debug.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { startWebhook } from '@tern/test-kit';
import { BIN, finalCounters } from './e2e-helpers.ts';
import { PASSWD_WRITE, SHADOW_READ, TCP_CONNECT } from './fixtures.ts';

const SECRETS = { SLACK_PATH: '/services/T0SEKRIT/B0SEKRIT/xoxPathSekrit42', HOOK_TOKEN: 'tok-Sekrit-123', HMAC_SECRET: 'hmac-Sekrit-456' };

function tern(dir: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=tern-src', BIN, 'run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json', '--log-level', 'debug'], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

function workspace(extra: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tern-slack-e2e-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'alerts.log'), [SHADOW_READ, PASSWD_WRITE, TCP_CONNECT].map((o) => JSON.stringify(o)).join('\n') + '\n');
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    `data_dir: ./state
sources:
  tetragon: { type: file, include: ["./alerts.log"] }
sinks:
  slack:
    type: webhook
    inputs: [tetragon]
    url: "\${EMU}\${SLACK_PATH}"
    format: slack
    auth: { strategy: bearer, token: "\${HOOK_TOKEN}" }
    signature: { secret: "\${HMAC_SECRET}" }
${extra}`,
  );
  return dir;
}

function assertNoSecrets(stderr: string): void {
  assert.match(stderr, /"level":20/, 'debug lines were logged');
  for (const s of [SECRETS.HOOK_TOKEN, SECRETS.HMAC_SECRET, 'T0SEKRIT', 'B0SEKRIT', 'xoxPathSekrit42']) assert.ok(!stderr.includes(s), `stderr leaks ${s}`);
}

describe('file → Slack through the CLI', { timeout: 60_000 }, () => {
  it('429 + Retry-After is waited out; credentials and the webhook path never reach the logs', async () => {
    const emu = await startWebhook({ mode: 'slack', slackRate: { perSecond: 1, burst: 1 } });
    after(() => emu.close());
    const dir = workspace('    request: { concurrency: 1, retry_initial_ms: 50 }\n');
    const r = await tern(dir, { EMU: emu.url, ...SECRETS });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.equal(emu.received.length, 3, 'every alert posted');
    const limited = emu.requests.filter((q) => q.status === 429);
    assert.ok(limited.length >= 2, `${limited.length} requests rate limited`);
    for (const q of limited) {
      assert.equal(q.headers['authorization'], `Bearer ${SECRETS.HOOK_TOKEN}`);
      const next = emu.requests.find((x) => x.at > q.at && x.status === 200);
      assert.ok(next, 'a later request went through');
      assert.ok(next.at - q.at >= 999, `retried ${next.at - q.at} ms after a 429 with Retry-After: 1`);
    }
    for (let i = 1; i < emu.received.length; i++) {
      const gap = (emu.received[i]?.at ?? 0) - (emu.received[i - 1]?.at ?? 0);
      assert.ok(gap >= 999, `messages ${gap} ms apart under a 1/s limit`);
    }
    for (const q of emu.requests.filter((x) => x.status === 200)) {
      assert.equal(q.path, SECRETS.SLACK_PATH);
      assert.equal(q.headers['x-signature-256'], `sha256=${createHmac('sha256', SECRETS.HMAC_SECRET).update(q.body).digest('hex')}`);
    }
    assert.ok(emu.received.some((m) => /Unauthorised access: \/etc\/shadow read by pod default\/debug-shell/.test((m.body as { text: string }).text)));
    const c = finalCounters(r.stderr, 'slack');
    assert.equal(c?.events_delivered, 3);
    assertNoSecrets(r.stderr);
  });

  it('404 no_service pauses loudly with Slack’s reason, drops nothing, and resumes', async () => {
    const emu = await startWebhook({ mode: 'slack' });
    after(() => emu.close());
    emu.fault({ match: { path: SECRETS.SLACK_PATH }, times: 4, action: { status: 404, body: 'no_service' } });
    const dir = workspace('    request: { concurrency: 1, retry_initial_ms: 50, retry_max_ms: 300 }\n');
    const r = await tern(dir, { EMU: emu.url, ...SECRETS });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const lines = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; code?: string });
    const pause = lines.find((l) => l.code === 'TERN_ERR_SINK_UNSUPPORTED');
    assert.ok(pause, 'the pause is logged');
    assert.equal(pause.level, 50, 'as an error');
    assert.match(pause.msg, /sink slack paused: Slack HTTP 404 no_service: the Slack webhook or its channel is gone/);
    assert.ok(lines.some((l) => /sink slack resumed/.test(l.msg)), 'and the resume');
    assert.equal(emu.requests.filter((q) => q.status === 404).length, 4);
    assert.equal(emu.received.length, 3, 'nothing dropped');
    const c = finalCounters(r.stderr, 'slack');
    assert.equal(c?.events_delivered, 3);
    assert.equal(c?.events_rejected ?? 0, 0);
    assertNoSecrets(r.stderr);
  });
});
