/**
 * The `elasticsearch` sink: events into Elasticsearch 8/9 data streams (or indices) through
 * `_bulk`, with deterministic ids so retries never store twice. This file wires the protocol
 * pieces (encoder, request, classify, healthcheck) into the sink kit, which owns batching,
 * retries, partial resends, pausing, acknowledgements and shutdown.
 */
import type { Client } from '@elastic/elasticsearch';
import { createDeliverySink, type ComponentContext, type DeliveryDeps, type DeliverySink, type LogEvent, type Payload, type SendResult, type SinkDefinition, type SinkProtocol } from '@tern/core';
import { BulkEncoder, type BulkRequest } from './encoder.ts';
import { healthcheck } from './healthcheck.ts';
import { installTemplates, targetPattern, templateBodies, type TemplateBodies } from './index-template.ts';
import { createClient, sendBulk } from './request.ts';
import { schema, validate, type ElasticsearchConfig } from './schema.ts';
import { DATA_STREAM_NAME, DEFAULT_INDEX, effectiveMode } from './target.ts';

export { BulkEncoder, type BulkRequest, type EncoderConfig } from './encoder.ts';
export { classifyBulkBody, classifyClientError, classifyItemStatus, classifyResponse, type ItemClass } from './classify.ts';
export { checkInfo, SUPPORTED_MAJORS, type ServerInfo } from './healthcheck.ts';
export { BULK_FILTER_PATH } from './request.ts';
export { DEFAULT_FLATTENED, defaultTemplateName, installTemplates, targetPattern, templateBodies, type IndexTemplateOptions, type TemplateBodies } from './index-template.ts';
export { schema, validate, ES_BATCH_DEFAULTS, ES_REQUEST_DEFAULTS, type ElasticsearchConfig } from './schema.ts';
export { effectiveMode, DATA_STREAM_NAME, DEFAULT_INDEX, TARGET_TEMPLATE, type EsIdStrategy, type EsMode } from './target.ts';

class ElasticsearchProtocol implements SinkProtocol<BulkRequest> {
  private readonly client: Client;
  private readonly encoder: BulkEncoder;
  private readonly pipeline: string | undefined;
  private readonly ctx: ComponentContext;
  /** The templates to install before the first bulk (index_template.install), and the install in progress. */
  private readonly templates: TemplateBodies | undefined;
  private readonly overwrite: boolean;
  private installed: Promise<void> | undefined;
  private templatesReady = false;

  constructor(config: ElasticsearchConfig, ctx: ComponentContext) {
    this.ctx = ctx;
    this.client = createClient(config, ctx.configDir);
    this.pipeline = config.pipeline;
    const t = config.index_template;
    this.overwrite = t.overwrite;
    if (t.install) {
      const mode = effectiveMode(config);
      const ds = config.data_stream;
      const target = mode === 'data_stream' ? `${ds.type}-${ds.dataset}-${ds.namespace}` : (config.index ?? DEFAULT_INDEX);
      const pattern = targetPattern(target);
      this.templates = templateBodies(pattern, mode === 'data_stream' || DATA_STREAM_NAME.test(target), t);
    }
    this.encoder = new BulkEncoder(config);
  }

  encode(events: readonly LogEvent[]): BulkRequest {
    return this.encoder.encode(events);
  }

  estimate(ev: LogEvent): number {
    return this.encoder.estimate(ev);
  }

  async send(req: BulkRequest, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    // Without a healthcheck the first send installs the templates: no document may create a data
    // stream before its mapping is in place.
    if (this.templates !== undefined && !this.templatesReady) await this.ensureTemplates(signal);
    return sendBulk(this.client, req, payload, signal, this.pipeline);
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    const info = await healthcheck(this.client, signal);
    this.ctx.logger.info({ version: info.version }, 'connected to Elasticsearch');
    if (this.templates !== undefined) await this.ensureTemplates(signal);
  }

  /** Installs the templates once; a failed attempt is forgotten so the next one retries. */
  private ensureTemplates(signal: AbortSignal): Promise<void> {
    const t = this.templates;
    if (t === undefined || this.templatesReady) return Promise.resolve();
    this.installed ??= installTemplates(this.client, t, this.overwrite, this.ctx.logger, signal).then(
      (r) => {
        this.templatesReady = true;
        this.ctx.logger.info({ template: t.name, component: t.component, result: r }, r === 'installed' ? 'index template installed' : r === 'kept' ? 'index template left as it was' : 'index template up to date');
      },
      (err: unknown) => {
        this.installed = undefined;
        throw err;
      },
    );
    return this.installed;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * Builds the sink from options as the schema completes them (`withDefaults(elasticsearchSink, …)`
 * outside a pipeline file); tests inject a clock or random source through `deps`.
 */
export function createElasticsearchSink(config: ElasticsearchConfig, ctx: ComponentContext, deps: DeliveryDeps = {}): DeliverySink<BulkRequest> {
  return createDeliverySink(new ElasticsearchProtocol(config, ctx), config, ctx, deps);
}

export const elasticsearchSink: SinkDefinition<ElasticsearchConfig> = {
  kind: 'sink',
  type: 'elasticsearch',
  description: 'Elasticsearch 8/9 data streams or indices via _bulk, with deterministic ids (no duplicates on retry).',
  schema,
  validate,
  build: (config, ctx) => createElasticsearchSink(config, ctx),
};

export const sinks = [elasticsearchSink];
