/**
 * Options of the `elasticsearch` sink: the JSON Schema the engine validates (and documents) with,
 * the matching TypeScript type (YAML keys kept), and the pure cross-field checks. Shared blocks
 * (`batch`, `request`, `tls`, `auth`, `compression`, `healthcheck`) come from the sink kit with
 * Elasticsearch's own batch defaults (§2.10 of the protocol notes: 1,000 docs / 5 MB / 1 s).
 */
import {
  AUTH_SCHEMA,
  COMPRESSION_SCHEMA,
  HEALTHCHECK_SCHEMA,
  TLS_SCHEMA,
  batchSchema,
  requestSchema,
  validateAuth,
  validateTls,
  pathError,
  templateError,
  type AuthOptions,
  type BatchDefaults,
  type DefaultedDelivery,
  type JsonSchema,
  type RequestDefaults,
  type TlsOptions,
  optionsSchema,
} from '@tern/core';
import { DEFAULT_FLATTENED, type IndexTemplateOptions } from './index-template.ts';
import { effectiveMode, TARGET_TEMPLATE, type EsIdStrategy, type EsMode } from './target.ts';

export const ES_BATCH_DEFAULTS: BatchDefaults = { max_events: 1000, max_bytes: 5_000_000, timeout_ms: 1000 };
export const ES_REQUEST_DEFAULTS: Partial<RequestDefaults> = { concurrency: 4, timeout_ms: 60_000 };

/** The options as the schema completes them (YAML keys; every default filled). */
export interface ElasticsearchConfig extends DefaultedDelivery {
  readonly endpoints?: readonly string[];
  readonly cloud_id?: string;
  readonly mode?: EsMode;
  readonly data_stream: { readonly type: string; readonly dataset: string; readonly namespace: string };
  readonly index?: string;
  readonly id: EsIdStrategy;
  readonly pipeline?: string;
  readonly timestamp_field: string;
  readonly auth?: AuthOptions;
  readonly tls: TlsOptions;
  readonly index_template: IndexTemplateOptions;
}

export const schema = optionsSchema<ElasticsearchConfig, 'buffer'>()({
  type: 'object',
  additionalProperties: false,
  properties: {
    endpoints: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', pattern: '^https?://' },
      description: 'Elasticsearch URLs; requests go round-robin to them. Set this or cloud_id.',
      examples: [['https://es-0.es.svc:9200', 'https://es-1.es.svc:9200']],
    },
    cloud_id: {
      type: 'string',
      minLength: 1,
      description: 'Elastic Cloud deployment id (from the Cloud console), instead of endpoints.',
      examples: ['my-deployment:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyRhYmMkZGVm'],
    },
    mode: {
      type: 'string',
      enum: ['data_stream', 'index'],
      description:
        'data_stream: write to the data stream <type>-<dataset>-<namespace> (stock templates make logs-*-* a data stream). index: write to the target named by `index`. Unset: `index` when `index` is set, else `data_stream`. A target the stock templates make a data stream (`logs-*-*`, also metrics-, traces-, synthetics-: logs-cilium_tetragon.log-default, logs-my-app-default) is written as one in either mode (`create`, `@timestamp` added when missing).',
      examples: ['data_stream', 'index'],
    },
    data_stream: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Data stream name parts (mode data_stream). Each may be a {{field}} template.',
      examples: [{ dataset: 'cilium_tetragon.log', namespace: 'prod' }],
      properties: {
        type: { type: 'string', minLength: 1, default: 'logs', description: 'Data stream type.', examples: ['logs'] },
        dataset: { type: 'string', minLength: 1, default: 'generic', description: 'Dataset: what the events are.', examples: ['cilium_tetragon.log', 'falco.alerts', 'kubernetes.audit_logs'] },
        namespace: { type: 'string', minLength: 1, default: 'default', description: 'Namespace: where they come from (cluster, environment).', examples: ['default', 'prod_eu1', '{{kubernetes.namespace}}'] },
      },
    },
    index: {
      type: 'string',
      minLength: 1,
      description:
        'Target name (mode index; setting it selects mode index): a literal, {{field.path}} templates (a missing field renders as unknown) and strftime %Y %m %d %H from the event time (timestamp_field, else now; %% for %). Lower-cased. Default in mode index: tern-%Y.%m.%d. A data-stream name here (one the stock logs-*-* template matches: logs-cilium_tetragon.log-default, logs-my-app-default) is written as a data stream.',
      examples: ['tern-%Y.%m.%d', 'tetragon-{{node_name}}-%Y.%m', 'logs-cilium_tetragon.log-default'],
    },
    id: {
      type: 'string',
      enum: ['none', 'content_hash', 'source_offset'],
      default: 'content_hash',
      description: 'Document _id. content_hash: hash of the event JSON. source_offset: hash of host + file identity + byte offset (falls back to content_hash for events without an offset). none: Elasticsearch picks one, so a retried request can store duplicates. With an id, a replay answers 409 and nothing is stored twice.',
      examples: ['content_hash', 'source_offset'],
    },
    pipeline: {
      type: 'string',
      minLength: 1,
      description: 'Ingest pipeline to run on every document.',
      examples: ['tetragon-enrich'],
    },
    timestamp_field: {
      type: 'string',
      minLength: 1,
      default: 'time',
      description:
        'Field holding the event time (field path): an RFC 3339 string or epoch seconds, ms, µs or ns. In data_stream mode it becomes @timestamp when the event has none; it also dates %Y.%m.%d index names. Else @timestamp, else the time of sending.',
      examples: ['time', 'requestReceivedTimestamp'],
    },
    index_template: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'Install an index template for the targets this sink writes, before the first event (as Filebeat\'s setup does): the stock logs/ECS pieces plus tern\'s free-form vendor maps as `flattened`. Off by default; idempotent.',
      examples: [{ install: true }, { install: true, name: 'tern-falco', priority: 210 }],
      properties: {
        install: { type: 'boolean', default: false, description: 'Install (or update) the templates at start; events wait until they are in place. Needs the manage_index_templates privilege.', examples: [true] },
        name: { type: 'string', minLength: 1, pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'Index template name (the component template is `<name>@mappings`). Default: `tern-` + the target pattern, e.g. tern-logs-falco.alerts-default.', examples: ['tern-falco'] },
        priority: {
          type: 'integer',
          minimum: 0,
          description:
            'Template priority: above the built-in logs-*-* template (100), below Elastic\'s integration templates (200). Default: 151 for a literal target, 150 for a templated one, so two sinks of a pipeline (logs-falco.alerts-default beside logs-{{event.dataset}}-default) do not clash: Elasticsearch refuses overlapping templates of equal priority.',
          examples: [210],
        },
        flattened: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          default: DEFAULT_FLATTENED,
          description: 'Field paths (`*` wildcards) whose objects are mapped `flattened`: any keys and value types, no mapping conflicts. Default: the free-form maps of the ecs profiles.',
          examples: [['falco.output_fields', '*.pod_labels']],
        },
        overwrite: { type: 'boolean', default: false, description: 'Replace a template of that name that tern did not install (one tern installed is updated whenever its content changes).', examples: [true] },
      },
    },
    auth: AUTH_SCHEMA,
    tls: TLS_SCHEMA,
    compression: COMPRESSION_SCHEMA,
    healthcheck: HEALTHCHECK_SCHEMA,
    batch: batchSchema(ES_BATCH_DEFAULTS),
    request: requestSchema(ES_REQUEST_DEFAULTS),
  },
});

