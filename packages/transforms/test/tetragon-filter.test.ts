// Cases follow Tetragon's documentation (Helm defaults, "Filtering events") and its pkg/filters tests,
// run against the real export lines in test/data/tetragon.log (line numbers as `nl` prints them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRe2, compileTetragonFilter, parseFilterList, tetragonFilterTransform, type TetragonFilterConfig } from '../src/tetragon-filter.ts';
import { parseLabelSelector } from '../src/label-selector.ts';
import { badEv, build, counters, ev, run, TETRAGON, tetragon, throwingEv, variant } from './helpers.ts';

const DATA = TETRAGON.map((l) => JSON.parse(l) as Record<string, unknown>);
/** 1-based sample line numbers that pass. */
function passing(cfg: Partial<TetragonFilterConfig>, data: Record<string, unknown>[] = DATA): number[] {
  const pass = compileTetragonFilter(cfg);
  return data.flatMap((d, i) => (pass(d) ? [i + 1] : []));
}
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('no lists: everything passes', () => {
  assert.deepEqual(passing({}), range(1, 35));
});

test("Helm default exportAllowList (event_set) passes Tetragon's process events", () => {
  const allow = '{"event_set":["PROCESS_EXEC", "PROCESS_EXIT", "PROCESS_KPROBE", "PROCESS_UPROBE", "PROCESS_TRACEPOINT", "PROCESS_LSM"]}';
  assert.deepEqual(passing({ allow }), range(1, 35));
  assert.deepEqual(passing({ allow: '{"event_set":["PROCESS_EXIT"]}' }), [6, 7, 12, 15, 19, 21, 24, 32, 33, 35]);
  assert.deepEqual(passing({ allow: [{ event_set: [9] }] }).length, 12, 'enum numbers work too (9 = PROCESS_KPROBE)');
});

test('Helm default exportDenyList: health checks and host / cilium / kube-system namespaces', () => {
  const deny = '{"health_check":true}\n{"namespace":["", "cilium", "kube-system"]}';
  // 26 is coredns in kube-system; 28–35 are host processes (no pod)
  assert.deepEqual(passing({ deny }), [...range(1, 25), 27]);
});

test('documented example: {"namespace":["default"],"event_set":["PROCESS_EXEC"]}', () => {
  assert.deepEqual(passing({ allow: '{"namespace":["default"],"event_set":["PROCESS_EXEC"]}' }), [8, 9, 13]);
});

test('documented example: filters ORed, fields ANDed (exec/exit in a namespace, or any kprobe)', () => {
  const allow = '{"event_set": ["PROCESS_EXEC", "PROCESS_EXIT"], "namespace": "payments"}\n{"event_set": ["PROCESS_KPROBE"]}';
  const kprobes = [4, 5, 10, 11, 14, 18, 23, 25, 26, 27, 31, 34];
  assert.deepEqual(passing({ allow }), [...new Set([1, 2, 3, 6, 7, ...kprobes])].sort((a, b) => a - b));
});

test('allow and deny together: deny wins', () => {
  const cfg: TetragonFilterConfig = {
    allow: [{ namespace: ['payments'] }, { namespace: ['default'] }],
    deny: [{ binary_regex: ['(?:^|/)sh$'] }, { event_set: ['PROCESS_EXIT'] }],
  };
  // payments 1–7 and default 8–15, minus /bin/sh processes (2, 7, 8, 13, 14, 15) and exits (6, 12)
  assert.deepEqual(passing(cfg), [1, 3, 4, 5, 9, 10, 11]);
  // deny alone: 6 /bin/sh events and 10 exits, 2 of them both
  assert.deepEqual(passing({ deny: cfg.deny }).length, 35 - 14, 'deny alone');
});

test('binary_regex, parent_binary_regex, ancestor_binary_regex', () => {
  assert.deepEqual(passing({ allow: [{ binary_regex: ['^/usr/bin/curl$'] }] }), [3, 4, 5, 6]);
  assert.deepEqual(passing({ allow: [{ binary_regex: ['kube.*', 'iptables'] }] }), []);
  assert.deepEqual(passing({ allow: [{ parent_binary_regex: ['^/usr/bin/containerd-shim'] }] }), [1, 16]);
  assert.deepEqual(passing({ allow: [{ ancestor_binary_regex: ['^/usr/sbin/sshd$'] }] }), [28, 29, 30]);
  assert.deepEqual(passing({ allow: [{ ancestor_binary_regex: ['containerd-shim'] }] }), [1, 2, 3, 9], 'events without ancestors never match');
});

