/**
 * The `parseable` sink: events into Parseable streams through `POST /api/v1/ingest`, one row per
 * event. This file wires the protocol pieces (encoder, request, classify, healthcheck) into the
 * sink kit, which owns batching (one batch per stream), retries, splitting on 413, pausing on
 * refused credentials, acknowledgements and shutdown.
 */
import { compileTemplate, createDeliverySink, encodingOf, NAME_TEMPLATE, type ComponentContext, type DeliveryDeps, type DeliverySink, type SinkDefinition, type SinkProtocol } from '@tern/core';
import { ParseableEncoder, type ParseableRequest } from './encoder.ts';
import { healthcheck } from './healthcheck.ts';
import { createClient, ParseableSender } from './request.ts';
import { schema, validate, type ParseableConfig } from './schema.ts';

export { ParseableEncoder, RENAMED_P_TIMESTAMP, stringifyArrays, type EncoderConfig, type ParseableRequest } from './encoder.ts';
export { classifyParseable } from './classify.ts';
export { INGEST_PATH } from './request.ts';
export { schema, validate, sanitizeStream, streamNameError, MAX_CUSTOM_FIELDS, PARSEABLE_BATCH_DEFAULTS, PARSEABLE_MAX_BYTES, type ParseableConfig } from './schema.ts';

/** The protocol: the encoder's half (streams as partitions, estimates, bodies) and the sending half. */
function parseableProtocol(config: ParseableConfig, ctx: ComponentContext): SinkProtocol<ParseableRequest> {
  const client = createClient(config, ctx.configDir);
  const encoder = new ParseableEncoder(config);
  const sender = new ParseableSender(client, config.custom_fields, encoder);
  const createStream = config.create_stream ? compileTemplate(config.stream, NAME_TEMPLATE).constant : undefined;
  return {
    ...encodingOf(encoder),
    send: (req, payload, signal) => sender.send(req, payload, signal),
    async healthcheck(signal) {
      const r = await healthcheck(client, createStream, signal);
      ctx.logger.info({ endpoint: client.origin, ...(createStream ? { stream: createStream, stream_status: r } : {}) }, 'Parseable is ready');
    },
    close: () => client.close(),
  };
}

/**
 * Builds the sink from options as the schema completes them (`withDefaults(parseableSink, …)`
 * outside a pipeline file); tests inject a clock or random source through `deps`.
 */
export function createParseableSink(config: ParseableConfig, ctx: ComponentContext, deps: DeliveryDeps = {}): DeliverySink<ParseableRequest> {
  return createDeliverySink(parseableProtocol(config, ctx), config, ctx, deps);
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
