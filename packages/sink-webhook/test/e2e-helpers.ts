// Helpers of the end-to-end tests: run the real binary (`tern run --once`, sources from
// TypeScript) on a pipeline, generate Tetragon logs, and check what reaches the generic emulator
// request by request, dropping bodies as they arrive so the emulator's memory stays flat.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startWebhook, type WebhookEmulator } from '@tern/test-kit';
import { finalCounters, nodeToExit as run, ternArgs, writeTetragonLog } from '@tern/test-kit/e2e';

export { TERN_BIN as BIN, finalCounters } from '@tern/test-kit/e2e';

export const LINES = 100_000;
export const SMALL = 1_000;

/** Checks every request's framing as it arrives, collects event times, then forgets the bodies. */
export function consumer(mode: 'array' | 'ndjson' | 'single'): { times: Set<string>; events: () => number; requests: () => number; errors: string[]; attach: (e: WebhookEmulator) => void; onRequest: () => void } {
  const times = new Set<string>();
  const errors: string[] = [];
  let emu: WebhookEmulator | undefined;
  let events = 0;
  let requests = 0;
  const want = mode === 'ndjson' ? 'application/x-ndjson' : 'application/json';
  return {
    times,
    errors,
    events: () => events,
    requests: () => requests,
    attach: (e) => (emu = e),
    onRequest: () => {
      if (emu === undefined) return;
      // Requests still being answered (status 0) stay for the next round.
      const pending = emu.requests.filter((r) => r.status === 0);
      const done = emu.requests.filter((r) => r.status !== 0);
      emu.requests.length = 0;
      emu.requests.push(...pending);
      for (const r of done) {
        if (r.status !== 200) continue;
        requests++;
        const raw = r.body.toString('utf8');
        if (r.headers['content-type'] !== want) errors.push(`content-type ${r.headers['content-type']}`);
        if (mode === 'array' && !(raw.startsWith('[{') && raw.endsWith('}]'))) errors.push(`not a JSON array: ${raw.slice(0, 40)}`);
        if (mode === 'ndjson' && (!raw.endsWith('}\n') || raw.startsWith('['))) errors.push(`not NDJSON: ${raw.slice(0, 40)}`);
        if (mode === 'single' && !(raw.startsWith('{') && raw.endsWith('}') && !raw.includes('\n'))) errors.push(`not one object: ${raw.slice(0, 40)}`);
      }
      for (const m of emu.received.splice(0)) {
        const list = mode === 'single' ? [m.body] : (m.body as unknown[]);
        if (!Array.isArray(list)) {
          errors.push('body is not a list of events');
          continue;
        }
        for (const ev of list) {
          const t = (ev as { time?: unknown }).time;
          if (typeof t === 'string') times.add(t);
          events++;
        }
      }
    },
  };
}

/**
 * A temporary directory with a generated Tetragon log of `lines` lines (and the first `small` of
 * them in small.log); `remove` deletes it (register it with `after` at the top level of the file).
 */
export async function workspace(lines: number, small = 0): Promise<{ dir: string; big: string; small: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'tern-webhook-e2e-'));
  const big = join(dir, 'tetragon.log');
  await writeTetragonLog(big, lines);
  const smallPath = join(dir, 'small.log');
  if (small > 0) writeFileSync(smallPath, readFileSync(big, 'utf8').split('\n').slice(0, small).join('\n') + '\n');
  return { dir, big, small: smallPath, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function scenario(dir: string, mode: 'array' | 'ndjson' | 'single', input: string, lines: number): Promise<void> {
  const c = consumer(mode);
  const emu = await startWebhook({ onRequest: c.onRequest });
  c.attach(emu);
  after(() => emu.close());
  const pipeline = join(dir, `pipeline-${mode}.yaml`);
  writeFileSync(
    pipeline,
    `data_dir: ./state-${mode}
sources:
  tetragon: { type: file, include: ["${input}"] }
sinks:
  hook:
    type: webhook
    inputs: [tetragon]
    url: "${emu.url}/ingest?mode=${mode}"
    body: ${mode}
`,
  );
  const t0 = Date.now();
  const r = await run(ternArgs(['run', '--once', '-c', pipeline, '--log-format', 'json']), dir);
  const ms = Date.now() - t0;
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  c.onRequest(); // whatever arrived after the last hook
  assert.deepEqual(c.errors.slice(0, 5), []);
  assert.equal(c.events(), lines, 'every line arrived once');
  assert.equal(c.times.size, lines, 'all distinct lines');
  const k = finalCounters(r.stderr, 'hook');
  assert.ok(k, 'final counters logged');
  assert.equal(k.events_delivered, lines);
  assert.equal(k.events_rejected ?? 0, 0);
  assert.equal(k.requests, c.requests());
  if (mode === 'single') assert.equal(c.requests(), lines, 'one request per event');
  else assert.ok(c.requests() >= lines / 500, `${c.requests()} requests`);
  process.stderr.write(`# e2e webhook ${mode}: ${lines} events in ${ms} ms, ${c.requests()} requests, ${k.bytes_sent} bytes\n`);
}
