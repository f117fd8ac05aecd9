/**
 * The sink kit: everything a network sink shares. A sink supplies a `SinkProtocol` (encode, send,
 * classify) and gets a complete `Sink` from `createDeliverySink`; option blocks come from
 * `schemas.ts` so every sink documents and validates them the same way. See DESIGN.md.
 */
export * from './types.ts';
export * from './protocol.ts';
export * from './retry.ts';
export * from './schemas.ts';
export * from '../telemetry/log-limit.ts';
export * from './job.ts';
export * from './batcher.ts';
export * from './driver.ts';
export * from './secrets.ts';
export * from './http.ts';
export * from './body.ts';
