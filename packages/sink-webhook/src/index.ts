/**
 * The `webhook` sink: events to any HTTP receiver (Falcosidekick-style JSON, arrays, NDJSON,
 * templates) and human-readable alerts to Slack and Microsoft Teams. This file wires the protocol
 * pieces (encoder, request, classify) into the sink kit, which owns batching, retries, pausing,
 * acknowledgements and shutdown, and puts the rate limiter in front of it: suppression is decided
 * when a batch is accepted, because the kit may encode the same events again for a retry.
 */
import {
  createDeliverySink,
  type Batch,
  type ComponentContext,
  type Counter,
  type DeliveryDeps,
  type DeliveryState,
  type DeliverySink,
  type LogEvent,
  type Payload,
  type SendResult,
  type Sink,
  type SinkDefinition,
  type SinkProtocol,
} from '@tern/core';
import { WebhookEncoder, type WebhookRequest } from './encoder.ts';
import { RateLimiter } from './rate-limit.ts';
import { WebhookClient } from './request.ts';
import { WEBHOOK_BATCH_DEFAULTS, WEBHOOK_REQUEST_DEFAULTS, schema, validate, type WebhookConfig } from './schema.ts';

export { classifierFor, classifyGeneric, classifySlack, classifyTeams, type Classifier } from './classify.ts';
export { describe, inferSeverity, suppressedNote, type Derived } from './describe.ts';
export { SUPPRESSED_FIELD, WebhookEncoder, eventId, idempotencyKey, type EncoderOptions, type WebhookRequest } from './encoder.ts';
export { DEFAULT_COLORS, DEFAULT_TEXTS, MessageFormatter, SLACK_LIMITS, TEAMS_LIMITS, escapeMrkdwn, slackMessage, teamsMessage, truncate, type Formatted, type SlackMessage } from './format.ts';
export { RateLimiter, type RateLimiterOptions, type Verdict } from './rate-limit.ts';
export { WebhookClient } from './request.ts';
export { WEBHOOK_BATCH_DEFAULTS, WEBHOOK_REQUEST_DEFAULTS, schema, validate, type BodyMode, type MessageOptions, type RateLimitOptions, type SignatureOptions, type WebhookConfig, type WebhookFormat } from './schema.ts';
export { sign, type SignatureAlgorithm } from './signature.ts';
export { compileJson, compileText, getIn, parsePath, templateError, type JsonTemplate, type Scope, type TextTemplate } from './template.ts';

class WebhookProtocol implements SinkProtocol<WebhookRequest> {
  private readonly encoder: WebhookEncoder;
  private readonly client: WebhookClient;

  constructor(encoder: WebhookEncoder, client: WebhookClient) {
    this.encoder = encoder;
    this.client = client;
  }

  encode(events: readonly LogEvent[]): WebhookRequest {
    return this.encoder.encode(events);
  }

  send(req: WebhookRequest, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    return this.client.send(req, payload, signal);
  }

  healthcheck(signal: AbortSignal): Promise<void> {
    return this.client.healthcheck(signal);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The sink: the rate limiter (when configured) in front of the kit's delivery driver. */
export class WebhookSink implements Sink {
  readonly delivery: DeliverySink<WebhookRequest>;
  private readonly limiter: RateLimiter | undefined;
  private readonly notes: WeakMap<LogEvent, number>;
  private readonly suppressed: Counter;
  private readonly evicted: Counter;

  constructor(delivery: DeliverySink<WebhookRequest>, limiter: RateLimiter | undefined, notes: WeakMap<LogEvent, number>, ctx: ComponentContext) {
    this.delivery = delivery;
    this.limiter = limiter;
    this.notes = notes;
    this.suppressed = ctx.telemetry.counter('events_suppressed');
    this.evicted = ctx.telemetry.counter('rate_limit_keys_evicted');
  }

  get state(): DeliveryState {
    return this.delivery.state;
  }

  start(): void {
    this.delivery.start();
  }

  accept(batch: Batch): void {
    const limiter = this.limiter;
    if (limiter === undefined) {
      this.delivery.accept(batch);
      return;
    }
    const kept: LogEvent[] = [];
    const evictedBefore = limiter.evicted;
    for (const ev of batch.events) {
      let data: unknown;
      try {
        data = ev.data;
      } catch {
        data = { message: ev.raw ?? '' };
      }
      const v = limiter.check(data);
      if (!v.send) continue;
      kept.push(ev);
      if (v.suppressed > 0) this.notes.set(ev, v.suppressed);
    }
    const n = batch.events.length - kept.length;
    if (n > 0) this.suppressed.inc(n);
    if (limiter.evicted > evictedBefore) this.evicted.inc(limiter.evicted - evictedBefore);
    // Suppressed events are done with on purpose: the kit releases the group once the kept ones settle
    // (at once when none are kept).
    this.delivery.accept(n === 0 ? batch : { events: kept, ack: batch.ack });
  }

  stop(deadline: AbortSignal): Promise<void> {
    return this.delivery.stop(deadline);
  }
}

/** Builds the sink (also for tests, which inject a clock or random source through `deps`). */
export function createWebhookSink(config: WebhookConfig, ctx: ComponentContext, deps: DeliveryDeps = {}): WebhookSink {
  const format = config.format ?? 'json';
  const notes = new WeakMap<LogEvent, number>();
  const encoder = new WebhookEncoder({
    format,
    body: config.body ?? 'single',
    ...(config.template !== undefined ? { template: config.template } : {}),
    ...(config.message !== undefined ? { message: config.message } : {}),
    idempotencyKey: config.idempotency_key === true,
    suppressedOf: (ev) => notes.get(ev) ?? 0,
  });
  const concurrency = config.request?.concurrency ?? WEBHOOK_REQUEST_DEFAULTS.concurrency ?? 4;
  const now = deps.clock ? deps.clock.now.bind(deps.clock) : Date.now;
  const client = new WebhookClient({ config, baseDir: ctx.configDir, concurrency, now });
  const rl = config.rate_limit;
  const limiter = rl === undefined ? undefined : new RateLimiter({ keyFields: rl.key_fields, intervalMs: rl.interval_ms ?? 600_000, maxKeys: rl.max_keys ?? 10_000, now });
  // One event per request in single mode (and so for every Slack or Teams message), whatever batch.max_events says.
  // The kit defaults healthcheck to true and takes no per-sink default for it: webhooks have nothing to check.
  const options = { ...config, healthcheck: config.healthcheck ?? false, ...(encoder.single ? { batch: { ...config.batch, max_events: 1 } } : {}) };
  const delivery = createDeliverySink(new WebhookProtocol(encoder, client), options, ctx, {
    ...deps,
    defaults: { batch: WEBHOOK_BATCH_DEFAULTS, request: WEBHOOK_REQUEST_DEFAULTS, compression: 'none', ...deps.defaults },
  });
  ctx.logger.debug({ origin: client.origin, format, body: encoder.single ? 'single' : config.body, rate_limit: limiter !== undefined, signed: config.signature !== undefined }, 'webhook sink built');
  return new WebhookSink(delivery, limiter, notes, ctx);
}

export const webhookSink: SinkDefinition<WebhookConfig> = {
  kind: 'sink',
  type: 'webhook',
  description: 'HTTP webhooks: Falcosidekick-style JSON (single, array, NDJSON), templates, Slack and Teams alerts with rate limiting and HMAC signatures.',
  schema,
  validate,
  build: (config, ctx) => createWebhookSink(config, ctx),
};

export const sinks = [webhookSink];
