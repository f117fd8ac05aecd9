/**
 * `@tern/core/testing`: what sink and plugin tests share: the conformance suite every network sink
 * runs against its emulator, the checks it shares with a sink's own tests (`assertFilledUpTo`), and the
 * small doubles it is built on (captured logs, synthetic events, tracked acknowledgement groups, a
 * manual clock). Test keys and the README checker are in
 * `@tern/test-kit`.
 */
export * from './helpers.ts';
export * from './conformance.ts';
export { assertFilledUpTo } from './checks.ts';
