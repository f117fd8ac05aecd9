// Keeps the options table of README.md in sync with the schema (the schema is the source of truth).
// Regenerate with: TERN_UPDATE_README=1 node --conditions=tern-src --test packages/sink-webhook/test/readme.test.ts
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { it } from 'node:test';
import type { JsonSchema } from '@tern/core';
import { schema } from '../src/index.ts';

const README = new URL('../README.md', import.meta.url);
const START = '<!-- options:start (generated from src/schema.ts by test/readme.test.ts; do not edit) -->';
const END = '<!-- options:end -->';

function typeOf(s: JsonSchema): string {
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.type === 'array') return `list of ${typeOf((s.items as JsonSchema | undefined) ?? {})}`;
  return typeof s.type === 'string' ? s.type : 'any';
}

function rows(props: Record<string, JsonSchema>, required: readonly string[], prefix = ''): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(props)) {
    const desc = String(s.description ?? '').replace(/\n/g, ' ').replace(/\|/g, '\\|');
    const def = s.default === undefined || (typeof s.default === 'object' && s.properties) ? '' : `\`${JSON.stringify(s.default)}\``.replace(/\|/g, '\\|');
    out.push(`| \`${prefix}${name}\`${required.includes(name) ? ' (required)' : ''} | ${typeOf(s)} | ${def} | ${desc} |`);
    if (s.type === 'object' && s.properties) out.push(...rows(s.properties as Record<string, JsonSchema>, (s.required as string[] | undefined) ?? [], `${prefix}${name}.`));
  }
  return out;
}

export function optionsTable(): string {
  return ['| option | type | default | description |', '|---|---|---|---|', ...rows(schema.properties as Record<string, JsonSchema>, [])].join('\n');
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
