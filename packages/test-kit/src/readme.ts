/**
 * Keeps a package README's options table in sync with the component's schema (the schema is the
 * source of truth; the caller renders it with core's `optionsTable`). The table sits between
 * `<!-- options:start ... -->` and `<!-- options:end -->`; `pnpm gen` rewrites every package's, and
 * `TERN_UPDATE_README=1` makes the check rewrite it instead of failing.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';

/** The README's text with `table` between its markers (`pnpm gen` writes it, the tests compare). */
export function readmeWithTable(text: string, table: string): string {
  const a = text.indexOf('<!-- options:start');
  const startEnd = text.indexOf('-->', a) + 3;
  const b = text.indexOf('<!-- options:end -->');
  assert.ok(a >= 0 && b > startEnd, 'README has the <!-- options:start --> / <!-- options:end --> markers');
  return `${text.slice(0, startEnd)}\n${table}\n${text.slice(b)}`;
}

export function checkReadmeTable(readme: URL | string, table: string): void {
  const text = readFileSync(readme, 'utf8');
  const want = readmeWithTable(text, table);
  if (process.env.TERN_UPDATE_README === '1') writeFileSync(readme, want);
  else assert.equal(text, want, 'README options table is stale: run `pnpm gen` (or this test with TERN_UPDATE_README=1)');
}
