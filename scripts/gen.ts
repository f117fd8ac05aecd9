/**
 * Writes the generated files (`pnpm gen`): schema/tern.schema.json, docs/configuration.md, and the
 * options table of each plugin package's README (the tables their readme.test.ts files check).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { optionsTable } from '../packages/core/src/index.ts';
import { builtinRegistry } from '../packages/cli/src/registry.ts';
import { PACKAGE_README_TABLES, referenceMarkdown, schemaFile } from '../packages/cli/src/reference.ts';
import { readmeWithTable } from '../packages/test-kit/src/readme.ts';

const registry = builtinRegistry();
mkdirSync('schema', { recursive: true });
mkdirSync('docs', { recursive: true });
writeFileSync('schema/tern.schema.json', schemaFile(registry));
writeFileSync('docs/configuration.md', referenceMarkdown(registry));
for (const { readme, kind, type } of PACKAGE_README_TABLES) {
  const def = registry.get(kind, type);
  if (!def) throw new Error(`scripts/gen.ts: no ${kind} ${type} registered for ${readme}`);
  writeFileSync(readme, readmeWithTable(readFileSync(readme, 'utf8'), optionsTable(def.schema)));
}
console.log(`wrote schema/tern.schema.json, docs/configuration.md and ${PACKAGE_README_TABLES.length} package README option tables`);
