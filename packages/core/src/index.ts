/** Public API of tern's core: the event model, the plugin contract, config, topology and the sink kit. */
export * from './errors.ts';
export * from './event/ack.ts';
export type * from './event/batch.ts';
export * from './event/event.ts';
export * from './plugin/registry.ts';
export * from './plugin/types.ts';
export * from './telemetry/telemetry.ts';
export * from './telemetry/logger.ts';
