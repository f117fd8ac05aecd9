// Keeps the options table of README.md in sync with the schema (the schema is the source of truth).
// Regenerate with: TERN_UPDATE_README=1 node --conditions=tern-src --test packages/sink-logscale/test/readme.test.ts
import { it } from 'node:test';
import { optionsTable } from '@tern/core';
import { checkReadmeTable } from '@tern/test-kit';
import { schema } from '../src/index.ts';

it('README options table matches the schema', () => {
  checkReadmeTable(new URL('../README.md', import.meta.url), optionsTable(schema));
});
