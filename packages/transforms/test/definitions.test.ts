// The definitions as the engine sees them: schema conventions, the exported list, and real pipeline
// files loaded through core's config loader (ajv with defaults, validate messages located in YAML).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadPipeline, Registry } from '@tern/core';
import { transforms } from '../src/index.ts';
import { pipelineFile as pipeline, registryWith, TEST_SINK as sink, TEST_SOURCE as source } from './helpers.ts';

const MINE = ['filter', 'route', 'remap', 'sample', 'throttle', 'dedupe', 'tetragon_filter'];

test('`transforms` lists every transform of the package once, including timestamp and ecs', () => {
  const types = transforms.map((t) => t.type);
  assert.equal(new Set(types).size, types.length);
  for (const t of [...MINE, 'timestamp', 'ecs']) assert.ok(types.includes(t), t);
  for (const t of transforms) assert.equal(t.kind, 'transform');
});

test('schemas: closed, every option described with examples; snake_case types', () => {
  for (const def of transforms.filter((t) => MINE.includes(t.type))) {
    assert.match(def.type, /^[a-z][a-z0-9_]*$/);
    assert.ok(def.description.length > 10);
    const s = def.schema as { type: string; additionalProperties: boolean; properties: Record<string, Record<string, unknown>> };
    assert.equal(s.type, 'object', def.type);
    assert.equal(s.additionalProperties, false, def.type);
    for (const [name, prop] of Object.entries(s.properties)) {
      assert.equal(typeof prop.description, 'string', `${def.type}.${name} description`);
      assert.ok(Array.isArray(prop.examples) && prop.examples.length > 0, `${def.type}.${name} examples`);
    }
  }
});

const registry = registryWith(...transforms);

test('a pipeline using every transform loads, with route outputs as inputs', () => {
  const file = pipeline(`
sources:
  tetragon: { type: test_source }
transforms:
  allowlist:
    type: tetragon_filter
    inputs: [tetragon]
    deny: |
      {"health_check":true}
      {"namespace":["", "cilium", "kube-system"]}
  router:
    type: route
    inputs: [allowlist]
    routes:
      exec: 'has(event.process_exec)'
      kprobe: 'has(event.process_kprobe)'
  execs:
    type: filter
    inputs: [router.exec]
    condition: 'event.process_exec.process.binary != "/usr/bin/containerd-shim-runc-v2"'
  shaped:
    type: remap
    inputs: [execs, router.kprobe]
    operations:
      - { type: set, field: labels.cluster, value: 'prod-{{node_name}}' }
      - { type: remove, fields: [process_exec.parent] }
      - { type: drop_empty }
  sampled: { type: sample, inputs: [router._unmatched], rate: 10, key_field: process_exit.process.exec_id }
  throttled: { type: throttle, inputs: [shaped], threshold: 100, key_field: 'process_exec.process.pod.name' }
  unique: { type: dedupe, inputs: [throttled, sampled] }
sinks:
  out: { type: test_sink, inputs: [unique] }
`);
  const cfg = loadPipeline([file], registry, { env: {} });
  const byId = new Map(cfg.components.map((c) => [c.id, c]));
  assert.deepEqual(byId.get('execs')?.inputs, ['router.exec']);
  assert.equal((byId.get('throttled')?.options as { window_ms?: number }).window_ms, 1000, 'schema defaults applied');
});

test('a bad CEL condition is reported at the option, with the column inside the expression', () => {
  const file = pipeline(`sources:
  s: { type: test_source }
transforms:
  f:
    type: filter
    inputs: [s]
    condition: 'event.process_exec.process.binary == "/usr/bin/curl" &&'
sinks:
  out: { type: test_sink, inputs: [f] }
`);
  assert.throws(
    () => loadPipeline([file], registry, { env: {} }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const issue = err.issues.find((i) => i.component === 'f');
      assert.ok(issue, err.message);
      assert.equal(issue.line, 7);
      assert.equal(issue.message, 'condition: Syntax error at column 56: Unexpected token: EOF');
      return true;
    },
  );
});

test('tetragon_filter and remap validation errors point into lists', () => {
  const file = pipeline(`sources:
  s: { type: test_source }
transforms:
  t:
    type: tetragon_filter
    inputs: [s]
    deny:
      - namespace: [default]
      - binary_regex: ['(unclosed']
  r:
    type: remap
    inputs: [t]
    operations:
      - { type: copy, from: a, to: b }
      - { type: copy, from: 'a..b', to: c }
sinks:
  out: { type: test_sink, inputs: [r] }
`);
  assert.throws(
    () => loadPipeline([file], registry, { env: {} }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const t = err.issues.find((i) => i.component === 't');
      const r = err.issues.find((i) => i.component === 'r');
      assert.equal(t?.line, 9, err.message);
      assert.match(t?.message ?? '', /^deny\.1\.binary_regex\.0: invalid regular expression/);
      assert.equal(r?.line, 15, err.message);
      return true;
    },
  );
});

test('the README examples are valid pipeline files (loaded together)', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  assert.ok(blocks.length >= 8);
  // Stand-ins for the components the snippets mention that live in other packages.
  const open = { type: 'object', additionalProperties: true, properties: {} };
  const reg = new Registry().register(
    { ...source, type: 'file', schema: open },
    { ...sink, type: 'elasticsearch', schema: open },
    { ...sink, type: 'file', schema: open },
    ...transforms,
  );
  const files = blocks.map((b) => pipeline(b));
  files.push(pipeline('sources:\n  falco: { type: file }\n  audit: { type: file }\n  zeek: { type: file }\n'));
  const cfg = loadPipeline(files, reg, { env: {} });
  for (const id of ['execs', 'by_kind', 'like_the_helm_chart', 'trim', 'kprobes_1_in_10', 'falco_per_rule', 'audit_once', 'audit_ua', 'zeek_geo']) {
    assert.ok(cfg.components.some((c) => c.id === id), id);
  }
});
