/** Generated files stay in sync with the code: the published schema, the configuration reference, the error catalog, the metric names. */
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { componentMetricName, counterMetricName, ERROR_CODES, METRIC_CATALOG } from '@tern/core';
import { builtinRegistry } from '../src/registry.ts';
import { PACKAGE_README_TABLES, referenceMarkdown, schemaFile } from '../src/reference.ts';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));

describe('generated files', () => {
  it('schema/tern.schema.json and docs/configuration.md are up to date (run `pnpm gen`)', () => {
    const reg = builtinRegistry();
    assert.equal(readFileSync(root('schema/tern.schema.json'), 'utf8'), schemaFile(reg));
    assert.equal(readFileSync(root('docs/configuration.md'), 'utf8'), referenceMarkdown(reg));
  });

  it('`pnpm gen` writes every package README that carries a generated options table', () => {
    const marked = globSync('packages/*/README.md', { cwd: root('') }).filter((f) => readFileSync(root(f), 'utf8').includes('<!-- options:start')).sort();
    assert.deepEqual(PACKAGE_README_TABLES.map((t) => t.readme).sort(), marked);
  });

  it('docs/configuration.md lists what every component of a kind has: a sink\'s buffer, a transform\'s workers', () => {
    const doc = readFileSync(root('docs/configuration.md'), 'utf8');
    const section = (kind: string, type: string): string => doc.split(`## ${kind}`)[1]?.split(`### \`${type}\``)[1]?.split('\n### ')[0] ?? '';
    for (const sink of ['console', 'elasticsearch', 'file', 'logscale', 'parseable', 'webhook']) {
      const s = section('Sinks', sink);
      assert.match(s, /^\| `inputs` \(required\) \|/m, sink);
      for (const o of ['buffer.type', 'buffer.max_events', 'buffer.max_bytes', 'buffer.when_full', 'buffer.sync']) assert.match(s, new RegExp(`^\\| \`${o}\` \\|`, 'm'), `${sink}: ${o}`);
    }
    assert.match(section('Transforms', 'ecs'), /^\| `workers` \| integer \| `0` \|/m);
  });

  it('docs/errors.md lists every error code with its meaning', () => {
    const doc = readFileSync(root('docs/errors.md'), 'utf8');
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      assert.ok(doc.includes(`| \`${code}\` | ${meaning} |`), `docs/errors.md misses ${code}`);
    }
    const listed = [...doc.matchAll(/\| `(TERN_ERR_[A-Z_]+)` \|/g)].map((m) => m[1]);
    assert.deepEqual(listed.sort(), Object.keys(ERROR_CODES).sort());
  });

  it('docs/metrics.md lists every metric: the catalog, and every counter any component counts', () => {
    const doc = readFileSync(root('docs/metrics.md'), 'utf8');
    const listed = new Set([...doc.matchAll(/^\| `(tern_[a-z_]+)` \|/gm)].map((m) => m[1] as string));
    const expected = new Set<string>();
    for (const [name, entry] of Object.entries(METRIC_CATALOG)) {
      const metric = componentMetricName(name);
      expected.add(metric);
      assert.ok(doc.includes(`| \`${metric}\` | ${entry.type} |`), `docs/metrics.md: ${metric} with its type ${entry.type}`);
    }
    // Counters are named where they are created: counter('name') in any package's sources.
    for (const file of globSync('packages/*/src/**/*.ts', { cwd: root('') })) {
      for (const m of readFileSync(root(file), 'utf8').matchAll(/\.counter\('([a-z_]+)'\)/g)) expected.add(counterMetricName(m[1] as string));
    }
    assert.ok(expected.size > 40);
    assert.deepEqual([...listed].sort(), [...expected].sort(), 'docs/metrics.md and the code name different metrics');
    // Prometheus conventions: counters end in _total, a unit (seconds, bytes) comes last before it.
    const types = new Map<string, string>([...expected].map((n) => [n, 'counter']));
    for (const [name, entry] of Object.entries(METRIC_CATALOG)) types.set(componentMetricName(name), entry.type);
    for (const [name, type] of types) {
      const base = type === 'counter' ? name.replace(/_total$/, '') : name;
      if (type === 'counter') assert.match(name, /_total$/, `${name}: a counter ends in _total`);
      for (const unit of ['seconds', 'bytes']) if (base.includes(unit)) assert.ok(base.endsWith(`_${unit}`), `${name}: the unit ${unit} comes last`);
    }
  });
});
