/**
 * ecs and timestamp as the engine loads them: their schemas compile in core's config loader (ajv),
 * defaults are applied, and typos or cross-field mistakes are reported at the option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadPipeline } from '@tern/core';
import { ecsTransform } from '../src/ecs/index.ts';
import { timestampTransform } from '../src/timestamp.ts';
import { pipelineFile as pipeline, registryWith } from './helpers.ts';

const registry = registryWith(ecsTransform, timestampTransform);

test('a pipeline with ecs and timestamp loads, with schema defaults applied', () => {
  const file = pipeline(`
sources:
  s: { type: test_source }
transforms:
  mapped: { type: ecs, inputs: [s], profile: zeek }
  stamped: { type: timestamp, inputs: [mapped], field: [ts, time], format: epoch_s, nanos_field: null }
  plain: { type: timestamp, inputs: [s] }
sinks:
  out: { type: test_sink, inputs: [stamped, plain] }
`);
  const cfg = loadPipeline([file], registry, { env: {} });
  const byId = new Map(cfg.components.map((c) => [c.id, c.options as Record<string, unknown>]));
  assert.equal(byId.get('mapped')?.keep_original, false);
  assert.equal(byId.get('stamped')?.nanos_field, null);
  assert.deepEqual(byId.get('stamped')?.field, ['ts', 'time']);
  assert.equal(byId.get('plain')?.target, '@timestamp');
  assert.equal(byId.get('plain')?.format, 'auto');
  assert.equal(byId.get('plain')?.on_error_tag, '_timestamp_failure');
});

test('unknown profile, typos and zeek_log on another profile are reported', () => {
  const file = pipeline(`sources:
  s: { type: test_source }
transforms:
  a: { type: ecs, inputs: [s], profile: suricata }
  b: { type: ecs, inputs: [s], profile: falco, zeek_log: dns }
  c: { type: timestamp, inputs: [s], fromat: auto }
sinks:
  out: { type: test_sink, inputs: [a, b, c] }
`);
  assert.throws(
    () => loadPipeline([file], registry, { env: {} }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const ids = new Set(err.issues.map((i) => i.component));
      assert.ok(ids.has('a') && ids.has('c'), err.message);
      return true;
    },
  );
  const file2 = pipeline(`sources:
  s: { type: test_source }
transforms:
  b: { type: ecs, inputs: [s], profile: falco, zeek_log: dns }
sinks:
  out: { type: test_sink, inputs: [b] }
`);
  assert.throws(
    () => loadPipeline([file2], registry, { env: {} }),
    (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.component === 'b' && /zeek_log/.test(i.message)),
  );
});
