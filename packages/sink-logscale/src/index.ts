/**
 * The `logscale` sink: events into CrowdStrike Falcon LogScale (Humio) through its structured,
 * unstructured or HEC ingest API. This file wires the protocol pieces (encoder, request, classify,
 * healthcheck) into the sink kit, which owns batching (one batch per distinct tag set), retries,
 * splitting, pausing on a refused token, acknowledgements and shutdown.
 */
import { createDeliverySink, type ComponentContext, type DeliveryDeps, type DeliverySink, type HttpClient, type LogEvent, type Payload, type SendResult, type SinkDefinition, type SinkProtocol } from '@tern/core';
import { LogScaleEncoder, type LogScaleRequest } from './encoder.ts';
import { healthcheck } from './healthcheck.ts';
import { createClient, LogScaleSender } from './request.ts';
import { schema, validate, type LogScaleConfig, type LogScaleMode } from './schema.ts';

export { LogScaleEncoder, fromValue, type EncoderConfig, type LogScaleRequest, type Time } from './encoder.ts';
export { classifyLogScale } from './classify.ts';
export { INGEST_PATHS } from './request.ts';
export { schema, validate, DEFAULT_TAGS, DEFAULT_TIMESTAMP_FIELDS, LOGSCALE_BATCH_DEFAULTS, LOGSCALE_MAX_BYTES, LOGSCALE_MAX_EVENTS, type LogScaleConfig, type LogScaleMode } from './schema.ts';

class LogScaleProtocol implements SinkProtocol<LogScaleRequest> {
  private readonly client: HttpClient;
  private readonly sender: LogScaleSender;
  private readonly encoder: LogScaleEncoder;
  private readonly mode: LogScaleMode;
  private readonly ctx: ComponentContext;

  constructor(config: LogScaleConfig, ctx: ComponentContext) {
    this.ctx = ctx;
    this.mode = config.mode;
    this.client = createClient(config, ctx.configDir);
    this.sender = new LogScaleSender(this.client, this.mode);
    this.encoder = new LogScaleEncoder(config);
  }

  partition(ev: LogEvent): string {
    return this.encoder.partition(ev);
  }

  estimate(ev: LogEvent): number {
    return this.encoder.estimate(ev);
  }

  encode(events: readonly LogEvent[], partition: string): LogScaleRequest {
    return this.encoder.encode(events, partition);
  }

  send(req: LogScaleRequest, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    return this.sender.send(req, payload, signal);
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    await healthcheck(this.client, this.mode, signal);
    this.ctx.logger.info({ endpoint: this.client.origin, mode: this.mode }, 'LogScale accepted the ingest token');
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * Builds the sink from options as the schema completes them (`withDefaults(logscaleSink, …)`
 * outside a pipeline file); tests inject a clock or random source through `deps`.
 */
export function createLogScaleSink(config: LogScaleConfig, ctx: ComponentContext, deps: DeliveryDeps = {}): DeliverySink<LogScaleRequest> {
  return createDeliverySink(new LogScaleProtocol(config, ctx), config, ctx, deps);
}

export const logscaleSink: SinkDefinition<LogScaleConfig> = {
  kind: 'sink',
  type: 'logscale',
  description: 'CrowdStrike Falcon LogScale (Humio) structured, unstructured or HEC ingest, events grouped by tags.',
  schema,
  validate,
  build: (config, ctx) => createLogScaleSink(config, ctx),
};

export const sinks = [logscaleSink];
