import { test } from 'node:test';
import assert from 'node:assert/strict';
import { remapTransform, type RemapOperation } from '../src/remap.ts';
import { LogEvent, type OptionsInput } from '@tern/core';
import { badEv, build, counters, ev, FALCO, run, tetragon, throwingEv } from './helpers.ts';

function remap(ops: OptionsInput<RemapOperation[]>, line: string) {
  const { t, ctx } = build(remapTransform, { operations: ops });
  const [e] = run(t, [ev(line)]).out;
  assert.ok(e);
  return { e, data: e.data as Record<string, any>, ctx };
}

test('set: constants, templates, and a lone placeholder keeps the value type', () => {
  const { e, data } = remap(
    [
      { type: 'set', field: 'labels.cluster', value: 'prod-eu' },
      { type: 'set', field: 'labels.where', value: '{{node_name}}/{{process_exec.process.pod.namespace}}/{{process_exec.process.pod.name}}' },
      { type: 'set', field: 'process.pid', value: '{{process_exec.process.pid}}' },
      { type: 'set', field: 'process.labels', value: '{{ process_exec.process.pod.pod_labels }}' },
      { type: 'set', field: 'app', value: '{{process_exec.process.pod.pod_labels["app.kubernetes.io/name"]}}' },
      { type: 'set', field: 'missing', value: 'x{{no.such.field}}y' },
      { type: 'set', field: 'obj', value: { team: 'payments', tier: 1 } },
      { type: 'set', field: 'braces', value: '{{{{literal}}' },
    ],
    tetragon(1),
  );
  assert.equal(e.modified, true);
  assert.equal(data.labels.cluster, 'prod-eu');
  assert.equal(data.labels.where, 'gke-prod-pool-1-8a7f2c3e-k9x2/payments/checkout-api-7d9f8b6c5-x2k4p');
  assert.equal(data.process.pid, 40388);
  assert.equal(data.process.labels['app.kubernetes.io/name'], 'checkout-api');
  // a copied object is not shared with the source
  data.process.labels.extra = 'x';
  assert.equal(data.process_exec.process.pod.pod_labels.extra, undefined);
  assert.equal(data.app, 'checkout-api');
  assert.equal(data.missing, 'xy');
  assert.deepEqual(data.obj, { team: 'payments', tier: 1 });
  assert.equal(data.braces, '{{literal}}');
  assert.ok(e.toJson().includes('"cluster":"prod-eu"'));
});

test('set: constant objects are not shared between events', () => {
  const { t } = build(remapTransform, { operations: [{ type: 'set', field: 'meta', value: { tags: [] } }] });
  const [a, b] = run(t, [ev(tetragon(1)), ev(tetragon(2))]).out;
  (a?.data.meta as { tags: string[] }).tags.push('x');
  assert.deepEqual((b?.data.meta as { tags: string[] }).tags, []);
});

test('copy, rename, remove in order; missing sources are no-ops', () => {
  const { data } = remap(
    [
      { type: 'copy', from: 'process_exec.process.binary', to: 'process.executable' },
      { type: 'rename', from: 'process_exec.parent', to: 'parent_process' },
      { type: 'rename', from: 'no.such', to: 'never' },
      { type: 'copy', from: 'no.such', to: 'never2' },
      { type: 'remove', fields: ['process_exec.process.exec_id', 'cluster_name', 'not.there'] },
    ],
    tetragon(1),
  );
  assert.equal(data.process.executable, '/usr/local/bin/node');
  assert.equal(data.process_exec.process.binary, '/usr/local/bin/node');
  assert.equal(data.parent_process.binary, '/usr/bin/containerd-shim-runc-v2');
  assert.equal(data.process_exec.parent, undefined);
  assert.equal('never' in data || 'never2' in data, false);
  assert.equal(data.process_exec.process.exec_id, undefined);
  assert.equal(data.cluster_name, undefined);
});

