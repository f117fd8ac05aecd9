/**
 * Local sinks: `console` (stdout/stderr) and `file` (NDJSON appended to a path). For the demo, for
 * tests, and for piping tern into other tools. Both acknowledge a batch once it was written.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Sink, SinkDefinition, ComponentContext } from '@tern/core';
import { BatchWriter, type Encoding } from './writer.ts';

export interface ConsoleSinkConfig {
  encoding: Encoding;
  target: 'stdout' | 'stderr';
}

export interface FileSinkConfig {
  path: string;
  encoding: Encoding;
  fsync: boolean;
}

const encodingSchema = (def: Encoding) => ({
  enum: ['json', 'text', 'pretty'],
  default: def,
  description: '`json`: one JSON object per line (an unchanged event is written as its original line); `text`: the original line (or `message`); `pretty`: indented JSON, for reading.',
  examples: ['json'],
});

function counters(ctx: ComponentContext) {
  const t = ctx.telemetry;
  return { eventsIn: t.counter('events_in'), delivered: t.counter('events_delivered'), bytes: t.counter('bytes_sent'), errors: t.counter('errors') };
}

function writerSink(writer: BatchWriter, close?: () => void): Sink {
  return {
    accept: (batch) => writer.push(batch),
    async stop(deadline) {
      await writer.flush(deadline);
      close?.();
    },
  };
}

export const consoleSink: SinkDefinition<ConsoleSinkConfig> = {
  kind: 'sink',
  type: 'console',
  description: 'Writes events to standard output (or error), one per line.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      encoding: encodingSchema('json'),
      target: { enum: ['stdout', 'stderr'], default: 'stdout', description: 'Stream to write to.', examples: ['stdout'] },
    },
  },
  build(cfg, ctx) {
    const fd = cfg.target === 'stderr' ? 2 : 1;
    const writer = new BatchWriter({
      fd: () => fd,
      encoding: cfg.encoding,
      fsync: false,
      counters: counters(ctx),
      onError: (err) => ctx.logger.error({ err }, `cannot write to ${cfg.target}; events stay unacknowledged`),
    });
    return writerSink(writer);
  },
};

export const fileSink: SinkDefinition<FileSinkConfig> = {
  kind: 'sink',
  type: 'file',
  description: 'Appends events to a file as NDJSON (one JSON object per line).',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1, description: 'File to append to, relative to the pipeline file; its directory is created.', examples: ['./out/events.ndjson'] },
      encoding: encodingSchema('json'),
      fsync: { type: 'boolean', default: false, description: 'fsync after every write before acknowledging (survives a power loss, costs throughput).', examples: [true] },
    },
  },
  build(cfg, ctx) {
    const path = resolve(ctx.configDir, cfg.path);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'a', 0o640);
    const writer = new BatchWriter({
      fd: () => fd,
      encoding: cfg.encoding,
      fsync: cfg.fsync,
      counters: counters(ctx),
      onError: (err) => ctx.logger.error({ err, path }, 'cannot write to file; events stay unacknowledged'),
    });
    let closed = false;
    return writerSink(writer, () => {
      if (!closed) closeSync(fd);
      closed = true;
    });
  },
};

export const sinks = [consoleSink, fileSink];
export { BatchWriter, encodeEvent, type Encoding } from './writer.ts';
