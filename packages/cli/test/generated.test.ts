/** Generated files stay in sync with the code: the published schema, the configuration reference, the error catalog. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '@tern/core';
import { builtinRegistry } from '../src/registry.ts';
import { referenceMarkdown, schemaFile } from '../src/reference.ts';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));

describe('generated files', () => {
  it('schema/tern.schema.json and docs/configuration.md are up to date (run `pnpm gen`)', () => {
    const reg = builtinRegistry();
    assert.equal(readFileSync(root('schema/tern.schema.json'), 'utf8'), schemaFile(reg));
    assert.equal(readFileSync(root('docs/configuration.md'), 'utf8'), referenceMarkdown(reg));
  });

  it('docs/errors.md lists every error code with its meaning', () => {
    const doc = readFileSync(root('docs/errors.md'), 'utf8');
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      assert.ok(doc.includes(`| \`${code}\` | ${meaning} |`), `docs/errors.md misses ${code}`);
    }
    const listed = [...doc.matchAll(/\| `(TERN_ERR_[A-Z_]+)` \|/g)].map((m) => m[1]);
    assert.deepEqual(listed.sort(), Object.keys(ERROR_CODES).sort());
  });
});
