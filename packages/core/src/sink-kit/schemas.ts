/**
 * JSON Schemas of the option blocks every network sink shares (`batch`, `request`, `tls`, `auth`,
 * `compression`, `healthcheck`, `proxy`), for sinks to embed in their own schema so that the same
 * key means the same thing, with the same bounds, in every sink. Sinks whose protocol suggests
 * other defaults (LogScale: 1,000 events / 1 MB; Elasticsearch: 5 MB) build the block with
 * `batchSchema({...})` / `requestSchema({...})`. Defaults come from these schemas only: ajv fills
 * them when a pipeline file is loaded (or `withDefaults` builds options in code), and the kit's
 * `resolveDelivery` completes delivery options handed to it directly from the same blocks, so the
 * documented default is the applied one and no code picks a default of its own.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { TernError } from '../errors.ts';
import { secretProperties } from '../field/secret.ts';
import { BUFFER_SCHEMA, type ResolvedBuffer } from '../buffer/schema.ts';
import { COMPONENT_AJV_OPTIONS } from '../config/defaults.ts';
import { deepFreeze } from '../config/freeze.ts';
import type { JsonSchema } from '../plugin/types.ts';
import type { Compression, DeliveryOptions } from './types.ts';

export interface BatchDefaults {
  readonly max_events: number;
  readonly max_bytes: number;
  readonly timeout_ms: number;
}

export interface RequestDefaults {
  readonly concurrency: number;
  readonly timeout_ms: number;
  readonly retry_initial_ms: number;
  readonly retry_max_ms: number;
  readonly retry_max_duration_ms: number;
}

export const DEFAULT_BATCH: BatchDefaults = Object.freeze({ max_events: 1000, max_bytes: 1_000_000, timeout_ms: 1000 });

export const DEFAULT_REQUEST: RequestDefaults = Object.freeze({
  concurrency: 4,
  timeout_ms: 30_000,
  retry_initial_ms: 500,
  retry_max_ms: 30_000,
  retry_max_duration_ms: 0,
});

/** A shared block's schema that fills itself in (`default`): a component's options type has it always set (see optionsSchema). */
export type DefaultedSchema = JsonSchema & { readonly default: unknown };

/** The `batch` block, with the given defaults. */
export function batchSchema(defaults: Partial<BatchDefaults> = {}): DefaultedSchema {
  const d = { ...DEFAULT_BATCH, ...defaults };
  return {
    type: 'object',
    description: 'When a batch is sent: whichever limit is reached first.',
    additionalProperties: false,
    default: {},
    examples: [{ max_events: 500, timeout_ms: 2000 }],
    properties: {
      max_events: {
        type: 'integer',
        minimum: 1,
        maximum: 100_000,
        default: d.max_events,
        description: 'Send the batch once it holds this many events.',
        examples: [500, 5000],
      },
      max_bytes: {
        type: 'integer',
        minimum: 1024,
        maximum: 100_000_000,
        default: d.max_bytes,
        description: 'Send the batch once its encoded body (before compression) reaches this many bytes; a larger request is split before sending.',
        examples: [1_000_000, 5_000_000],
      },
      timeout_ms: {
        type: 'integer',
        minimum: 1,
        maximum: 600_000,
        default: d.timeout_ms,
        description: 'Send a non-empty batch this many milliseconds after its first event arrived.',
        examples: [1000, 5000],
      },
    },
  };
}