/** Cross-field checks; pure. */
export function validate(c: ElasticsearchConfig): string[] {
  const out: string[] = [];
  // Options the mode would ignore are errors: a target option that silently does nothing sends
  // every event somewhere the user did not ask for (logs-generic-default).
  if (c.mode === 'data_stream' && c.index !== undefined) {
    out.push(`index: "${c.index}" is not used in mode data_stream (the target is <data_stream.type>-<data_stream.dataset>-<data_stream.namespace>); remove mode to write to the target named by index, or set data_stream.dataset instead of index`);
  }
  const ds = c.data_stream;
  // The schema fills data_stream's defaults (logs/generic/default), so only values other than those were written by the user.
  const set = (v: string | undefined, def: string): boolean => v !== undefined && v !== def;
  if (effectiveMode(c) === 'index' && ds !== undefined && (set(ds.type, 'logs') || set(ds.dataset, 'generic') || set(ds.namespace, 'default'))) {
    out.push('data_stream: is not used when writing to the target named by index; remove data_stream, or remove index (and mode) to write to <type>-<dataset>-<namespace>');
  }
  const hasEndpoints = c.endpoints !== undefined && c.endpoints.length > 0;
  if (hasEndpoints && c.cloud_id) out.push('endpoints and cloud_id are exclusive: set one');
  if (!hasEndpoints && !c.cloud_id) out.push('endpoints (or cloud_id) is required');
  for (const [key, value] of [
    ['index', c.index],
    ['data_stream.type', c.data_stream?.type],
    ['data_stream.dataset', c.data_stream?.dataset],
    ['data_stream.namespace', c.data_stream?.namespace],
  ] as const) {
    const e = templateError(value, TARGET_TEMPLATE);
    if (e !== undefined) out.push(`${key}: ${e}`);
  }
  const p = pathError(c.timestamp_field);
  if (c.timestamp_field !== undefined && p !== undefined) out.push(`timestamp_field: ${p}`);
  out.push(...validateAuth(c.auth), ...validateTls(c.tls));
  return out;
}