test('arguments_regex and parent_arguments_regex', () => {
  assert.deepEqual(passing({ allow: [{ arguments_regex: ['169\\.254\\.169\\.254'] }] }), range(2, 7));
  assert.deepEqual(passing({ allow: [{ arguments_regex: ['^--version$', '^-a -b -c$'] }] }), []);
  assert.deepEqual(passing({ allow: [{ arguments_regex: ['^/etc/shadow$'] }] }), [9, 10, 11, 12]);
  assert.deepEqual(passing({ allow: [{ parent_arguments_regex: ['^-c '] }] }), [3, 4, 5, 6, 25]);
});

test('namespace: "" selects host processes; namespace_regex, pod_regex, container_name_regex never match them', () => {
  assert.deepEqual(passing({ allow: [{ namespace: [''] }] }), range(28, 35));
  assert.deepEqual(passing({ allow: [{ namespace: ['kube-system', ''] }] }), [26, ...range(28, 35)]);
  assert.deepEqual(passing({ allow: [{ namespace_regex: ['^(ci|data)$'] }] }), range(16, 25));
  assert.deepEqual(passing({ allow: [{ pod_regex: ['^checkout-api-'] }] }), range(1, 7));
  assert.deepEqual(passing({ allow: [{ pod_regex: ['.*'] }] }), range(1, 27));
  assert.deepEqual(passing({ allow: [{ container_name_regex: ['^debug$'] }] }), range(8, 15));
});

test('container_id regex on process.docker', () => {
  assert.deepEqual(passing({ allow: [{ container_id: ['^8a551c83'] }] }), range(8, 15));
});

test('pid and pid_set (descendants learned from parents)', () => {
  assert.deepEqual(passing({ allow: [{ pid: [40388] }] }), [1]);
  // 9077 is the debug shell; /bin/cat 9311 and /bin/sh 9344 are its children
  assert.deepEqual(passing({ allow: '{"pid_set":[9077]}' }), range(8, 15));
  // bash 301902 → sudo 302011 → crictl 302012: grandchildren are learned through the exec events, in order
  assert.deepEqual(passing({ allow: [{ pid_set: [301902] }] }), range(28, 35));
});

test('policy_names on kprobe events', () => {
  assert.deepEqual(passing({ allow: [{ policy_names: ['file-monitoring-filtered'] }] }), [10, 27]);
  assert.deepEqual(passing({ deny: [{ policy_names: ['monitor-network-activity-outside-cluster', 'fd-install'] }] }).length, 35 - 6);
});

test('labels: Kubernetes label selectors on pod labels (never host processes)', () => {
  assert.deepEqual(passing({ allow: [{ labels: ['app.kubernetes.io/name=checkout-api'] }] }), range(1, 7));
  assert.deepEqual(passing({ allow: [{ labels: ['run in (debug-shell, other)'] }] }), range(8, 15));
  assert.deepEqual(passing({ allow: [{ labels: ['!run'] }] }), [...range(1, 7), ...range(16, 27)]);
  assert.deepEqual(passing({ allow: [{ labels: ['app=postgres', 'k8s-app=kube-dns'] }] }), [25, 26]);
  assert.deepEqual(passing({ allow: [{ labels: [''] }] }), range(1, 27), 'empty selector selects every pod');
});