test('dotted Falco keys via brackets', () => {
  const { data } = remap(
    [
      { type: 'rename', from: 'output_fields["k8s.ns.name"]', to: 'kubernetes.namespace' },
      { type: 'copy', from: 'output_fields["proc.exepath"]', to: 'process.executable' },
    ],
    FALCO[0] as string,
  );
  assert.equal(data.kubernetes.namespace, 'payments');
  assert.equal(data.output_fields['k8s.ns.name'], undefined);
  assert.equal(data.process.executable, '/usr/bin/bash');
});

test('keep_only keeps the listed paths and nothing else', () => {
  const { data } = remap([{ type: 'keep_only', fields: ['time', 'node_name', 'process_exec.process.binary', 'process_exec.process.pod.namespace', 'nope'] }], tetragon(1));
  assert.deepEqual(data, {
    time: '2024-11-05T08:57:41.120443520Z',
    node_name: 'gke-prod-pool-1-8a7f2c3e-k9x2',
    process_exec: { process: { binary: '/usr/local/bin/node', pod: { namespace: 'payments' } } },
  });
});

test('parse_json: parses in place or into a target; failure tags the event, never drops it', () => {
  const line = JSON.stringify({ message: '{"a":1,"b":[true]}', bad: '{not json', tags: ['x'] });
  const { data, ctx } = remap(
    [
      { type: 'parse_json', field: 'message', target: 'parsed' },
      { type: 'parse_json', field: 'bad' },
      { type: 'parse_json', field: 'message' },
    ],
    line,
  );
  assert.deepEqual(data.parsed, { a: 1, b: [true] });
  assert.deepEqual(data.message, { a: 1, b: [true] });
  assert.equal(data.bad, '{not json');
  assert.deepEqual(data.tags, ['x', '_json_parse_failure']);
  assert.equal(counters(ctx).parse_errors, 1);
});

test('drop_empty removes null, "", [] and {} recursively but keeps list positions', () => {
  const line = JSON.stringify({ a: null, b: '', c: [], d: {}, e: { f: { g: null } }, h: 0, i: false, j: 'x', args: [{ int_arg: 0 }, {}, { s: '' }], k: { l: [], m: 1 } });
  const { data } = remap([{ type: 'drop_empty' }], line);
  assert.deepEqual(data, { h: 0, i: false, j: 'x', args: [{ int_arg: 0 }, {}, {}], k: { m: 1 } });
  const sub = remap([{ type: 'drop_empty', field: 'e' }], line).data;
  assert.equal('e' in sub, false);
  assert.equal(sub.a, null, 'outside the field nothing changes');
});

test('an event no operation changes keeps its original line', () => {
  const { t } = build(remapTransform, {
    operations: [
      { type: 'copy', from: 'no.such', to: 'x' },
      { type: 'remove', fields: ['absent'] },
      { type: 'drop_empty' },
      { type: 'parse_json', field: 'absent' },
    ],
  });
  const [e] = run(t, [ev(tetragon(8))]).out;
  assert.equal(e?.modified, false);
  assert.equal(e?.toJson(), tetragon(8));
});

test('a malformed line is edited like any event; an unreadable one first takes the same tagged shape, counted', () => {
  const { t, ctx } = build(remapTransform, { operations: [{ type: 'set', field: 'x', value: 1 }] });
  const bad = badEv();
  const unreadable = throwingEv();
  const r = run(t, [bad, unreadable, ev(tetragon(1))]);
  assert.equal(r.out.length, 3);
  assert.equal(bad.data.x, 1);
  assert.deepEqual(bad.data.tags, ['_json_parse_failure']);
  assert.equal(r.out[1], unreadable);
  assert.equal(unreadable.modified, true);
  assert.equal((unreadable.toJson()), JSON.stringify({ message: '{}', error: { message: 'invalid JSON: unreadable' }, tags: ['_json_parse_failure'], x: 1 }));
  assert.equal(counters(ctx).decode_errors, 1);
});

