// Alert hygiene with a manual clock: one message per key per interval, suppressed repeats counted
// (events_suppressed) and acknowledged, the next message for the key carrying "(N similar alerts
// suppressed)", keys independent, and the key map bounded (least recently seen forgotten first).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ManualClock, testContext, trackedBatch, waitFor } from '@tern/core/testing';
import { startWebhook } from '@tern/test-kit';
import { RateLimiter, SUPPRESSED_FIELD } from '../src/index.ts';
import { createSink, events, FALCO, SHADOW_READ } from './fixtures.ts';

const MIN10 = 600_000;

describe('RateLimiter', () => {
  it('one per key per interval; the next one after it carries the suppressed count', () => {
    let t = 1_000;
    const rl = new RateLimiter({ key_fields: ['rule', '_.pod'], interval_ms: MIN10, max_keys: 100 }, () => t);
    assert.deepEqual(rl.check(FALCO), { send: true, suppressed: 0 });
    for (let i = 0; i < 5; i++) {
      t += 1000;
      assert.deepEqual(rl.check(FALCO), { send: false });
    }
    // Another pod is another key.
    const other = { ...FALCO, output_fields: { ...FALCO.output_fields, 'k8s.pod.name': 'web-2' } };
    assert.deepEqual(rl.check(other), { send: true, suppressed: 0 });
    t = 1_000 + MIN10 - 1;
    assert.deepEqual(rl.check(FALCO), { send: false });
    t = 1_000 + MIN10;
    assert.deepEqual(rl.check(FALCO), { send: true, suppressed: 6 });
    // A new window: the count starts again.
    t += 1;
    assert.deepEqual(rl.check(FALCO), { send: false });
    t += MIN10;
    assert.deepEqual(rl.check(FALCO), { send: true, suppressed: 1 });
  });

  it('keys are bounded: the least recently seen is forgotten first', () => {
    let t = 0;
    const rl = new RateLimiter({ key_fields: ['k'], interval_ms: MIN10, max_keys: 3 }, () => t);
    for (const k of ['a', 'b', 'c']) rl.check({ k });
    t = 10;
    assert.deepEqual(rl.check({ k: 'a' }), { send: false }); // touches a: b is now the oldest
    rl.check({ k: 'd' }); // evicts b
    assert.equal(rl.size, 3);
    assert.equal(rl.evicted, 1);
    assert.deepEqual(rl.check({ k: 'a' }), { send: false }, 'a was kept');
    assert.deepEqual(rl.check({ k: 'b' }), { send: true, suppressed: 0 }, 'b was forgotten, so it sends at once');
  });

  it('missing key fields form one key of their own', () => {
    const rl = new RateLimiter({ key_fields: ['rule'], interval_ms: MIN10, max_keys: 10 }, () => 0);
    assert.equal(rl.key({}), rl.key({ other: 1 }));
    assert.notEqual(rl.key({ rule: 'a|b' }), rl.key({ rule: 'a' }));
  });
});

describe('rate-limited sink (manual clock, Slack emulator)', () => {
  it('suppressed events are acked and counted; the next Slack message says how many', async () => {
    const emu = await startWebhook({ mode: 'slack' });
    after(() => emu.close());
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 6));
    const ctx = testContext('slack_alerts', 'webhook');
    const sink = createSink(
      { url: `${emu.url}/services/T0/B0/secret`, format: 'slack', rate_limit: { key_fields: ['_.policy', '_.pod', '_.file'], interval_ms: MIN10 } },
      ctx,
      { clock },
    );
    sink.start();
    // A burst: 5 identical /etc/shadow reads and one Falco alert, in one batch.
    const first = trackedBatch(events([SHADOW_READ, SHADOW_READ, FALCO, SHADOW_READ, SHADOW_READ, SHADOW_READ]));
    sink.accept(first);
    await waitFor(() => first.status() !== undefined, 5000, 'first batch acked');
    assert.equal(first.status(), 'delivered');
    assert.equal(emu.received.length, 2, 'one message per key');
    assert.equal(ctx.telemetry.snapshot().events_suppressed, 4);

    // Still inside the window: suppressed, acked at once without a request.
    await clock.advance(MIN10 - 1);
    const second = trackedBatch(events([SHADOW_READ]));
    sink.accept(second);
    assert.equal(second.status(), 'delivered');
    assert.equal(emu.requests.length, 2);

    // Window over: the next one goes out and reports the 5 it stood for.
    await clock.advance(1);
    const third = trackedBatch(events([SHADOW_READ]));
    sink.accept(third);
    await waitFor(() => third.status() !== undefined, 5000, 'third batch acked');
    assert.equal(emu.received.length, 3);
    const msg = emu.received[2]?.body as { text: string; blocks: Array<{ text: { text: string } }> };
    assert.match(msg.text, /^Tetragon file-monitoring-filtered: Unauthorised access: \/etc\/shadow read by pod default\/debug-shell/);
    assert.match(msg.blocks[0]?.text.text ?? '', /\(5 similar alerts suppressed\)$/);
    const c = ctx.telemetry.snapshot();
    assert.equal(c.events_suppressed, 5);
    assert.equal(c.events_delivered, 3);
    assert.equal(c.events_rejected ?? 0, 0);
    await sink.stop(AbortSignal.timeout(2000));
  });

  it('json format: the count travels as a field of the event', async () => {
    const emu = await startWebhook();
    after(() => emu.close());
    const clock = new ManualClock();
    const ctx = testContext('hook', 'webhook');
    const sink = createSink({ url: `${emu.url}/falco`, rate_limit: { key_fields: ['rule'], interval_ms: 1000 } }, ctx, { clock });
    const a = trackedBatch(events([FALCO, FALCO, FALCO]));
    sink.accept(a);
    await waitFor(() => a.status() !== undefined, 5000, 'first ack');
    await clock.advance(1000);
    const b = trackedBatch(events([FALCO]));
    sink.accept(b);
    await waitFor(() => a.status() !== undefined && b.status() !== undefined, 5000, 'acks');
    await waitFor(() => emu.received.length === 2, 5000, 'two messages');
    assert.equal((emu.received[0]?.body as Record<string, unknown>)[SUPPRESSED_FIELD], undefined);
    assert.equal((emu.received[1]?.body as Record<string, unknown>)[SUPPRESSED_FIELD], 2);
    assert.equal((emu.received[1]?.body as Record<string, unknown>)['rule'], FALCO.rule);
    await sink.stop(AbortSignal.timeout(2000));
  });
});