test("label selector semantics from Tetragon's labels_test.go", () => {
  const noValue = parseLabelSelector('key1,key2');
  assert.equal(noValue({}), false);
  assert.equal(noValue({ key3: 'val3' }), false);
  assert.equal(noValue({ key1: 'val1' }), false);
  assert.equal(noValue({ key1: 'val1', key2: 'val2' }), true);
  assert.equal(noValue({ key1: 'val1', key2: 'val2', key3: 'val3' }), true);
  const withValue = parseLabelSelector('key1=val1,key2=val2');
  assert.equal(withValue({ key1: 'foo', key2: 'bar' }), false);
  assert.equal(withValue({ key1: 'val1', key2: 'val2' }), true);
  const sets = parseLabelSelector('key1 in (foo, bar), key2 notin (baz)');
  assert.equal(sets({}), false);
  assert.equal(sets({ key1: 'foo' }), true);
  assert.equal(sets({ key1: 'bar', key2: 'baz' }), false);
  assert.equal(sets({ key1: 'foo', key2: 'foo' }), true);
  assert.equal(parseLabelSelector('env!=prod')({}), true);
  assert.equal(parseLabelSelector('env!=prod')({ env: 'prod' }), false);
  assert.equal(parseLabelSelector('replicas>2')({ replicas: '3' }), true);
  assert.throws(() => parseLabelSelector('!@#$%'), /invalid label key/);
  assert.throws(() => parseLabelSelector('a in ()'), /at least one value/);
  assert.throws(() => parseLabelSelector('a in (b'), /expected/);
});

test('health_check: process or parent flagged as a possible exec probe', () => {
  const probe = variant(tetragon(26), (o) => (o.process_kprobe.process.pod.container.maybe_exec_probe = true));
  const parentProbe = variant(tetragon(3), (o) => (o.process_exec.parent.pod = { namespace: 'payments', container: { maybe_exec_probe: true } }));
  const data = [probe, parentProbe, tetragon(1), tetragon(28)].map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(passing({ allow: '{"health_check":true}' }, data), [1, 2]);
  assert.deepEqual(passing({ allow: [{ health_check: false }] }, data), [3, 4]);
  assert.deepEqual(passing({ deny: '{"health_check":true}' }, data), [3, 4]);
});

test('in_init_tree: false selects processes injected into a container (kubectl exec)', () => {
  const init = variant(tetragon(1), (o) => (o.process_exec.process.in_init_tree = true));
  const data = [init, tetragon(9)].map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(passing({ allow: [{ in_init_tree: false }] }, data), [2]);
  assert.deepEqual(passing({ allow: '{"in_init_tree":true}' }, data), [1]);
});

