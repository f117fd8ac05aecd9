/**
 * The `parseable` sink: events into Parseable streams through `POST /api/v1/ingest`, one row per
 * event. This file wires the protocol pieces (encoder, request, classify, healthcheck) into the
 * sink kit, which owns batching (one batch per stream), retries, splitting on 413, pausing on
 * refused credentials, acknowledgements and shutdown.
 */
import { createDeliverySink, type ComponentContext, type DeliveryDeps, type DeliverySink, type HttpClient, type LogEvent, type Payload, type SendResult, type SinkDefinition, type SinkProtocol } from '@tern/core';
import { ParseableEncoder, type ParseableRequest } from './encoder.ts';
import { healthcheck } from './healthcheck.ts';
import { createClient, ParseableSender } from './request.ts';
import { compileTemplate, NAME_TEMPLATE } from '@tern/core';
import { schema, validate, type ParseableConfig } from './schema.ts';

export { ParseableEncoder, RENAMED_P_TIMESTAMP, stringifyArrays, type EncoderConfig, type ParseableRequest } from './encoder.ts';
export { classifyParseable } from './classify.ts';
export { INGEST_PATH } from './request.ts';
export { schema, validate, sanitizeStream, streamNameError, MAX_CUSTOM_FIELDS, PARSEABLE_BATCH_DEFAULTS, PARSEABLE_MAX_BYTES, type ParseableConfig } from './schema.ts';

class ParseableProtocol implements SinkProtocol<ParseableRequest> {
  private readonly client: HttpClient;
  private readonly sender: ParseableSender;
  private readonly encoder: ParseableEncoder;
  private readonly createStream: string | undefined;
  private readonly ctx: ComponentContext;

  constructor(config: ParseableConfig, ctx: ComponentContext) {
    this.ctx = ctx;
    this.client = createClient(config, ctx.configDir);
    this.encoder = new ParseableEncoder(config);
    this.sender = new ParseableSender(this.client, config.custom_fields, this.encoder);
    this.createStream = config.create_stream ? compileTemplate(config.stream, NAME_TEMPLATE).constant : undefined;
  }

  partition(ev: LogEvent): string {
    return this.encoder.partition(ev);
  }

  estimate(ev: LogEvent): number {
    return this.encoder.estimate(ev);
  }

  encode(events: readonly LogEvent[], partition: string): ParseableRequest {
    return this.encoder.encode(events, partition);
  }

  send(req: ParseableRequest, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    return this.sender.send(req, payload, signal);
  }

  async healthcheck(signal: AbortSignal): Promise<void> {
    const r = await healthcheck(this.client, this.createStream, signal);
    this.ctx.logger.info({ endpoint: this.client.origin, ...(this.createStream ? { stream: this.createStream, stream_status: r } : {}) }, 'Parseable is ready');
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * Builds the sink from options as the schema completes them (`withDefaults(parseableSink, …)`
 * outside a pipeline file); tests inject a clock or random source through `deps`.
 */
export function createParseableSink(config: ParseableConfig, ctx: ComponentContext, deps: DeliveryDeps = {}): DeliverySink<ParseableRequest> {
  return createDeliverySink(new ParseableProtocol(config, ctx), config, ctx, deps);
}

export const parseableSink: SinkDefinition<ParseableConfig> = {
  kind: 'sink',
  type: 'parseable',
  description: 'Parseable streams via /api/v1/ingest (JSON arrays, Basic auth), one row per event.',
  schema,
  validate,
  build: (config, ctx) => createParseableSink(config, ctx),
};

export const sinks = [parseableSink];
