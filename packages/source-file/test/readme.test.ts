// Keeps the options table of README.md in sync with the schema (the schema is the source of truth).
// Regenerate with: TERN_UPDATE_README=1 node --conditions=tern-src --test packages/source-file/test/readme.test.ts
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { it } from 'node:test';
import type { JsonSchema } from '@tern/core';
import { fileSource } from '../src/index.ts';

const README = new URL('../README.md', import.meta.url);
const START = '<!-- options:start (generated from src/index.ts by test/readme.test.ts; do not edit) -->';
const END = '<!-- options:end -->';

function typeOf(s: JsonSchema): string {
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.type === 'array') return `list of ${typeOf((s.items as JsonSchema | undefined) ?? {})}`;
  if (Array.isArray(s.anyOf)) return (s.anyOf as JsonSchema[]).map(typeOf).join(' \\| ');
  return typeof s.type === 'string' ? s.type : 'any';
}

export function optionsTable(): string {
  const required = (fileSource.schema.required as string[] | undefined) ?? [];
  const rows = Object.entries(fileSource.schema.properties as Record<string, JsonSchema>).map(([name, s]) => {
    const desc = String(s.description ?? '').replace(/\n/g, ' ').replace(/\|/g, '\\|');
    const def = s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``.replace(/\|/g, '\\|');
    return `| \`${name}\`${required.includes(name) ? ' (required)' : ''} | ${typeOf(s)} | ${def} | ${desc} |`;
  });
  return ['| option | type | default | description |', '|---|---|---|---|', ...rows].join('\n');
}

it('README options table matches the schema', () => {
  const text = readFileSync(README, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  assert.ok(a >= 0 && b > a, 'README has the options markers');
  const want = `${text.slice(0, a + START.length)}\n${optionsTable()}\n${text.slice(b)}`;
  if (process.env.TERN_UPDATE_README === '1') writeFileSync(README, want);
  else assert.equal(text, want, 'README options are stale: rerun with TERN_UPDATE_README=1');
});

it('every option has a description, an example and (unless required) a default', () => {
  for (const [name, s] of Object.entries(fileSource.schema.properties as Record<string, JsonSchema>)) {
    assert.ok(typeof s.description === 'string' && s.description.length > 20, `${name}: description`);
    assert.ok(Array.isArray(s.examples) && s.examples.length > 0, `${name}: examples`);
    if (name !== 'include' && name !== 'path_fields') assert.ok(s.default !== undefined, `${name}: default`);
  }
});
