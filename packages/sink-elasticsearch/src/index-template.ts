/**
 * The optional index template (`index_template.install: true`), as Filebeat's `setup` and
 * Logstash's `manage_template` install theirs: before the first document, the sink installs a
 * component template `<name>@mappings` that maps tern's free-form vendor maps as `flattened`, and
 * an index template `<name>` for the targets it writes, composed of the stock `logs@mappings`,
 * `logs@settings` and `ecs@mappings` (so a data stream keeps everything the built-in `logs-*-*`
 * template gives it: ECS dynamic templates, `ignore_malformed`, lifecycle) plus that component,
 * at a priority above the built-in template's 100.
 *
 * Elasticsearch refuses an index template whose patterns could match a name that another template
 * of the same priority matches. Two sinks of one pipeline may well write overlapping targets (a
 * templated `logs-{{event.dataset}}-default` beside a literal `logs-falco.alerts-default`), so the
 * default priority follows specificity: 151 for a literal target (two literal names never overlap,
 * and the specific template should win), 150 for a pattern. A clash Elasticsearch still reports
 * (two overlapping patterns, or someone else's template) is named as such with the way out.
 *
 * `flattened` takes any keys and any leaf types (one keyword-like field per map, queryable as
 * `falco.output_fields.ka.uri: "/version"`), so Elastic's nested vendor shapes
 * (`ecs` `vendor_fields: nested`) index without conflicts. The mappings are dynamic templates
 * with `match_mapping_type: object`, so the `flat` shapes (strings, one-level maps) index too.
 *
 * Idempotent: a template already there with the same content is left as it is; one tern installed
 * (`_meta.managed_by: tern`) is replaced when its content differs; one installed by someone else
 * is left alone unless `overwrite: true`, and that is logged. Pure functions build the bodies;
 * `installTemplates` does the requests.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { compileTemplate, TernError, type ComponentContext } from '@tern/core';
import { TARGET_TEMPLATE } from './target.ts';

type Logger = ComponentContext['logger'];

/** The free-form maps the `ecs` profiles write (see packages/transforms/ECS.md), mapped `flattened`. */
export const DEFAULT_FLATTENED: readonly string[] = [
  'falco.output_fields',
  'kubernetes.audit.requestObject',
  'kubernetes.audit.responseObject',
  'kubernetes.audit.protoPayload.request',
  'kubernetes.audit.protoPayload.response',
  'kubernetes.audit.user.extra',
  'kubernetes.audit.impersonatedUser.extra',
  'cilium_tetragon.log.node_labels',
  '*.pod_labels',
  '*.pod_annotations',
];

/** `index_template`, as the schema completes it. */
export interface IndexTemplateOptions {
  readonly install: boolean;
  readonly name?: string;
  /** Unset: 151 for a literal target, 150 for a pattern (see the file comment). */
  readonly priority?: number | undefined;
  readonly flattened: readonly string[];
  readonly overwrite: boolean;
}

export interface TemplateBodies {
  readonly name: string;
  readonly component: string;
  readonly componentBody: Record<string, unknown>;
  readonly indexBody: Record<string, unknown>;
}

/** `index_patterns` for a target template: placeholders and date directives become `*`, lower-cased as names are. */
export function targetPattern(target: string): string {
  return compileTemplate(target, TARGET_TEMPLATE).skeleton('*').replace(/\*+/g, '*');
}

/** A template name from the pattern: `logs-falco.alerts-*` → `tern-logs-falco.alerts`. */
export function defaultTemplateName(pattern: string): string {
  const base = pattern.replace(/[*]/g, '').replace(/[^a-z0-9._-]+/g, '-').replace(/-+/g, '-').replace(/^[-_.]+|[-_.]+$/g, '');
  return `tern-${base || 'events'}`;
}

/** The priority when none is set: a literal target outranks a pattern, so the two never clash. */
export function defaultPriority(pattern: string): number {
  return pattern.includes('*') ? 150 : 151;
}

