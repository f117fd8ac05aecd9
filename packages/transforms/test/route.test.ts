import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeTransform, UNMATCHED_OUTPUT } from '../src/route.ts';
import { badEv, build, counters, ev, FALCO, run, TETRAGON, throwingEv } from './helpers.ts';

const routes = {
  exec: 'has(event.process_exec)',
  payments: 'has(event.process_exec) && event.process_exec.process.pod.namespace == "payments" || has(event.process_kprobe) && event.process_kprobe.process.pod.namespace == "payments"',
  file_access: 'has(event.process_kprobe) && event.process_kprobe.policy_name.startsWith("file-monitoring")',
};

test('outputs() lists the routes and _unmatched', () => {
  assert.deepEqual(routeTransform.outputs?.({ routes }), ['exec', 'payments', 'file_access', '_unmatched']);
});

test('route sends an event to every route it matches (Vector semantics), and the rest to _unmatched', () => {
  const { t, ctx } = build(routeTransform, { routes });
  const r = run(t, TETRAGON.map(ev));
  const exec = r.outputs.get('exec') ?? [];
  const payments = r.outputs.get('payments') ?? [];
  const files = r.outputs.get('file_access') ?? [];
  const unmatched = r.outputs.get(UNMATCHED_OUTPUT) ?? [];
  assert.equal(exec.length, 13);
  assert.equal(payments.length, 5); // 3 exec + 2 kprobe in payments
  assert.equal(files.length, 3);
  // payments exec events are in both `exec` and `payments`
  assert.equal(exec.filter((e) => payments.includes(e)).length, 3);
  // every event went somewhere; none twice to _unmatched
  const routed = new Set([...exec, ...payments, ...files]);
  assert.equal(routed.size + unmatched.length, TETRAGON.length);
  for (const e of unmatched) assert.ok(!routed.has(e));
  assert.equal(counters(ctx).events_unmatched, unmatched.length);
  assert.equal(r.outputs.has(''), false, 'route emits only named outputs');
});

test('route: an evaluation error means "no match" for that route, counted; malformed and unreadable events go to _unmatched', () => {
  const { t, ctx } = build(routeTransform, { routes: { payments_exec: 'event.process_exec.process.pod.namespace == "payments"' } });
  const r = run(t, [...TETRAGON.slice(0, 4).map(ev), badEv(), throwingEv()]);
  assert.equal(r.outputs.get('payments_exec')?.length, 3);
  assert.equal(r.outputs.get(UNMATCHED_OUTPUT)?.length, 3);
  assert.equal(counters(ctx).condition_errors, 3); // the kprobe line, the malformed and the unreadable one
  assert.equal(counters(ctx).decode_errors, 1);
});

test('route over Falco priorities', () => {
  const { t } = build(routeTransform, { routes: { page: 'event.priority in ["Critical", "Emergency", "Alert"]', ticket: 'event.priority in ["Error", "Warning"]' } });
  const r = run(t, FALCO.map(ev));
  const total = [...r.outputs.values()].reduce((a, l) => a + l.length, 0);
  assert.equal(total, FALCO.length); // exclusive conditions: each event exactly once
  for (const e of r.outputs.get('page') ?? []) assert.ok(['Critical', 'Emergency', 'Alert'].includes(e.data.priority as string));
});

test('validate: names each route, gives the column of a syntax error, rejects reserved and dotted names', () => {
  const msgs = routeTransform.validate?.({ routes: { ok: 'true', broken: 'event.a ==', _unmatched: 'true', 'a.b': 'true' } }) ?? [];
  assert.ok(msgs.includes('routes.broken: Syntax error at column 11: Unexpected token: EOF'), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.startsWith('routes._unmatched: ')));
  assert.ok(msgs.some((m) => m.startsWith('routes.a.b: route names')));
  assert.equal(msgs.length, 3);
  assert.equal(routeTransform.validate?.({ routes }), undefined);
});
