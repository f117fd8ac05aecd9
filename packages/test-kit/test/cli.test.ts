// tern-emulator CLI: URL on stdout, one log line per request on stderr, stats + exit 0 on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

async function startCli(args: string[]) {
  const child = spawn(process.execPath, ['--conditions=tern-src', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8');
  const [first] = (await once(child.stdout, 'data')) as [string];
  return { child, url: first.trim(), stderr: () => stderr };
}

test('elasticsearch: logs requests and prints stats on SIGTERM', async () => {
  const { child, url, stderr } = await startCli(['elasticsearch', '--port', '0', '--store', 'count']);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const body = '{"create":{"_index":"logs-a-default","_id":"1"}}\n{"@timestamp":"2026-01-01T00:00:00Z"}\n'.repeat(3);
  const res = await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
  const lines = stderr().trim().split('\n');
  assert.ok(lines.includes('POST /_bulk 200 3 items'), stderr());
  const stats = JSON.parse(lines.at(-1) ?? '{}');
  assert.equal(stats.emulator, 'elasticsearch');
  assert.equal(stats.docs, 3);
  assert.equal(stats.bulkRequests, 1);
});

test('logscale and webhook --slack start with their flags', async () => {
  const ls = await startCli(['logscale', '--port', '0', '--token', 'T1:falco']);
  const r = await fetch(`${ls.url}/api/v1/ingest/humio-structured`, { method: 'POST', headers: { authorization: 'Bearer T1' }, body: '[{"events":[{"timestamp":1}]}]' });
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  ls.child.kill('SIGINT');
  await once(ls.child, 'exit');
  assert.match(ls.stderr(), /"repositories":\{"falco":1\}/);

  const sl = await startCli(['webhook', '--port', '0', '--slack', '--quiet']);
  const s = await fetch(`${sl.url}/services/A/B/C`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"hi"}' });
  assert.equal(await s.text(), 'ok');
  sl.child.kill('SIGTERM');
  const [code] = (await once(sl.child, 'exit')) as [number];
  assert.equal(code, 0);
  assert.ok(!sl.stderr().includes('POST /services'), 'quiet: no request lines');
});
