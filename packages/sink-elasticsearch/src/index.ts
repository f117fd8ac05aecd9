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
import { createClient, sendBulk } from './request.ts';
import { effectiveMode, ES_BATCH_DEFAULTS, ES_REQUEST_DEFAULTS, schema, validate, type ElasticsearchConfig } from './schema.ts';

export { BulkEncoder, compileTemplate, templateErrors, type BulkRequest, type Template } from './encoder.ts';
export { classifyBulkBody, classifyClientError, classifyItemStatus, classifyResponse, type ItemClass } from './classify.ts';
export { checkInfo, SUPPORTED_MAJORS, type ServerInfo } from './healthcheck.ts';
export { BULK_FILTER_PATH } from './request.ts';
export { schema, validate, effectiveMode, DATA_STREAM_NAME, ES_BATCH_DEFAULTS, ES_REQUEST_DEFAULTS, type ElasticsearchConfig, type EsIdStrategy, type EsMode } from './schema.ts';

class ElasticsearchProtocol implements SinkProtocol<BulkRequest> {
  private readonly client: Client;
  private readonly encoder: BulkEncoder;
  private readonly pipeline: string | undefined;
  private readonly ctx: ComponentContext;

  constructor(config: ElasticsearchConfig, ctx: ComponentContext, timeoutMs: number) {
    this.ctx = ctx;
    this.client = createClient(config, ctx.configDir, timeoutMs);
    this.pipeline = config.pipeline;
    this.encoder = new BulkEncoder({
      mode: effectiveMode(config),
      index: config.index ?? 'tern-%Y.%m.%d',
      dataStream: { type: config.data_stream?.type ?? 'logs', dataset: config.data_stream?.dataset ?? 'generic', namespace: config.data_stream?.namespace ?? 'default' },
      id: config.id ?? 'content_hash',
      timestampField: config.timestamp_field ?? 'time',
    });
  }

  encode(events: readonly LogEvent[]): BulkRequest {
    return this.encoder.encode(events);
  }

  estimate(ev: LogEvent): number {
    return this.encoder.estimate(ev);
  }

  send(req: BulkRequest, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    return sendBulk(this.client, req, payload, signal, this.pipeline);
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    const info = await healthcheck(this.client, signal);
    this.ctx.logger.info({ version: info.version }, 'connected to Elasticsearch');
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** Builds the sink (also for tests, which inject a clock or random source through `deps`). */
export function createElasticsearchSink(config: ElasticsearchConfig, ctx: ComponentContext, deps: DeliveryDeps = {}): DeliverySink<BulkRequest> {
  const timeoutMs = config.request?.timeout_ms ?? ES_REQUEST_DEFAULTS.timeout_ms ?? 60_000;
  const protocol = new ElasticsearchProtocol(config, ctx, timeoutMs);
  return createDeliverySink(protocol, config, ctx, { ...deps, defaults: { batch: ES_BATCH_DEFAULTS, request: ES_REQUEST_DEFAULTS, ...deps.defaults } });
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