const hashOf = (v: unknown): string => createHash('sha1').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/** The component and index template bodies for one target pattern (`dataStream`: the targets are data streams). */
export function templateBodies(pattern: string, dataStream: boolean, o: IndexTemplateOptions): TemplateBodies {
  const name = o.name ?? defaultTemplateName(pattern);
  const component = `${name}@mappings`;
  const dynamic_templates = o.flattened.map((p, i) => ({
    [`tern_flattened_${i}`]: { path_match: p, match_mapping_type: 'object', mapping: { type: 'flattened' } },
  }));
  const componentContent = { template: { mappings: { dynamic_templates } } };
  const componentBody = { ...componentContent, _meta: { managed_by: 'tern', description: 'free-form vendor maps as flattened (tern elasticsearch sink)', tern_hash: hashOf(componentContent) } };
  // A data-stream-shaped pattern gets the stock logs/metrics pieces; ours goes before ecs@mappings so its dynamic templates are tried first.
  const dsType = /^(logs|metrics|traces|synthetics)-/.exec(pattern)?.[1];
  const builtins = dataStream && dsType !== undefined ? [`${dsType}@mappings`, `${dsType}@settings`] : [];
  const composed_of = [...builtins, component, 'ecs@mappings'];
  const indexContent: Record<string, unknown> = {
    index_patterns: [pattern],
    priority: o.priority ?? defaultPriority(pattern),
    composed_of,
    ignore_missing_component_templates: [...builtins, 'ecs@mappings'],
    ...(dataStream ? { data_stream: {} } : {}),
  };
  const indexBody = { ...indexContent, _meta: { managed_by: 'tern', description: 'installed by the tern elasticsearch sink (index_template.install)', tern_hash: hashOf(indexContent) } };
  return { name, component, componentBody, indexBody };
}

type Existing = { found: false } | { found: true; meta: Record<string, unknown> | undefined };

async function get(client: Client, path: string, key: 'index_templates' | 'component_templates', field: 'index_template' | 'component_template', signal: AbortSignal): Promise<Existing> {
  try {
    const r = (await client.transport.request({ method: 'GET', path }, { signal, maxRetries: 0 })) as Record<string, Array<Record<string, Record<string, unknown>>>>;
    const t = r[key]?.[0]?.[field];
    return t === undefined ? { found: false } : { found: true, meta: t['_meta'] as Record<string, unknown> | undefined };
  } catch (err) {
    if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return { found: false };
    throw err;
  }
}

/**
 * Installs (or keeps) the templates. Throws a TernError the sink kit reports once and retries:
 * TERN_ERR_SINK_AUTH when the credentials may not manage templates.
 */
export async function installTemplates(client: Client, bodies: TemplateBodies, overwrite: boolean, logger: Logger, signal: AbortSignal): Promise<'installed' | 'unchanged' | 'kept'> {
  const steps: Array<{ path: string; kind: 'component' | 'index'; body: Record<string, unknown> }> = [
    { path: `/_component_template/${encodeURIComponent(bodies.component)}`, kind: 'component', body: bodies.componentBody },
    { path: `/_index_template/${encodeURIComponent(bodies.name)}`, kind: 'index', body: bodies.indexBody },
  ];
  let result: 'installed' | 'unchanged' | 'kept' = 'unchanged';
  try {
    for (const s of steps) {
      const existing = await get(client, s.path, s.kind === 'index' ? 'index_templates' : 'component_templates', s.kind === 'index' ? 'index_template' : 'component_template', signal);
      const want = (s.body['_meta'] as Record<string, unknown>)['tern_hash'];
      if (existing.found && existing.meta?.['tern_hash'] === want) continue;
      if (existing.found && existing.meta?.['managed_by'] !== 'tern' && !overwrite) {
        logger.warn({ template: s.path }, `an ${s.kind} template of that name exists and was not installed by tern: left as it is (set index_template.overwrite: true to replace it)`);
        result = 'kept';
        continue;
      }
      await client.transport.request({ method: 'PUT', path: s.path, body: s.body }, { signal, maxRetries: 0 });
      if (result !== 'kept') result = 'installed';
    }
  } catch (err) {
    const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
    if (status === 401 || status === 403) {
      throw new TernError('TERN_ERR_SINK_AUTH', `Elasticsearch refused to install the index template ${bodies.name} (HTTP ${status}): grant the manage_index_templates cluster privilege, or set index_template.install: false`, { cause: err });
    }
    if (status === 400) {
      const body = (err as { meta?: { body?: { error?: { reason?: unknown } } } }).meta?.body;
      const reason = JSON.stringify(body ?? '').slice(0, 300);
      const esReason = typeof body?.error?.reason === 'string' ? body.error.reason : '';
      if (esReason.includes('that have the same priority')) {
        throw new TernError('TERN_ERR_SINK_UNSUPPORTED', `Elasticsearch refused the index template ${bodies.name}: another index template of the same priority matches some of the same names (HTTP 400: ${esReason.slice(0, 500)}); set index_template.priority to a value no overlapping template uses`, { cause: err });
      }
      throw new TernError('TERN_ERR_SINK_UNSUPPORTED', `Elasticsearch refused the index template ${bodies.name} (HTTP 400: ${reason}); it needs Elasticsearch 8.7 or later`, { cause: err });
    }
    throw err;
  }
  return result;
}
