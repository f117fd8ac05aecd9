/**
 * Every component a plugin package exports can be named in a pipeline file: the built-in registry
 * holds each definition the packages export, by its kind and type (a definition left out of its
 * package's list would be documented by nothing and refused by `tern validate` as an unknown type).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ComponentDefinition } from '@tern/core';
import * as elasticsearch from '@tern/sink-elasticsearch';
import * as file from '@tern/sink-file';
import * as logscale from '@tern/sink-logscale';
import * as parseable from '@tern/sink-parseable';
import * as webhook from '@tern/sink-webhook';
import * as sourceFile from '@tern/source-file';
import * as sourceHttp from '@tern/source-http';
import * as transforms from '@tern/transforms';
import { builtinRegistry } from '../src/registry.ts';

const PACKAGES = { elasticsearch, file, logscale, parseable, webhook, sourceFile, sourceHttp, transforms };

function isDefinition(v: unknown): v is ComponentDefinition {
  if (v === null || typeof v !== 'object') return false;
  const d = v as Partial<ComponentDefinition>;
  return (d.kind === 'source' || d.kind === 'transform' || d.kind === 'sink') && typeof d.type === 'string' && typeof d.build === 'function';
}

it('the built-in registry holds every component definition a plugin package exports', () => {
  const registry = builtinRegistry();
  const exported = new Set<ComponentDefinition>();
  for (const [pkg, mod] of Object.entries(PACKAGES)) {
    for (const [name, v] of Object.entries(mod)) {
      if (!isDefinition(v)) continue;
      exported.add(v);
      assert.equal(registry.get(v.kind, v.type), v, `${pkg} exports ${name} (${v.kind} ${v.type}), which a pipeline file cannot name`);
    }
  }
  assert.ok(exported.size >= 15, `only ${exported.size} definitions found among the exports`);
  assert.equal(registry.all().length, exported.size, 'the registry holds a definition no package exports by name');
});