test('capabilities: any / all / exactly / none per set (Tetragon filters_test example)', () => {
  const withCaps = (eff: string[]) => JSON.parse(variant(tetragon(22), (o) => (o.process_exec.process.cap = { permitted: eff, effective: eff }))) as Record<string, unknown>;
  const data = [withCaps(['CAP_BPF', 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN']), withCaps(['CAP_SYS_ADMIN']), withCaps(['CAP_CHOWN']), JSON.parse(tetragon(1)) as Record<string, unknown>];
  assert.deepEqual(passing({ allow: '{"capabilities": {"effective": {"all": ["CAP_BPF", "CAP_SYS_ADMIN"]}}}' }, data), [1]);
  assert.deepEqual(passing({ allow: [{ capabilities: { effective: { any: ['CAP_SYS_ADMIN'] } } }] }, data), [1, 2]);
  assert.deepEqual(passing({ allow: [{ capabilities: { permitted: { exactly: ['CAP_SYS_ADMIN'] } } }] }, data), [2]);
  assert.deepEqual(passing({ allow: [{ capabilities: { effective: { none: ['CAP_SYS_ADMIN'] } } }] }, data), [3], 'an event without caps never matches');
});

test('cel_expression: Tetragon CEL over top-level event fields', () => {
  assert.deepEqual(passing({ allow: [{ cel_expression: ["process_exec.process.binary == '/usr/bin/curl'"] }] }), [3]);
  assert.deepEqual(passing({ allow: [{ cel_expression: ['process_kprobe.policy_name == "fd-install"', 'process_exit.status != 0'] }] }).includes(11), true);
});

test('the string form: JSON objects back to back, proto and camelCase names', () => {
  const list = parseFilterList(`{"namespace":["kube-system",""]}
{"health_check":true}
{"binary_regex":["kube.*","iptables"]}
{"binary_regex":["/usr/sbin/.*"],"namespace":["default"]}
{"pid_set":[1]}
{"event_set":["PROCESS_EXEC", "PROCESS_EXIT", "PROCESS_KPROBE", "PROCESS_TRACEPOINT"]}
{"arguments_regex":["^--version$","^-a -b -c$"]}
{"capabilities": {"effective": {"all": ["CAP_BPF", "CAP_SYS_ADMIN"]}}}
{"cel_expression": ["process_exec.process.bad_field_name == 'curl'"]}`);
  assert.equal(list.length, 9);
  assert.deepEqual(list[3], { binary_regex: ['/usr/sbin/.*'], namespace: ['default'] });
  assert.equal(tetragonFilterTransform.validate?.({ allow: TETRAGON_LINES(list), deny: [] }), undefined);
  assert.deepEqual(passing({ allow: '{"eventSet":["PROCESS_EXEC"],"binaryRegex":["curl$"]} {"podRegex":["^postgres"]}' }), [3, 25]);
});

function TETRAGON_LINES(list: unknown[]): string {
  return list.map((f) => JSON.stringify(f)).join('\n');
}

test('RE2 syntax is translated: leading flags, named groups, \\z, POSIX classes', () => {
  assert.equal(compileRe2('(?i)CURL$').test('/usr/bin/curl'), true);
  assert.equal(compileRe2('(?P<bin>[[:alpha:]]+)\\z').exec('/bin/cat')?.groups?.bin, 'cat');
  assert.equal(compileRe2('\\Acat\\z').test('cat\n'), false);
  assert.deepEqual(passing({ allow: [{ binary_regex: ['(?i)/USR/BIN/(CURL|GIT)$'] }] }), [3, 4, 5, 6, 17, 18, 19]);
});

test('validate: positioned messages for bad JSON, unknown fields, regexes, selectors, event types, capabilities, CEL', () => {
  const msgs = tetragonFilterTransform.validate?.({
    allow: '{"namespace":["default"]}\n{"binary_regex":["(unclosed"]}',
    deny: [
      { labels: ['!@#$%'] } as never,
      { event_set: ['PROCESS_EXECC'] } as never,
      { capabilities: { effective: { any: ['CAP_BPF'], all: ['CAP_SYS_ADMIN'] } } } as never,
    ],
  });
  assert.equal(msgs?.length, 2, 'the first error of each list');
  assert.match(msgs?.[0] ?? '', /^allow: filter 2\.binary_regex\.0: invalid regular expression "\(unclosed"/);
  assert.match(msgs?.[1] ?? '', /^deny\.0\.labels\.0: (label selector|invalid label key)/);
  const one = (cfg: Partial<TetragonFilterConfig>) => tetragonFilterTransform.validate?.({ allow: [], deny: [], ...cfg })?.[0] ?? '';
  assert.match(one({ deny: [{ event_set: ['PROCESS_EXECC'] }] }), /^deny\.0\.event_set: unknown event type "PROCESS_EXECC"/);
  assert.match(one({ deny: [{ capabilities: { effective: { any: ['CAP_BPF'], all: ['CAP_SYS_ADMIN'] } } }] }), /exactly one of any, all, exactly, none \(got any, all\)/);
  assert.match(one({ deny: [{ capabilities: { effective: { any: ['CAP_NOPE'] } } }] }), /unknown capability "CAP_NOPE"/);
  assert.match(one({ allow: '{"binary_regex":["x"]} {"bogus":1}' }), /^allow: filter 2: unknown filter field "bogus"/);
  assert.match(one({ allow: '{"namespace":["a"]}\n{"namespace": [' }), /^allow: filter 2: unterminated JSON object/);
  assert.match(one({ allow: [{ cel_expression: ['process_exec.process.binary =='] }] }), /^allow\.0\.cel_expression\.0: Syntax error at column 31/);
});

test('transform: drops what the lists reject, counts it, emits unmodified events; malformed lines only pass deny-only lists', () => {
  const deny = '{"health_check":true}\n{"namespace":["", "cilium", "kube-system"]}';
  const { t, ctx } = build(tetragonFilterTransform, { deny });
  const r = run(t, [...TETRAGON.map(ev), badEv(), throwingEv()]);
  assert.equal(r.out.length, 28, 'the 26 Tetragon events outside the deny list, and the two tagged malformed lines');
  assert.equal(counters(ctx).events_dropped, 9);
  assert.equal(counters(ctx).decode_errors, 1);
  for (const e of r.out.slice(0, 26)) assert.equal(e.modified, false);
  const allow = build(tetragonFilterTransform, { allow: [{ event_set: ['PROCESS_EXEC'] }], deny });
  assert.equal(run(allow.t, [badEv(), ev(tetragon(1))]).out.length, 1);
});
