/**
 * The `buffer` block every sink has (the engine adds it to each sink's schema, as it adds `inputs`),
 * with its defaults. `max_bytes` has no single default because its sensible value depends on `type`
 * (8 MiB of events in memory, 256 MiB on disk): the schema gives it in an `if`/`then`/`else` on
 * `type`, so ajv fills it like every other default and no code picks one.
 */
import type { JsonSchema } from '../plugin/types.ts';

/** The buffer options as the schema completes them. */
export interface ResolvedBuffer {
  readonly type: 'memory' | 'disk';
  readonly max_events: number;
  readonly max_bytes: number;
  readonly when_full: 'block' | 'drop_newest';
  readonly sync: 'batch' | 'none';
}

export const DEFAULT_BUFFER = Object.freeze({
  type: 'memory',
  max_events: 10_000,
  memory_max_bytes: 8 * 1024 * 1024,
  disk_max_bytes: 256 * 1024 * 1024,
  when_full: 'block',
  sync: 'batch',
} as const);

export const BUFFER_SCHEMA: JsonSchema & { readonly default: unknown } = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description:
    'Where events wait between this sink\'s batcher and its requests. The in-flight budget covers only the path up to the buffers, so a slow or dead sink holds up the others only once its own buffer is full. `memory` holds events in memory and keeps the sources\' checkpoints until delivery; `disk` writes them to a checksummed segment log under `data_dir/buffers/<sink id>`, and the sources\' checkpoints move once they are written there (they survive a crash or restart of tern and are sent when the destination is back).',
  examples: [{ type: 'disk', max_bytes: 1073741824 }, { type: 'memory', max_events: 5000, when_full: 'drop_newest' }],
  properties: {
    type: { enum: ['memory', 'disk'], default: DEFAULT_BUFFER.type, description: '`memory` or `disk`.', examples: ['disk'] },
    max_events: {
      type: 'integer',
      minimum: 1,
      default: DEFAULT_BUFFER.max_events,
      description: 'Memory buffer: events held at most (accepted and not yet delivered or refused, in batches, requests and retries included).',
      examples: [20000],
    },
    max_bytes: {
      type: 'integer',
      minimum: 65536,
      description: 'Bytes held at most: raw event bytes in memory (default 8 MiB), or segment bytes on disk (default 256 MiB).',
      examples: [1073741824],
    },
    when_full: {
      enum: ['block', 'drop_newest'],
      default: DEFAULT_BUFFER.when_full,
      description: '`block`: wait for room, which slows the sources (and, through them, the other sinks); `drop_newest`: drop the events that do not fit, count them as `events_dropped` and log it (an alert webhook that must never hold up the SIEM).',
      examples: ['drop_newest'],
    },
    sync: {
      enum: ['batch', 'none'],
      default: DEFAULT_BUFFER.sync,
      description: 'Disk buffer: `batch` fsyncs written batches before the sources\' checkpoints may move past them (one fsync covers every batch written meanwhile), so they survive a power loss; `none` leaves flushing to the OS: they survive a crash or SIGKILL of tern, not of the node.',
      examples: ['none'],
    },
  },
  // `required`: with `type` left out, the memory default applies (as `type` defaults to memory),
  // whichever order ajv fills the two in.
  if: { properties: { type: { const: 'disk' } }, required: ['type'] },
  then: { properties: { max_bytes: { default: DEFAULT_BUFFER.disk_max_bytes } } },
  else: { properties: { max_bytes: { default: DEFAULT_BUFFER.memory_max_bytes } } },
};

