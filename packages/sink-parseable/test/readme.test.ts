// Keeps the options table of README.md in sync with the schema (the schema is the source of truth).
// Regenerate with: TERN_UPDATE_README=1 node --conditions=tern-src --test packages/sink-parseable/test/readme.test.ts
import { it } from 'node:test';
import { checkReadmeOptions } from '@tern/core/testing';
import { schema } from '../src/index.ts';

it('README options table matches the schema', () => {
  checkReadmeOptions(new URL('../README.md', import.meta.url), schema);
});
