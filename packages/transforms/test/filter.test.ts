import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTernError } from '@tern/core';
import { filterTransform } from '../src/filter.ts';
import { compileCondition, conditionError, ConditionCompileError } from '../src/cel.ts';
import { badEv, build, counters, ev, FALCO, run, TETRAGON, tetragon, throwingEv } from './helpers.ts';

const all = () => TETRAGON.map(ev);
const binaries = (evs: { data: Record<string, unknown> }[]) =>
  evs.map((e) => {
    const k = Object.keys(e.data)[0] as string;
    return ((e.data[k] as { process: { binary: string } }).process.binary);
  });

test('filter keeps events whose condition is true and counts the dropped ones', () => {
  const { t, ctx } = build(filterTransform, { condition: 'has(event.process_exec) && event.process_exec.process.binary == "/usr/bin/curl"' });
  const r = run(t, all());
  assert.equal(r.out.length, 1);
  assert.deepEqual(binaries(r.out), ['/usr/bin/curl']);
  assert.equal(counters(ctx).events_dropped, TETRAGON.length - 1);
  assert.equal(counters(ctx).condition_errors ?? 0, 0);
});

test('filter: macros, in, startsWith, matches, exists, numbers compare across int/double', () => {
  const cases: [string, number][] = [
    ['has(event.process_exec) && event.process_exec.process.pod.namespace in ["payments", "ci"]', 7],
    ['has(event.process_kprobe) && event.process_kprobe.policy_name.startsWith("monitor-network")', 5],
    ['has(event.process_exec) && event.process_exec.process.binary.matches("^/usr/bin/(curl|git|make)$")', 3],
    ['has(event.process_kprobe) && event.process_kprobe.args.exists(a, has(a.file_arg) && a.file_arg.path == "/etc/shadow")', 2],
    ['has(event.process_exec) && event.process_exec.process.pid > 300000', 3],
    ['has(event.process_exec) && event.process_exec.process.uid == 0', 5],
    ['has(event.process_exec.process.pod) == false && has(event.process_exec)', 3],
    ['event.node_name.contains("kind")', 8],
  ];
  for (const [cond, want] of cases) {
    const { t } = build(filterTransform, { condition: cond });
    assert.equal(run(t, all()).out.length, want, cond);
  }
});

test('filter: has() guards; an unguarded missing field is false and counted as a condition error', () => {
  const { t, ctx } = build(filterTransform, { condition: 'event.process_exec.process.pod.namespace == "payments"' });
  const r = run(t, all());
  assert.equal(r.out.length, 3); // the payments exec events
  // 13 exec events, 3 of them host processes: the 22 kprobe/exit events have no process_exec and
  // the host ones no pod — each is an evaluation error (counted), not a crash
  assert.equal(counters(ctx).condition_errors, TETRAGON.length - 13 + 3);
  assert.equal(counters(ctx).events_dropped, TETRAGON.length - 3);
});

test('filter: optional chaining states what a missing field means', () => {
  const { t, ctx } = build(filterTransform, { condition: 'event.?process_exec.?process.?pod.?namespace.orValue("") == ""' });
  const r = run(t, all());
  // everything that is not an exec event in a pod (13 exec events, 10 in pods)
  assert.equal(r.out.length, TETRAGON.length - 10);
  assert.equal(counters(ctx).condition_errors ?? 0, 0);
});

test('filter works on Falco alerts', () => {
  const { t } = build(filterTransform, { condition: 'event.priority in ["Critical", "Error", "Warning"] && "container" in event.tags' });
  const r = run(t, FALCO.map(ev));
  assert.ok(r.out.length > 0 && r.out.length < FALCO.length);
  for (const e of r.out) assert.ok(['Critical', 'Error', 'Warning'].includes(e.data.priority as string));
});

test('a malformed line is judged like any event, by its tag; an unreadable event likewise, and counted', () => {
  const tagged = build(filterTransform, { condition: 'has(event.tags) && "_json_parse_failure" in event.tags' });
  const r1 = run(tagged.t, [ev(tetragon(1)), badEv(), ev(tetragon(2))]);
  assert.equal(r1.out.length, 1);
  assert.equal(r1.out[0]?.data.message, '{"process_exec": {"process": ');
  const execs = build(filterTransform, { condition: 'has(event.process_exec)' });
  assert.equal(run(execs.t, [badEv(), ev(tetragon(1))]).out.length, 1);
  const { t, ctx } = build(filterTransform, { condition: 'has(event.tags) && "_json_parse_failure" in event.tags' });
  const r = run(t, [ev(tetragon(1)), throwingEv(), ev(tetragon(2))]);
  assert.equal(r.out.length, 1);
  assert.equal(counters(ctx).decode_errors, 1);
  assert.equal(counters(ctx).events_dropped, 2);
});

