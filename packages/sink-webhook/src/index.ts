/**
 * The `webhook` sink: events to any HTTP receiver (Falcosidekick-style JSON, arrays, NDJSON,
 * templates) and human-readable alerts to Slack and Microsoft Teams. This file wires the protocol
 * pieces (encoder, request, classify) into the sink kit, which owns batching, retries, pausing,
 * acknowledgements and shutdown, and puts the rate limiter in front of it: suppression is decided
 * when a batch is accepted, because the kit may encode the same events again for a retry.
 */
import {
  createDeliverySink,
  readSecret,
  TernError,
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
  type SinkReport,
  type SinkStatus,
  type SinkDefinition,
  type SinkProtocol,
  type Template,
} from '@tern/core';
import { describe as deriveFields, priorityRank } from './describe.ts';
import { WebhookEncoder, type WebhookRequest } from './encoder.ts';
import { severityField, severityOf } from './format.ts';
import { RateLimiter } from './rate-limit.ts';
import { WebhookClient } from './request.ts';
import { schema, urlErrors, validate, type WebhookConfig } from './schema.ts';

export { classifierFor, classifyGeneric, classifySlack, classifyTeams, type Classifier } from './classify.ts';
export { describe, inferSeverity, isFalcoAlert, PRIORITIES, priorityRank, suppressedNote, withCustomFields, type Derived, type Priority } from './describe.ts';
export { SUPPRESSED_FIELD, WebhookEncoder, eventId, idempotencyKey, type EncoderConfig, type WebhookRequest } from './encoder.ts';
export { DEFAULT_COLORS, DEFAULT_TEXTS, MessageFormatter, SLACK_LIMITS, TEAMS_LIMITS, escapeMrkdwn, severityField, severityOf, slackMessage, teamsMessage, truncate, type Formatted, type SlackMessage } from './format.ts';
export { RateLimiter, type Verdict } from './rate-limit.ts';
export { WebhookClient } from './request.ts';
export { ALERT_TEMPLATE, WEBHOOK_BATCH_DEFAULTS, WEBHOOK_REQUEST_DEFAULTS, schema, urlErrors, validate, type BodyMode, type MessageOptions, type RateLimitOptions, type SignatureOptions, type WebhookConfig, type WebhookFormat } from './schema.ts';
export { sign, type SignatureAlgorithm } from './signature.ts';

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

/** Which events go out at all: `minimum_priority` (rank in Falco's order, and where the severity is read). */
export interface PriorityFilter {
  readonly minRank: number;
  readonly severityField: Template | undefined;
}

/** The sink: the priority filter and the rate limiter (when configured) in front of the kit's delivery driver. */
export class WebhookSink implements Sink {
  readonly delivery: DeliverySink<WebhookRequest>;
  private readonly limiter: RateLimiter | undefined;
  private readonly priority: PriorityFilter | undefined;
  private readonly notes: WeakMap<LogEvent, number>;
  private readonly suppressed: Counter;
  private readonly below: Counter;
  private readonly evicted: Counter;

  constructor(delivery: DeliverySink<WebhookRequest>, limiter: RateLimiter | undefined, notes: WeakMap<LogEvent, number>, ctx: ComponentContext, priority?: PriorityFilter) {
    this.delivery = delivery;
    this.limiter = limiter;
    this.priority = priority;
    this.notes = notes;
    this.suppressed = ctx.telemetry.counter('events_suppressed');
    this.below = ctx.telemetry.counter('events_below_priority');
    this.evicted = ctx.telemetry.counter('rate_limit_keys_evicted');
  }

  get state(): DeliveryState {
    return this.delivery.state;
  }

  start(): void {
    this.delivery.start();
  }

  accept(batch: Batch): void {
    const { limiter, priority } = this;
    if (limiter === undefined && priority === undefined) {
      this.delivery.accept(batch);
      return;
    }
    const kept: LogEvent[] = [];
    const evictedBefore = limiter?.evicted ?? 0;
    let below = 0;
    let suppressed = 0;
    for (const ev of batch.events) {
      let data: unknown;
      try {
        data = ev.data;
      } catch {
        data = { message: ev.raw ?? '' };
      }
      // Below the minimum first: an alert that is not sent must not open a rate-limit window either.
      if (priority !== undefined && priorityRank(severityOf(data, deriveFields(data), priority.severityField)) < priority.minRank) {
        below++;
        continue;
      }
      if (limiter !== undefined) {
        const v = limiter.check(data);
        if (!v.send) {
          suppressed++;
          continue;
        }
        if (v.suppressed > 0) this.notes.set(ev, v.suppressed);
      }
      kept.push(ev);
    }
    if (below > 0) this.below.inc(below);
    if (suppressed > 0) this.suppressed.inc(suppressed);
    if (limiter !== undefined && limiter.evicted > evictedBefore) this.evicted.inc(limiter.evicted - evictedBefore);
    // Filtered and suppressed events are done with on purpose: the kit releases the group once the
    // kept ones settle (at once when none are kept).
    this.delivery.accept(kept.length === batch.events.length ? batch : { events: kept, ack: batch.ack });
  }

  stop(deadline: AbortSignal): Promise<void> {
    return this.delivery.stop(deadline);
  }

  /** Health and buffer fill of the delivery kit underneath (/readyz, `tern top`). */
  status(): SinkStatus {
    return this.delivery.status();
  }

  /** What the delivery kit did with the events it was given (filtered and suppressed ones are done with on purpose). */
  report(): SinkReport {
    return this.delivery.report();
  }
}

/**
 * Builds the sink from options as the schema completes them (`withDefaults(webhookSink, …)`
 * outside a pipeline file); tests inject a clock or random source through `deps`.
 */
export function createWebhookSink(config: WebhookConfig, ctx: ComponentContext, deps: DeliveryDeps = {}): WebhookSink {
  // The URL may be a secret (a Slack webhook is its own credential): from a file, like every other secret.
  const url = readSecret(config.url, config.url_file, 'url', ctx.configDir);
  const bad = url === undefined ? ['url: set url or url_file'] : urlErrors(url, config.url_file !== undefined ? `url_file (${config.url_file})` : 'url');
  if (bad.length > 0 || url === undefined) throw new TernError('TERN_ERR_BUILD', bad.join('; '));
  const notes = new WeakMap<LogEvent, number>();
  const encoder = new WebhookEncoder(config, (ev) => notes.get(ev) ?? 0);
  const now = deps.clock ? deps.clock.now.bind(deps.clock) : Date.now;
  const client = new WebhookClient({ config, url, baseDir: ctx.configDir, now });
  const limiter = config.rate_limit === undefined ? undefined : new RateLimiter(config.rate_limit, now);
  // One event per request in single mode (and so for every Slack or Teams message), whatever batch.max_events says.
  const options = encoder.single ? { ...config, batch: { ...config.batch, max_events: 1 } } : config;
  const delivery = createDeliverySink(new WebhookProtocol(encoder, client), options, ctx, deps);
  const priority = config.minimum_priority === undefined ? undefined : { minRank: priorityRank(config.minimum_priority), severityField: severityField(config.message?.severity_field) };
  ctx.logger.debug({ origin: client.origin, format: config.format, body: encoder.single ? 'single' : config.body, rate_limit: limiter !== undefined, minimum_priority: config.minimum_priority, signed: config.signature !== undefined }, 'webhook sink built');
  return new WebhookSink(delivery, limiter, notes, ctx, priority);
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
