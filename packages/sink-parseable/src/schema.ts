/**
 * Options of the `parseable` sink: the JSON Schema the engine validates and documents with, the
 * matching TypeScript type (YAML keys kept), and the pure cross-field checks. Shared blocks come
 * from the sink kit; the batch block carries Parseable's numbers (protocol notes §3.6: default
 * 1,000 events / 4 MiB / 1 s, and never above the server's default 10 MiB payload limit).
 */
import {
  COMPRESSION_SCHEMA,
  HEALTHCHECK_SCHEMA,
  PROXY_SCHEMA,
  TLS_SCHEMA,
  batchSchema,
  compileTemplate,
  NAME_TEMPLATE,
  requestSchema,
  secretProperties,
  templateError,
  validateTls,
  type BatchDefaults,
  type DefaultedDelivery,
  type JsonSchema,
  type TlsOptions,
  optionsSchema,
  type DefaultedSchema,
} from '@tern/core';

export const PARSEABLE_BATCH_DEFAULTS: BatchDefaults = { max_events: 1000, max_bytes: 4 * 1024 * 1024, timeout_ms: 1000 };
/** `P_MAX_EVENT_PAYLOAD_SIZE` default (§3.6): a larger body is refused with 413. */
export const PARSEABLE_MAX_BYTES = 10 * 1024 * 1024;
/** Custom `X-P-*` fields the server keeps: 10 including its own `p_user_agent` and `p_src_ip` (§3.3). */
export const MAX_CUSTOM_FIELDS = 8;
export const MAX_CUSTOM_FIELD_VALUE = 100;
/** `x-p-*` headers the server reads as instructions, so they cannot be custom fields. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'stream', 'log-source', 'extract-log', 'update-stream', 'time-partition', 'time-partition-limit', 'custom-partition',
  'static-schema-flag', 'stream-type', 'telemetry-type', 'tenant', 'tenant-id', 'dataset-tag', 'dataset-tags',
]);

/** The options as the schema completes them (YAML keys; every default filled). */
export interface ParseableConfig extends DefaultedDelivery {
  readonly endpoint: string;
  readonly stream: string;
  readonly username: string;
  readonly password?: string;
  readonly password_file?: string;
  readonly explode_arrays: boolean;
  readonly create_stream: boolean;
  readonly custom_fields: Readonly<Record<string, string>>;
  readonly tls: TlsOptions;
  readonly proxy: string;
}

/** The kit's batch block with Parseable's defaults, max_bytes bounded by the server's payload limit. */
function parseableBatchSchema(): DefaultedSchema {
  const b = batchSchema(PARSEABLE_BATCH_DEFAULTS);
  const p = b.properties as Record<string, JsonSchema>;
  return { ...b, properties: { ...p, max_bytes: { ...p.max_bytes, maximum: PARSEABLE_MAX_BYTES } } };
}