test('validate names the operation and option', () => {
  const msgs = remapTransform.validate?.({
    operations: [
      { type: 'set', field: 'ok', value: 'x {{a' },
      { type: 'copy', from: 'a..b', to: 'c' },
      { type: 'remove', fields: ['ok', 'x[y]'] },
    ],
  });
  assert.deepEqual(msgs?.map((m) => m.split(':')[0]), ['operations.0.value', 'operations.1.from', 'operations.2.fields.1']);
});

test('append: adds to the mapper\'s tags instead of replacing them; lists, templates, duplicates', () => {
  const line = JSON.stringify({ tags: ['local_orig'], node: 'n1', one: 'x' });
  const { data } = remap(
    [
      { type: 'append', field: 'tags', value: ['tetragon', 'node-{{node}}'] },
      { type: 'append', field: 'tags', value: 'tetragon', allow_duplicates: false },
      { type: 'append', field: 'tags', value: 'local_orig' },
      { type: 'append', field: 'one', value: 'y' },
      { type: 'append', field: 'related.hosts', value: '{{node}}' },
    ],
    line,
  );
  assert.deepEqual(data.tags, ['local_orig', 'tetragon', 'node-n1', 'local_orig']);
  assert.deepEqual(data.one, ['x', 'y'], 'a single value becomes a list');
  assert.deepEqual(data.related, { hosts: ['n1'] });
});

test('parse_regex: named captures (JavaScript or RE2 syntax) become fields; no match tags and counts', () => {
  const { data, ctx } = remap(
    [
      { type: 'parse_regex', field: 'path', pattern: '^/var/log/pods/(?P<namespace>[^_]+)_(?P<pod>[^_]+)_[^/]+/(?<container>[^/]+)/', target: 'kubernetes' },
      { type: 'parse_regex', field: 'msg', pattern: 'user=(?<user>\\w+)' },
      { type: 'parse_regex', field: 'absent', pattern: '(?<x>.)' },
    ],
    JSON.stringify({ path: '/var/log/pods/payments_checkout-7d9f_0b1c/api/0.log', msg: 'nothing here', tags: [] }),
  );
  assert.deepEqual(data.kubernetes, { namespace: 'payments', pod: 'checkout-7d9f', container: 'api' });
  assert.equal(data.user, undefined);
  assert.deepEqual(data.tags, ['_regex_parse_failure']);
  assert.equal(counters(ctx).parse_errors, 1);
});

test('parse_key_value: logfmt with quotes, custom separators; nothing found tags and counts', () => {
  const line = JSON.stringify({ message: 'level=warn msg="disk almost full" path=\'/var/lib\' code=507 flag', q: 'a:1;b:two', none: 'just words' });
  const { data, ctx } = remap(
    [
      { type: 'parse_key_value', field: 'message', target: 'kv' },
      { type: 'parse_key_value', field: 'q', field_split: ';', value_split: ':', target: 'q2' },
      { type: 'parse_key_value', field: 'none' },
    ],
    line,
  );
  assert.deepEqual(data.kv, { level: 'warn', msg: 'disk almost full', path: '/var/lib', code: '507' });
  assert.deepEqual(data.q2, { a: '1', b: 'two' });
  assert.deepEqual(data.tags, ['_kv_parse_failure']);
  assert.equal(counters(ctx).parse_errors, 1);
});

test('if: a CEL condition on any operation; errors skip it and are counted', () => {
  const { t, ctx } = build(remapTransform, {
    operations: [
      { type: 'set', field: 'kind', value: 'exec', if: 'has(event.process_exec)' },
      { type: 'set', field: 'kind', value: 'other', if: '!has(event.process_exec)' },
      { type: 'append', field: 'tags', value: 'payments', if: 'event.process_exec.process.pod.namespace == "payments"' },
    ],
  });
  const [exec, exit] = run(t, [ev(tetragon(1)), ev(tetragon(21))]).out;
  assert.equal(exec?.data.kind, 'exec');
  assert.deepEqual(exec?.data.tags, ['payments']);
  assert.equal(exit?.data.kind, 'other');
  assert.equal(exit?.data.tags, undefined);
  assert.equal(counters(ctx).condition_errors, 1, 'process_exec is missing on the exit event');
});

