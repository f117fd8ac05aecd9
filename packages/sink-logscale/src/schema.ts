/**
 * Options of the `logscale` sink: the JSON Schema the engine validates and documents with, the
 * matching TypeScript type (YAML keys kept), and the pure cross-field checks. Shared blocks come
 * from the sink kit; the batch block carries LogScale's own numbers (protocol notes §1.7: default
 * 1,000 events / 1 MB / 1 s, and never more than the documented 5,000 events / 5 MB per request).
 */
import {
  COMPRESSION_SCHEMA,
  HEALTHCHECK_SCHEMA,
  PROXY_SCHEMA,
  TLS_SCHEMA,
  batchSchema,
  NAME_TEMPLATE,
  pathError,
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

export const LOGSCALE_BATCH_DEFAULTS: BatchDefaults = { max_events: 1000, max_bytes: 1_000_000, timeout_ms: 1000 };
/** LogScale's "Ingest via API best practices": at most 5,000 events and 5 MB uncompressed per request. */
export const LOGSCALE_MAX_EVENTS = 5000;
export const LOGSCALE_MAX_BYTES = 5_000_000;

export type LogScaleMode = 'structured' | 'unstructured' | 'hec';

export const DEFAULT_TIMESTAMP_FIELDS: readonly string[] = ['@timestamp', 'time', 'timestamp', 'requestReceivedTimestamp'];
export const DEFAULT_TAGS: Readonly<Record<string, string>> = { source: '{{@source}}' };

/** The options as the schema completes them (YAML keys; every default filled). */
export interface LogScaleConfig extends DefaultedDelivery {
  readonly endpoint: string;
  readonly token?: string;
  readonly token_file?: string;
  readonly mode: LogScaleMode;
  readonly tags: Readonly<Record<string, string>>;
  readonly timestamp_fields: readonly string[];
  readonly rawstring: boolean;
  readonly event_id: boolean;
  readonly tls: TlsOptions;
  readonly proxy: string;
}

/** The kit's batch block with LogScale's defaults, and its bounds tightened to the documented request limits. */
function logscaleBatchSchema(): DefaultedSchema {
  const b = batchSchema(LOGSCALE_BATCH_DEFAULTS);
  const p = b.properties as Record<string, JsonSchema>;
  return {
    ...b,
    properties: {
      ...p,
      max_events: { ...p.max_events, maximum: LOGSCALE_MAX_EVENTS },
      max_bytes: { ...p.max_bytes, maximum: LOGSCALE_MAX_BYTES },
    },
  };
}

export const schema = optionsSchema<LogScaleConfig, 'buffer'>()({
  type: 'object',
  additionalProperties: false,
  required: ['endpoint'],
  properties: {
    endpoint: {
      type: 'string',
      pattern: '^https?://',
      description: 'Base URL of the LogScale cluster (or its ingest host); the ingest path is appended.',
      examples: ['https://cloud.community.humio.com', 'https://logscale.internal:8080'],
    },
    ...secretProperties('token', 'Ingest token (it picks the repository and parser)', '${LOGSCALE_INGEST_TOKEN}'),
    mode: {
      type: 'string',
      enum: ['structured', 'unstructured', 'hec'],
      default: 'structured',
      description:
        'structured: POST /api/v1/ingest/humio-structured, each event as attributes with its timestamp. unstructured: POST /api/v1/ingest/humio-unstructured, the original lines for the parser bound to the token. hec: POST /services/collector/event (Splunk HEC format, tags as #fields).',
      examples: ['structured', 'unstructured'],
    },
    tags: {
      type: 'object',
      default: DEFAULT_TAGS,
      description:
        'Tags (LogScale datasources) of every event; values may be {{field.path}} templates (a missing field renders as unknown), or origin fields: {{@host}} (node name), {{@source}} (source id), {{@path}} (file path), {{@fields.<name>}} (a path_fields capture). Events are grouped per distinct tag set. Keep them low-cardinality (at most 10,000 datasources per repository).',
      examples: [{ source: 'tetragon', cluster: 'prod-eu1', node: '{{@host}}' }],
      additionalProperties: { type: 'string' },
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$' },
      maxProperties: 20,
    },
    timestamp_fields: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      default: DEFAULT_TIMESTAMP_FIELDS,
      description:
        'Fields (field paths) holding the event time, first found wins: an RFC 3339 string is sent as is, an epoch number or digit string (s, ms, µs or ns, by magnitude) as epoch milliseconds. Events with none are stamped with the time they are encoded.',
      examples: [['time'], ['requestReceivedTimestamp', 'stageTimestamp']],
    },
    rawstring: {
      type: 'boolean',
      default: false,
      description: 'structured and hec modes: also send the original line as the rawstring (@rawstring), so a parser bound to the token can parse it. Roughly doubles the request size.',
      examples: [true],
    },
    event_id: {
      type: 'boolean',
      default: false,
      description:
        'structured and hec modes: add an event_id attribute, a stable hash of host + file identity + byte offset (or of the line when it has no offset), so duplicates from retried requests can be removed at query time (groupBy(event_id, function=tail(1))). An event that already has event_id keeps its own.',
      examples: [true],
    },
    tls: TLS_SCHEMA,
    proxy: PROXY_SCHEMA,
    compression: COMPRESSION_SCHEMA,
    healthcheck: HEALTHCHECK_SCHEMA,
    batch: logscaleBatchSchema(),
    request: requestSchema(),
  },
});

/** Cross-field checks; pure. */
export function validate(c: LogScaleConfig): string[] {
  const out: string[] = [];
  const has = (v: string | undefined): boolean => v !== undefined && v !== '';
  if (has(c.token) && has(c.token_file)) out.push('set token or token_file, not both');
  else if (!has(c.token) && !has(c.token_file)) out.push('token (or token_file) is required');
  if (c.mode === 'unstructured') {
    if (c.rawstring) out.push('rawstring applies to modes structured and hec (unstructured sends the original lines anyway)');
    if (c.event_id) out.push('event_id applies to modes structured and hec (unstructured sends the lines only)');
  }
  for (const [k, v] of Object.entries(c.tags)) {
    const e = templateError(v, NAME_TEMPLATE);
    if (e !== undefined) out.push(`tags.${k}: ${e}`);
  }
  c.timestamp_fields.forEach((f, i) => {
    const e = pathError(f);
    if (e !== undefined) out.push(`timestamp_fields.${i}: ${e}`);
  });
  out.push(...validateTls(c.tls));
  return out;
}
