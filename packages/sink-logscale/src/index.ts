/**
 * The `logscale` sink: events into CrowdStrike Falcon LogScale (Humio) through its structured,
 * unstructured or HEC ingest API. This file wires the protocol pieces (encoder, request, classify,
 * healthcheck) into the sink kit, which owns batching (one batch per distinct tag set), retries,
 * splitting, pausing on a refused token, acknowledgements and shutdown.
 */
import { createDeliverySink, encodingOf, type ComponentContext, type DeliveryDeps, type DeliverySink, type SinkDefinition, type SinkProtocol } from '@tern/core';
import { LogScaleEncoder, type LogScaleRequest } from './encoder.ts';
import { healthcheck } from './healthcheck.ts';
import { createClient, LogScaleSender } from './request.ts';
import { schema, validate, type LogScaleConfig } from './schema.ts';

export { LogScaleEncoder, fromValue, type EncoderConfig, type LogScaleRequest, type Time } from './encoder.ts';
export { classifyLogScale } from './classify.ts';
export { INGEST_PATHS } from './request.ts';
export { schema, validate, DEFAULT_TAGS, DEFAULT_TIMESTAMP_FIELDS, LOGSCALE_BATCH_DEFAULTS, LOGSCALE_MAX_BYTES, LOGSCALE_MAX_EVENTS, type LogScaleConfig, type LogScaleMode } from './schema.ts';

/** The protocol: the encoder's half (tags as partitions, estimates, bodies) and the sending half. */
function logscaleProtocol(config: LogScaleConfig, ctx: ComponentContext): SinkProtocol<LogScaleRequest> {
  const client = createClient(config, ctx.configDir);
  const sender = new LogScaleSender(client, config.mode);
  return {
    ...encodingOf(new LogScaleEncoder(config)),
    send: (req, payload, signal) => sender.send(req, payload, signal),
    async healthcheck(signal) {
      await healthcheck(client, config.mode, signal);
      ctx.logger.info({ endpoint: client.origin, mode: config.mode }, 'LogScale accepted the ingest token');
    },
    close: () => client.close(),
  };
}

/**
 * Builds the sink from options as the schema completes them (`withDefaults(logscaleSink, …)`
 * outside a pipeline file); tests inject a clock or random source through `deps`.
 */
export function createLogScaleSink(config: LogScaleConfig, ctx: ComponentContext, deps: DeliveryDeps = {}): DeliverySink<LogScaleRequest> {
  return createDeliverySink(logscaleProtocol(config, ctx), config, ctx, deps);
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
