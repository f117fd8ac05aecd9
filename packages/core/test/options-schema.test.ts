/**
 * optionsSchema: a component's options type and its JSON schema are compared when tern is compiled
 * (`pnpm typecheck`, the first step of `pnpm test`). Each `@ts-expect-error` below is a drift the
 * compiler must refuse: if it stopped refusing one, the directive itself would fail the typecheck.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { optionsSchema } from '@tern/core';

interface Opts {
  readonly path: string;
  readonly level: number;
  readonly mode: 'fast' | 'safe';
  readonly label?: string;
}

const props = {
  path: { type: 'string' },
  level: { type: 'integer', default: 3 },
  mode: { enum: ['fast', 'safe'], default: 'safe' },
  label: { type: 'string' },
} as const;

describe('optionsSchema', () => {
  it('returns the schema as given when type and schema agree', () => {
    const schema = optionsSchema<Opts>()({ type: 'object', required: ['path'], properties: props });
    assert.equal(schema.properties.level.default, 3);
  });

  it('refuses, at compile time, every kind of drift between the two', () => {
    // @ts-expect-error level: optional in the type, but the schema gives a default
    optionsSchema<Omit<Opts, 'level'> & { readonly level?: number }>()({ type: 'object', required: ['path'], properties: props });
    // @ts-expect-error path: required in the type, but the schema neither requires it nor gives a default
    optionsSchema<Opts>()({ type: 'object', properties: props });
    // @ts-expect-error extra: in the options type, not in the schema
    optionsSchema<Opts & { readonly extra: boolean }>()({ type: 'object', required: ['path'], properties: props });
    // @ts-expect-error label: in the schema, not in the options type
    optionsSchema<Omit<Opts, 'label'>>()({ type: 'object', required: ['path'], properties: props });
    // @ts-expect-error mode: typed with other values than the schema's enum
    optionsSchema<Omit<Opts, 'mode'> & { readonly mode: 'fast' | 'safe' | 'turbo' }>()({ type: 'object', required: ['path'], properties: props });
    // Options filled in elsewhere (a sink's `buffer`) are left out of the comparison.
    const withBuffer = optionsSchema<Opts & { readonly buffer: object }, 'buffer'>()({ type: 'object', required: ['path'], properties: props });
    assert.ok(withBuffer.properties.path);
  });
});
