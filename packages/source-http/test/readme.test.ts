// Keeps the options table of README.md in sync with the schema (the schema is the source of truth),
// and checks every option is documented. Regenerate with:
// TERN_UPDATE_README=1 node --conditions=tern-src --test packages/source-http/test/readme.test.ts
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { JsonSchema } from '@tern/core';
import { optionsTable, withDefaults } from '@tern/core';
import { checkReadmeTable } from '@tern/test-kit';
import { httpServerSource, PRESETS, validate, type HttpServerConfig } from '../src/index.ts';

it('README options table matches the schema', () => {
  checkReadmeTable(new URL('../README.md', import.meta.url), optionsTable(httpServerSource.schema));
});

it('every option has a description and examples; a default unless the sender preset or absence decides it', () => {
  const byPreset = new Set(['decoding', 'when_full', 'request_timeout_ms']);
  for (const [name, s] of Object.entries(httpServerSource.schema.properties as Record<string, JsonSchema>)) {
    assert.ok(typeof s.description === 'string' && s.description.length > 20, `${name}: description`);
    assert.ok(Array.isArray(s.examples) && s.examples.length > 0, `${name}: examples`);
    if (byPreset.has(name)) assert.equal(s.default, undefined, `${name}: the preset is the default`);
    else if (name !== 'auth' && name !== 'tls') assert.ok(s.default !== undefined, `${name}: default`);
  }
});

it('presets fill, from the schema, what the pipeline does not set; validate names the option', () => {
  for (const sender of ['falco', 'k8s_audit', 'generic'] as const) {
    const c = withDefaults(httpServerSource, { sender });
    assert.deepEqual({ decoding: c.decoding, when_full: c.when_full, request_timeout_ms: c.request_timeout_ms }, PRESETS[sender], sender);
  }
  assert.deepEqual(withDefaults(httpServerSource, {}).request_timeout_ms, PRESETS.generic.request_timeout_ms, 'no sender: generic');
  assert.equal(withDefaults(httpServerSource, { sender: 'k8s_audit', request_timeout_ms: 10_000 }).request_timeout_ms, 10_000, 'a written option wins');
  assert.equal(withDefaults(httpServerSource, { sender: 'falco', when_full: 'reject' }).when_full, 'reject');
  const base: HttpServerConfig = withDefaults(httpServerSource, { sender: 'falco' });
  assert.deepEqual(validate({ ...base, address: 'localhost:99999', paths: ['/a', '/a'] }), ['address: "localhost:99999" is not host:port with a port up to 65535', 'paths: "/a" is listed twice']);
  assert.deepEqual(validate({ ...base, decoding: 'k8s_audit' }), ['decoding: k8s_audit is what kube-apiserver posts; with sender falco use auto, json or text']);
  assert.deepEqual(validate({ ...base, auth: { strategy: 'bearer' } }), ['auth: strategy bearer needs token or token_file']);
});
