/**
 * The shape of the code, checked like behaviour: no import circles between modules (dpdm over every
 * package's entry points and the CLI, type imports included, because a circle through a type still
 * says the type lives in the wrong file); no two places in `packages/*\/src` with the same logic
 * (jscpd at its default sensitivity: 5 lines and 50 tokens); no source file over 400 lines unless
 * its opening comment says why; every source file opens with a comment on its role.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { parseCircular, parseDependencyTree } from 'dpdm';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCES = globSync('packages/*/src/**/*.ts', { cwd: ROOT }).sort();

/** Circles known and accepted: none. */
const KNOWN_CIRCLES: readonly string[] = [];

/** Files over 400 lines whose opening comment need not say why: none. */
const KNOWN_LARGE: readonly string[] = [];

it('no import circles (dpdm, type imports included)', async () => {
  const entries = [...globSync('packages/*/src/index.ts', { cwd: ROOT }), 'packages/cli/src/bin.ts', 'packages/core/src/testing/index.ts'].map((p) => join(ROOT, p));
  const tree = await parseDependencyTree(entries, { context: ROOT, cwd: ROOT, transform: false, skipDynamicImports: false, tsconfig: join(ROOT, 'tsconfig.json') });
  const circles = parseCircular(tree).map((c) => c.join(' -> '));
  assert.ok(Object.keys(tree).length > 100, `dpdm read only ${Object.keys(tree).length} modules`);
  assert.deepEqual(
    circles.filter((c) => !KNOWN_CIRCLES.includes(c)),
    [],
    'an import circle: move the type or function both sides need to the module that owns it',
  );
});

it('no two places in packages/*/src with the same logic (jscpd)', () => {
  const out = mkdtempSync(join(tmpdir(), 'tern-jscpd-'));
  try {
    const bin = createRequire(import.meta.url).resolve('jscpd/run-jscpd.js');
    const r = spawnSync(process.execPath, [bin, '--reporters', 'json', '--output', out, '--format', 'typescript', '--min-lines', '5', '--min-tokens', '50', ...globSync('packages/*/src', { cwd: ROOT })], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(readFileSync(join(out, 'jscpd-report.json'), 'utf8')) as {
      statistics: { total: { sources: number } };
      duplicates: Array<{ fragment: string; firstFile: { name: string; start: number }; secondFile: { name: string; start: number } }>;
    };
    assert.ok(report.statistics.total.sources > 100, `jscpd read only ${report.statistics.total.sources} files`);
    const pairs = report.duplicates.map((d) => `${d.firstFile.name}:${d.firstFile.start} ~ ${d.secondFile.name}:${d.secondFile.start}\n${d.fragment}`);
    assert.deepEqual(pairs, [], 'the same logic twice: give it one home and call it from both places');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

it('every source file opens with a comment on its role, and one over 400 lines says why it is not split', () => {
  const problems: string[] = [];
  for (const file of SOURCES) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const opening = /^(?:#![^\n]*\n)?\s*\/\*\*([\s\S]*?)\*\//.exec(text);
    if (opening === null) problems.push(`${file}: no opening comment`);
    const lines = text.split('\n').length;
    if (lines > 400 && !KNOWN_LARGE.includes(file) && !/\bOver 400 lines\b/.test(opening?.[1] ?? '')) problems.push(`${file}: ${lines} lines, and its opening comment does not say why ("Over 400 lines: …")`);
  }
  assert.deepEqual(problems, []);
  assert.ok(SOURCES.length > 100, `only ${SOURCES.length} source files found`);
});