test('filter passes events unmodified (raw line kept for sinks)', () => {
  const { t } = build(filterTransform, { condition: 'true' });
  const [e] = run(t, [ev(tetragon(3))]).out;
  assert.equal(e?.modified, false);
  assert.equal(e?.toJson(), tetragon(3));
});

test('validate reports a syntax error with its column inside the expression', () => {
  const msgs = filterTransform.validate?.({ condition: 'event.process_exec.process.binary == "/usr/bin/curl" &&' });
  assert.deepEqual(msgs, ['condition: Syntax error at column 56: Unexpected token: EOF']);
  assert.deepEqual(filterTransform.validate?.({ condition: 'event.a === "x"' }), ['condition: Syntax error at column 11: Unexpected character: =']);
  assert.equal(filterTransform.validate?.({ condition: 'event.a == "x"' }), undefined);
});

test('validate reports type errors, non-bool results, bad regexes and multi-line positions', () => {
  assert.match(conditionError('evnt.process_exec == null') ?? '', /^Type error at column 1: Unknown variable: evnt/);
  assert.match(conditionError('size(event.x) + 1') ?? '', /^Type error at column 1: the condition must evaluate to a bool, not int/);
  assert.match(conditionError('event.a.matches("(unclosed")') ?? '', /^Invalid regular expression at column 17: /);
  assert.match(conditionError('has(event.a) &&\n  event.a ==') ?? '', /^Syntax error at line 2, column 13: /);
  assert.match(conditionError('') ?? '', /^Empty expression/);
});

test('compileCondition throws a ConditionCompileError carrying line and column', () => {
  assert.throws(
    () => compileCondition('event.a == 1 ||| event.b'),
    (err: unknown) => err instanceof ConditionCompileError && isTernError(err) && err.code === 'TERN_ERR_CONFIG_INVALID' && err.line === 1 && err.column > 1,
  );
});

test('conditions compile once: evaluation is fast (sanity bound, µs per event)', () => {
  const c = compileCondition('has(event.process_exec) && event.process_exec.process.binary.startsWith("/usr/bin/")');
  const data = TETRAGON.map((l) => JSON.parse(l) as Record<string, unknown>);
  const n = 20_000;
  const t0 = performance.now();
  let hits = 0;
  for (let i = 0; i < n; i++) if (c.test(data[i % data.length] as Record<string, unknown>)) hits++;
  const us = ((performance.now() - t0) * 1000) / n;
  assert.ok(hits > 0);
  assert.ok(us < 50, `${us.toFixed(2)} µs per evaluation`);
});

test('priority_at_least: Falcosidekick\'s minimumpriority as one line, in Falco\'s order; no priority or an unknown one never passes', () => {
  // The shared samples: 2 Critical, 1 Error, 7 Warning, 4 Notice, 1 Informational.
  const passing = (min: string): unknown[] => {
    const { t } = build(filterTransform, { condition: `priority_at_least(event.priority, "${min}")` });
    return run(t, FALCO.map(ev)).out.map((e) => e.data.priority);
  };
  assert.deepEqual(passing('critical'), ['Critical', 'Critical']);
  assert.equal(passing('Warning').length, 10, 'Warning, Error, Critical; case does not matter');
  assert.equal(passing('notice').length, 14);
  assert.equal(passing('info').length, 15, '`info` is Falco\'s short form of informational');
  assert.equal(passing('emergency').length, 0);
  // What is not a Falco alert: no priority is an evaluation error (dropped, counted), an unknown one is below every minimum.
  const { t, ctx } = build(filterTransform, { condition: 'priority_at_least(event.priority, "debug")' });
  const r = run(t, [ev(JSON.stringify({ priority: 'Info' })), ev(JSON.stringify({ priority: 'whatever' })), ev(JSON.stringify({ verb: 'get' }))]);
  assert.deepEqual(r.out.map((e) => e.data.priority), ['Info']);
  assert.equal(counters(ctx).condition_errors, 1);
  // A minimum that is not a priority is caught by `tern validate`, with its column.
  assert.deepEqual(filterTransform.validate?.({ condition: 'priority_at_least(event.priority, "warn")' }), [
    'condition: Unknown priority at column 35: "warn" is not one of Falco\'s priorities (debug, informational, notice, warning, error, critical, alert, emergency)',
  ]);
});
