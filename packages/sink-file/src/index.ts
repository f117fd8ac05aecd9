/**
 * Local sinks: `console` (stdout/stderr) and `file` (NDJSON appended to a path). For the demo, for
 * tests, for dead letters, and for piping tern into other tools. Both are built on the delivery kit
 * like every sink: a buffer, retries with backoff, dead letters and the stop deadline come from it;
 * their protocol (writer.ts) only appends lines to a file descriptor.
 */
import { fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { batchSchema, createDeliverySink, LogLimiter, optionsSchema, type BatchOptions, type BufferOptions, type ComponentContext, type DeliveryOptions, type Sink, type SinkDefinition } from '@tern/core';
import { FdProtocol, truncateTornTail, type Encoding } from './writer.ts';

/** Options of `console` as the schema completes them (YAML keys). */
export interface ConsoleSinkConfig {
  readonly encoding: Encoding;
  readonly target: 'stdout' | 'stderr';
  readonly batch: Required<BatchOptions>;
  readonly buffer?: BufferOptions;
}

/** Options of `file` as the schema completes them (YAML keys). */
export interface FileSinkConfig {
  readonly path: string;
  readonly encoding: Encoding;
  readonly fsync: boolean;
  readonly batch: Required<BatchOptions>;
  readonly buffer?: BufferOptions;
}

/** Local writes: large batches, a short wait, one write in flight (lines stay in order). */
export const LOCAL_BATCH_DEFAULTS = { max_events: 10_000, max_bytes: 4 * 1024 * 1024, timeout_ms: 100 } as const;

/** Delivery options of a local sink: no compression, no healthcheck, one write at a time, retry with backoff forever. */
function delivery(cfg: { readonly batch: Required<BatchOptions>; readonly buffer?: BufferOptions }): DeliveryOptions {
  return {
    batch: cfg.batch,
    ...(cfg.buffer ? { buffer: cfg.buffer } : {}),
    compression: 'none',
    healthcheck: false,
    request: { concurrency: 1, timeout_ms: 600_000, retry_initial_ms: 100, retry_max_ms: 5000, retry_max_duration_ms: 0 },
  };
}

const encodingSchema = (def: Encoding) => ({
  enum: ['json', 'text', 'pretty'],
  default: def,
  description: '`json`: one JSON object per line (an unchanged event is written as its original line); `text`: the original line (or `message`); `pretty`: indented JSON, for reading.',
  examples: ['json'],
});

export const consoleSink: SinkDefinition<ConsoleSinkConfig> = {
  kind: 'sink',
  type: 'console',
  description: 'Writes events to standard output (or error), one per line.',
  schema: optionsSchema<ConsoleSinkConfig, 'buffer'>()({
    type: 'object',
    additionalProperties: false,
    properties: {
      encoding: encodingSchema('json'),
      target: { enum: ['stdout', 'stderr'], default: 'stdout', description: 'Stream to write to.', examples: ['stdout'] },
      batch: batchSchema(LOCAL_BATCH_DEFAULTS),
    },
  }),
  build(cfg, ctx): Sink {
    const protocol = new FdProtocol({
      fd: cfg.target === 'stderr' ? 2 : 1,
      name: cfg.target,
      encoding: cfg.encoding,
      fsync: false,
      truncatable: false,
      limiter: new LogLimiter(ctx.logger),
      writeErrors: ctx.telemetry.counter('write_errors'),
    });
    return createDeliverySink(protocol, delivery(cfg), ctx);
  },
};

export const fileSink: SinkDefinition<FileSinkConfig> = {
  kind: 'sink',
  type: 'file',
  description: 'Appends events to a file as NDJSON (one JSON object per line).',
  schema: optionsSchema<FileSinkConfig, 'buffer'>()({
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1, description: 'File to append to, relative to the pipeline file; its directory is created.', examples: ['./out/events.ndjson'] },
      encoding: encodingSchema('json'),
      fsync: { type: 'boolean', default: false, description: 'fsync after every write before acknowledging (survives a power loss, costs throughput).', examples: [true] },
      batch: batchSchema(LOCAL_BATCH_DEFAULTS),
    },
  }),
  build(cfg, ctx: ComponentContext): Sink {
    const path = resolve(ctx.configDir, cfg.path);
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    const fd = openSync(path, 'a+', 0o640); // read too: to find a torn last line
    const regular = fstatSync(fd).isFile();
    if (regular) {
      const torn = truncateTornTail(fd);
      if (torn) ctx.logger.warn({ file: path, bytes: `${torn.from}-${torn.to}` }, `${path} ended in a torn line (bytes ${torn.from}-${torn.to}, left by an interrupted write); truncated it back to the last whole line`);
    }
    const protocol = new FdProtocol({
      fd,
      name: path,
      encoding: cfg.encoding,
      fsync: cfg.fsync,
      truncatable: regular,
      limiter: new LogLimiter(ctx.logger),
      writeErrors: ctx.telemetry.counter('write_errors'),
      close: true,
    });
    return createDeliverySink(protocol, delivery(cfg), ctx);
  },
};

export const sinks = [consoleSink, fileSink];
export { FdProtocol, encodeEvent, truncateTornTail, type Encoding } from './writer.ts';