test('origin fields: @path, @host, @source, @offset and path fields are readable, never writable', () => {
  const { t } = build(remapTransform, {
    operations: [
      { type: 'copy', from: '@path', to: 'log.file.path' },
      { type: 'copy', from: '@offset', to: 'log.offset' },
      { type: 'set', field: 'where', value: '{{@host}}/{{@source}}/{{@fields.k8s.pod.name}}' },
      { type: 'parse_regex', field: '@path', pattern: '/pods/(?<pod>[^/]+)/' },
    ],
  });
  const origin = { sourceId: 'zeek', path: '/nfs/pods/checkout-7d9f/conn.log', host: 'node-a', fields: { 'k8s.pod.name': 'checkout-7d9f' } };
  const e = new LogEvent(origin, '{"a":1}', 'json', { a: 1 }, 4096);
  const [out] = run(t, [e]).out;
  assert.deepEqual(out?.data, { a: 1, log: { file: { path: '/nfs/pods/checkout-7d9f/conn.log' }, offset: 4096 }, where: 'node-a/zeek/checkout-7d9f', pod: 'checkout-7d9f' });
  const msgs = remapTransform.validate?.({ operations: [{ type: 'set', field: '@path', value: 'x' }, { type: 'rename', from: '@host', to: 'h' }, { type: 'copy', from: '@host', to: 'host.name' }] });
  assert.deepEqual(msgs?.map((m) => m.split(':')[0]), ['operations.0.field', 'operations.1.from']);
});

test('dedot and rename_keys: keys by pattern, recursively when asked; untouched events stay unmodified', () => {
  const line = JSON.stringify({ labels: { 'app.kubernetes.io/name': 'x', app: 'y', nested: { 'a.b': 1 } }, k8s_ns: 'payments', k8s_pod: 'p', list: [{ 'c.d': 2 }] });
  const { data } = remap(
    [
      { type: 'dedot', field: 'labels' },
      { type: 'rename_keys', pattern: '^k8s_(.*)$', replacement: 'kubernetes_$1' },
    ],
    line,
  );
  assert.deepEqual(data.labels, { 'app_kubernetes_io/name': 'x', app: 'y', nested: { a_b: 1 } });
  assert.equal(data.kubernetes_ns, 'payments');
  assert.equal(data.k8s_pod, undefined);
  assert.deepEqual(data.list, [{ 'c.d': 2 }], 'outside the field nothing changes');
  const whole = remap([{ type: 'dedot' }], line).data;
  assert.deepEqual(whole.list, [{ c_d: 2 }]);
  const deep = remap([{ type: 'rename_keys', pattern: '\\.', replacement: '-', recursive: true }], line).data;
  assert.deepEqual(deep.labels.nested, { 'a-b': 1 });
  const { t } = build(remapTransform, { operations: [{ type: 'dedot' }, { type: 'rename_keys', pattern: '^zzz', replacement: 'y' }] });
  const [same] = run(t, [ev(JSON.stringify({ plain: { keys: 1 } }))]).out;
  assert.equal(same?.modified, false);
});

test('validate: bad conditions and patterns name their operation', () => {
  const msgs = remapTransform.validate?.({
    operations: [
      { type: 'set', field: 'x', value: 1, if: 'event.a ==' },
      { type: 'parse_regex', field: 'm', pattern: '(unclosed', failure_tag: '_regex_parse_failure' },
      { type: 'parse_regex', field: 'm', pattern: 'no captures', failure_tag: '_regex_parse_failure' },
      { type: 'rename_keys', pattern: '[', replacement: '', recursive: false },
    ],
  });
  assert.deepEqual(msgs?.map((m) => m.split(':')[0]), ['operations.0.if', 'operations.1.pattern', 'operations.2.pattern', 'operations.3.pattern']);
});