/** The `request` block, with the given defaults. */
export function requestSchema(defaults: Partial<RequestDefaults> = {}): DefaultedSchema {
  const d = { ...DEFAULT_REQUEST, ...defaults };
  return {
    type: 'object',
    description: 'How requests are sent and retried.',
    additionalProperties: false,
    default: {},
    examples: [{ concurrency: 8, retry_max_ms: 60_000 }],
    properties: {
      concurrency: {
        type: 'integer',
        minimum: 1,
        maximum: 256,
        default: d.concurrency,
        description: 'Requests in flight at once (a request waiting to be retried keeps its slot).',
        examples: [2, 8],
      },
      timeout_ms: {
        type: 'integer',
        minimum: 100,
        maximum: 600_000,
        default: d.timeout_ms,
        description: 'Abort a request that has not been answered after this many milliseconds, and retry it.',
        examples: [10_000, 60_000],
      },
      retry_initial_ms: {
        type: 'integer',
        minimum: 1,
        maximum: 600_000,
        default: d.retry_initial_ms,
        description: 'Backoff of the first retry; it doubles with each retry (full jitter: a random delay up to that value).',
        examples: [250, 1000],
      },
      retry_max_ms: {
        type: 'integer',
        minimum: 1,
        maximum: 3_600_000,
        default: d.retry_max_ms,
        description: 'Cap of the backoff. Also the interval between probes while the sink is paused on refused credentials.',
        examples: [10_000, 60_000],
      },
      retry_max_duration_ms: {
        type: 'integer',
        minimum: 0,
        default: d.retry_max_duration_ms,
        description: 'Refuse for good the events still failing transiently (or waiting on a failed healthcheck or a paused sink) after this many milliseconds: to the sink\'s dead_letter output when a component reads it, else rejected (counted, and the run fails); 0 retries forever (events stay buffered and sources wait).',
        examples: [0, 3_600_000],
      },
      headers: {
        type: 'object',
        default: {},
        description: 'Extra HTTP headers sent with every request.',
        examples: [{ 'X-Cluster': 'prod-eu1' }],
        additionalProperties: { type: 'string' },
      },
    },
  };
}

export const BATCH_SCHEMA: JsonSchema = batchSchema();
export const REQUEST_SCHEMA: JsonSchema = requestSchema();

export const TLS_SCHEMA: DefaultedSchema = {
  type: 'object',
  description: 'TLS settings for https endpoints.',
  additionalProperties: false,
  default: {},
  examples: [{ ca_file: '/etc/tern/ca.crt', server_name: 'es.internal' }],
  properties: {
    ca_file: {
      type: 'string',
      minLength: 1,
      description: 'PEM file of CA certificates to trust instead of the system ones (relative to the pipeline file).',
      examples: ['/etc/ssl/certs/internal-ca.pem'],
    },
    crt_file: {
      type: 'string',
      minLength: 1,
      description: 'PEM client certificate for mutual TLS (needs key_file).',
      examples: ['/etc/tern/client.crt'],
    },
    key_file: {
      type: 'string',
      minLength: 1,
      description: 'PEM private key of crt_file.',
      examples: ['/etc/tern/client.key'],
    },
    server_name: {
      type: 'string',
      minLength: 1,
      description: 'Server name for SNI and certificate verification, when it differs from the endpoint host.',
      examples: ['es.internal.example'],
    },
    verify: {
      type: 'boolean',
      default: true,
      description: 'Verify the server certificate. Turning this off is for tests only.',
      examples: [true],
    },
  },
};

/**
 * `auth`: a tagged union keyed by `strategy`, written as one closed object rather than `oneOf`
 * branches: ajv ignores defaults inside `oneOf` and its `oneOf` errors are unreadable; which keys
 * belong to which strategy is checked by `validateAuth`, with messages that name the option.
 * Secrets and the block itself have no default: absent means not set (an empty-string default
 * filled in by ajv `useDefaults` would read as "set").
 */
export const AUTH_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Credentials, by strategy: basic (user + password), bearer (token) or api_key. Omit for none.',
  additionalProperties: false,
  required: ['strategy'],
  examples: [
    { strategy: 'basic', user: 'tern', password: '${ES_PASSWORD}' },
    { strategy: 'api_key', api_key_file: '/var/run/secrets/tern/api_key' },
  ],
  properties: {
    strategy: {
      type: 'string',
      enum: ['basic', 'bearer', 'api_key'],
      description: 'basic: HTTP Basic with user + password. bearer: `Authorization: Bearer <token>`. api_key: the API key header of the sink (Elasticsearch: `Authorization: ApiKey <key>`).',
      examples: ['basic', 'api_key'],
    },
    user: { type: 'string', minLength: 1, description: 'User name (strategy basic).', examples: ['tern'] },
    ...secretProperties('password', 'Password (strategy basic)', '${ES_PASSWORD}'),
    ...secretProperties('token', 'Token (strategy bearer)', '${INGEST_TOKEN}'),
    ...secretProperties('api_key', 'API key (strategy api_key)', '${API_KEY}'),
  },
};

export const COMPRESSION_SCHEMA: DefaultedSchema = {
  type: 'string',
  enum: ['gzip', 'none'],
  default: 'gzip',
  description: 'Request body compression (gzip runs on the libuv thread pool, off the event loop).',
  examples: ['gzip', 'none'],
};

