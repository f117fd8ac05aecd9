/** Public API of tern's core: the event model, the plugin contract, config, topology and the sink kit. */
export * from './errors.ts';
export * from './event/ack.ts';
export type * from './event/batch.ts';
export * from './event/event.ts';
export * from './plugin/registry.ts';
export * from './plugin/types.ts';
export * from './telemetry/telemetry.ts';
export * from './telemetry/logger.ts';
export * from './config/load.ts';
export * from './config/schema.ts';
export * from './config/secret.ts';
export * from './config/interpolate.ts';
export * from './config/suggest.ts';
export * from './topology/graph.ts';
export * from './topology/budget.ts';
export * from './topology/pipeline.ts';
export * from './io/lines.ts';
export * from './io/decode.ts';
