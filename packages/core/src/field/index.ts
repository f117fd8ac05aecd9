/**
 * The field library: the one implementation of the small jobs every package does with event
 * fields and options — field paths (get/set/delete), origin fields, `{{field}}` templates (text and
 * JSON), event times, secrets from files, the bounded LRU cache and Falco's priority order. Rate-limited logging is the
 * other shared piece; it lives with the logger (telemetry/log-limit.ts).
 */
export * from './path.ts';
export * from './origin.ts';
export * from './template.ts';
export * from './json-template.ts';
export * from './time.ts';
export * from './secret.ts';
export * from './lru.ts';
export * from './priority.ts';
