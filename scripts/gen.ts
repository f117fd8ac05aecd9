/** Writes the generated files: schema/tern.schema.json and docs/configuration.md (`pnpm gen`). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { builtinRegistry } from '../packages/cli/src/registry.ts';
import { referenceMarkdown, schemaFile } from '../packages/cli/src/reference.ts';

const registry = builtinRegistry();
mkdirSync('schema', { recursive: true });
mkdirSync('docs', { recursive: true });
writeFileSync('schema/tern.schema.json', schemaFile(registry));
writeFileSync('docs/configuration.md', referenceMarkdown(registry));
console.log('wrote schema/tern.schema.json and docs/configuration.md');