export const HEALTHCHECK_SCHEMA: DefaultedSchema = {
  type: 'boolean',
  default: true,
  description: 'Check the destination at start; events are buffered (not sent) until it answers as expected. The check never blocks start-up.',
  examples: [true, false],
};

export const PROXY_SCHEMA: DefaultedSchema = {
  type: 'string',
  default: '',
  description: 'HTTP(S) proxy URL for all requests of this sink (CONNECT for https endpoints).',
  examples: ['http://proxy.internal:3128'],
};

/** Cross-field checks of an `auth` block (exactly one of a secret and its `_file`). Pure. */
export function validateAuth(auth: unknown, path = 'auth'): string[] {
  if (auth === undefined || auth === null || typeof auth !== 'object') return [];
  const a = auth as Record<string, unknown>;
  const own: Record<string, string[]> = { basic: ['user', 'password'], bearer: ['token'], api_key: ['api_key'] };
  const keys = own[String(a.strategy)];
  if (keys === undefined) return [];
  const set = (k: string): boolean => typeof a[k] === 'string' && a[k] !== '';
  const out: string[] = [];
  for (const k of ['user', 'password', 'token', 'api_key']) {
    if (!keys.includes(k) && (set(k) || set(`${k}_file`))) out.push(`${path}: ${set(k) ? k : `${k}_file`} does not apply to strategy ${String(a.strategy)}`);
  }
  if (a.strategy === 'basic' && !set('user')) out.push(`${path}: strategy basic needs user`);
  const key = keys[keys.length - 1] as string;
  if (set(key) && set(`${key}_file`)) out.push(`${path}: set ${key} or ${key}_file, not both`);
  else if (!set(key) && !set(`${key}_file`)) out.push(`${path}: strategy ${String(a.strategy)} needs ${key} or ${key}_file`);
  return out;
}

/** Cross-field checks of a `tls` block. Pure. */
export function validateTls(tls: unknown, path = 'tls'): string[] {
  if (tls === undefined || tls === null || typeof tls !== 'object') return [];
  const t = tls as Record<string, unknown>;
  const crt = typeof t.crt_file === 'string' && t.crt_file !== '';
  const key = typeof t.key_file === 'string' && t.key_file !== '';
  if (crt !== key) return [`${path}: crt_file and key_file go together`];
  return [];
}

export interface ResolvedDelivery {
  readonly batch: BatchDefaults;
  readonly request: RequestDefaults & { readonly headers: Readonly<Record<string, string>> };
  readonly compression: Compression;
  readonly healthcheck: boolean;
  readonly buffer: ResolvedBuffer;
}

/** The delivery blocks with the kit's defaults, as one schema (compiled once, in ajv's strict mode, when the kit loads). */
export const DELIVERY_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { batch: BATCH_SCHEMA, request: REQUEST_SCHEMA, compression: COMPRESSION_SCHEMA, healthcheck: HEALTHCHECK_SCHEMA, buffer: BUFFER_SCHEMA },
};

const completeDelivery = new Ajv2020(COMPONENT_AJV_OPTIONS).compile(DELIVERY_SCHEMA);

/**
 * The delivery options of a sink, complete and frozen. Options from a pipeline file (or
 * `withDefaults`) are complete already, with the sink's own defaults; options handed to the kit
 * directly (tests, tools) get the kit's defaults from `DELIVERY_SCHEMA`, filled by ajv. Throws
 * `TERN_ERR_CONFIG_SCHEMA` naming each option the schema refuses.
 */
export function resolveDelivery(opts: DeliveryOptions): ResolvedDelivery {
  const doc: Record<string, unknown> = {};
  for (const k of ['batch', 'request', 'compression', 'healthcheck', 'buffer'] as const) if (opts[k] !== undefined) doc[k] = structuredClone(opts[k]);
  if (!completeDelivery(doc)) {
    const problems = (completeDelivery.errors ?? []).filter((e) => e.keyword !== 'if').map((e) => `${e.instancePath.slice(1).replaceAll('/', '.') || 'options'} ${e.message ?? ''}`.trim());
    throw new TernError('TERN_ERR_CONFIG_SCHEMA', `delivery options: ${problems.join('; ')}`);
  }
  return deepFreeze(doc as unknown as ResolvedDelivery);
}
