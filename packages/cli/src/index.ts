/** Programmatic entry points of the CLI package: the built-in registry and the commander program. */
export { builtinRegistry } from './registry.ts';
export { createProgram, main } from './main.ts';
