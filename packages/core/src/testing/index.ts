/**
 * `@tern/core/testing`: what sink and plugin tests share: the conformance suite every network sink
 * runs against its emulator, and small doubles (captured logs, synthetic events, tracked
 * acknowledgement groups, a manual clock).
 */
export * from './helpers.ts';
export * from './conformance.ts';
export * from './tls.ts';
export * from './readme.ts';
