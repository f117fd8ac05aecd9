// Keeps the options table of README.md in sync with the schema (the schema is the source of truth).
// Regenerate with: TERN_UPDATE_README=1 node --conditions=tern-src --test packages/source-file/test/readme.test.ts
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { JsonSchema } from '@tern/core';
import { optionsTable } from '@tern/core';
import { checkReadmeTable } from '@tern/test-kit';
import { fileSource } from '../src/index.ts';

it('README options table matches the schema', () => {
  checkReadmeTable(new URL('../README.md', import.meta.url), optionsTable(fileSource.schema));
});

it('every option has a description, an example and (unless required) a default', () => {
  for (const [name, s] of Object.entries(fileSource.schema.properties as Record<string, JsonSchema>)) {
    assert.ok(typeof s.description === 'string' && s.description.length > 20, `${name}: description`);
    assert.ok(Array.isArray(s.examples) && s.examples.length > 0, `${name}: examples`);
    if (name !== 'include' && name !== 'path_fields' && name !== 'multiline') assert.ok(s.default !== undefined, `${name}: default`);
  }
});