export const schema = optionsSchema<ParseableConfig, 'buffer'>()({
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'stream', 'username'],
  properties: {
    endpoint: {
      type: 'string',
      pattern: '^https?://',
      description: 'Base URL of the Parseable server (or its ingestor); /api/v1/ingest is appended.',
      examples: ['http://parseable.parseable.svc:8000'],
    },
    stream: {
      type: 'string',
      minLength: 1,
      description:
        'Stream (dataset) name, or a template: {{field.path}} from the event (a missing field renders as unknown), {{@host}}, {{@source}}, {{@path}}, {{@fields.<name>}}. Parseable allows letters, digits, - and _ only: rendered values have every other character replaced by _ (falco.alerts → falco_alerts), an empty value becomes unknown and an SQL keyword gets a trailing _. A literal name must already be valid. The stream is created by the first ingest if missing.',
      examples: ['tetragon', 'k8s-{{kind}}'],
    },
    username: {
      type: 'string',
      minLength: 1,
      description: 'User for HTTP Basic authentication (a user with the ingest permission on the stream).',
      examples: ['tern-ingest'],
    },
    ...secretProperties('password', 'Password of username', '${PARSEABLE_PASSWORD}'),
    explode_arrays: {
      type: 'boolean',
      default: false,
      description:
        'false: array values are sent as JSON strings, so one event stays one row (Parseable turns every array into one row per element, and several arrays into their cartesian product). true: send arrays as they are and let Parseable explode them.',
      examples: [false],
    },
    create_stream: {
      type: 'boolean',
      default: false,
      description: 'Create the stream at start (PUT /api/v1/logstream/{stream}; "already exists" is fine), which also checks the credentials. Needs a literal stream and the create-stream permission. Without it, the first ingest creates the stream.',
      examples: [true],
    },
    custom_fields: {
      type: 'object',
      default: {},
      description: `Static columns added to every row, sent as X-P-<name> headers (the server lower-cases names and keeps at most ${MAX_CUSTOM_FIELDS} with values up to ${MAX_CUSTOM_FIELD_VALUE} characters).`,
      examples: [{ cluster: 'prod-eu1', shipper: 'tern' }],
      additionalProperties: { type: 'string', maxLength: MAX_CUSTOM_FIELD_VALUE },
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$' },
      maxProperties: MAX_CUSTOM_FIELDS,
    },
    tls: TLS_SCHEMA,
    proxy: PROXY_SCHEMA,
    compression: COMPRESSION_SCHEMA,
    healthcheck: HEALTHCHECK_SCHEMA,
    batch: parseableBatchSchema(),
    request: requestSchema(),
  },
});

/** Parseable's stream-name rule (§3.1), or undefined when `name` is valid. */
export function streamNameError(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  const bad = /[^A-Za-z0-9_-]/.exec(name);
  if (bad) return `"${name}" contains "${bad[0]}": Parseable allows letters, digits, - and _ (try "${sanitizeStream(name)}")`;
  if (SQL_KEYWORDS.has(name.toLowerCase())) return `"${name}" is an SQL keyword`;
  return undefined;
}

const SQL_KEYWORDS: ReadonlySet<string> = new Set(['select', 'from', 'where', 'group', 'by', 'order', 'limit', 'offset', 'join', 'and', 'sql']);

/** Makes any string a valid stream name: other characters → `_`, empty → `unknown`, SQL keyword → trailing `_`. */
export function sanitizeStream(s: string): string {
  const out = s.replace(/[^A-Za-z0-9_-]/g, '_');
  if (out === '') return 'unknown';
  return SQL_KEYWORDS.has(out.toLowerCase()) || out === 'DEFAULT_TENANT' ? `${out}_` : out;
}

/** Cross-field checks; pure. */
export function validate(c: ParseableConfig): string[] {
  const out: string[] = [];
  const has = (v: string | undefined): boolean => v !== undefined && v !== '';
  if (has(c.password) && has(c.password_file)) out.push('set password or password_file, not both');
  else if (!has(c.password) && !has(c.password_file)) out.push('password (or password_file) is required');
  const err = templateError(c.stream, NAME_TEMPLATE);
  const errs = err === undefined ? [] : [err];
  for (const e of errs) out.push(`stream: ${e}`);
  if (errs.length === 0) {
    const t = compileTemplate(c.stream, NAME_TEMPLATE);
    if (t.constant !== undefined) {
      const e = streamNameError(t.constant);
      if (e !== undefined) out.push(`stream: ${e}`);
    } else if (c.create_stream) out.push('create_stream needs a literal stream (a templated stream is created by its first ingest)');
  }
  for (const [k, v] of Object.entries(c.custom_fields)) {
    if (RESERVED_HEADERS.has(k.toLowerCase())) out.push(`custom_fields.${k}: X-P-${k} is a Parseable instruction header, not a field`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(v)) out.push(`custom_fields.${k}: control characters cannot go in a header`);
  }
  out.push(...validateTls(c.tls));
  return out;
}
