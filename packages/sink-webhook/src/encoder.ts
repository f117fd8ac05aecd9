/**
 * Turns events into one webhook request body, by `format` (what one event looks like) and `body`
 * (how events are framed): `single` one JSON object, `array` a JSON array, `ndjson` one per line.
 *
 * `json` events that nobody changed are written as their original line (no stringify); Slack,
 * Teams and template bodies parse the event once. An event that is not valid JSON is formatted as
 * `{message: <line>}` rather than failing the request. Pure, as the kit requires: the rate limiter's
 * suppressed count is read through `suppressedOf`, never written here, so re-encoding a subset for a
 * retry or split gives the same bytes (and the same Idempotency-Key).
 */
import { createHash } from 'node:crypto';
import { compileJsonTemplate, compileTemplate, isJsonTemplate, type EncodedRequest, type JsonTemplate, type LogEvent, type Template } from '@tern/core';
import { describe, withCustomFields } from './describe.ts';
import { MessageFormatter, escapeMrkdwn, slackMessage, teamsMessage } from './format.ts';
import { ALERT_TEMPLATE, type BodyMode, type WebhookConfig, type WebhookFormat } from './schema.ts';

export interface WebhookRequest extends EncodedRequest {
  readonly body: string;
  readonly contentType: string;
  /** Events in the request. */
  readonly count: number;
  /** Stable over retries of the same events; undefined unless `idempotency_key` is on. */
  readonly idempotencyKey: string | undefined;
}

/** The options the encoder reads (YAML keys, as the schema completes them). */
export type EncoderConfig = Pick<WebhookConfig, 'format' | 'body' | 'template' | 'message' | 'idempotency_key' | 'custom_fields'>;

/** Field added to `json` events that carry a rate-limit count. */
export const SUPPRESSED_FIELD = 'tern_suppressed';

const JSON_TYPE = 'application/json';
const NDJSON_TYPE = 'application/x-ndjson';
const TEXT_TYPE = 'text/plain; charset=utf-8';

export class WebhookEncoder {
  private readonly format: WebhookFormat;
  private readonly mode: BodyMode;
  private readonly json: JsonTemplate | undefined;
  private readonly text: Template | undefined;
  private readonly formatter: MessageFormatter | undefined;
  private readonly idempotency: boolean;
  private readonly suppressedOf: (ev: LogEvent) => number;
  private readonly custom: Readonly<Record<string, string>> | undefined;

  /** `suppressedOf`: similar alerts suppressed before an event (from the rate limiter); 0 when none. */
  constructor(c: EncoderConfig, suppressedOf: (ev: LogEvent) => number = () => 0) {
    this.custom = Object.keys(c.custom_fields).length > 0 ? c.custom_fields : undefined;
    this.format = c.format;
    this.mode = c.format === 'slack' || c.format === 'teams' ? 'single' : c.body;
    if (c.format === 'template') {
      // validate() requires a template with format template; an empty body is what none renders.
      const src = c.template ?? '';
      if (isJsonTemplate(src)) this.json = compileJsonTemplate(src, ALERT_TEMPLATE);
      else this.text = compileTemplate(src, ALERT_TEMPLATE);
    }
    if (c.format === 'slack' || c.format === 'teams') this.formatter = new MessageFormatter(c.message, c.custom_fields);
    this.idempotency = c.idempotency_key;
    this.suppressedOf = suppressedOf;
  }

  /** Events per request this encoder frames: 1 for `single` (and every Slack/Teams message). */
  get single(): boolean {
    return this.mode === 'single';
  }

  encode(events: readonly LogEvent[]): WebhookRequest {
    const parts = events.map((ev) => this.one(ev));
    const textBody = this.text !== undefined;
    let body: string;
    let contentType: string;
    switch (this.mode) {
      case 'single':
        // The kit sends one event per request in this mode; several would be a framing bug, so they are joined as NDJSON rather than lost.
        body = parts.length === 1 ? (parts[0] as string) : parts.join('\n');
        contentType = textBody ? TEXT_TYPE : JSON_TYPE;
        break;
      case 'array':
        body = textBody ? JSON.stringify(parts) : `[${parts.join(',')}]`;
        contentType = JSON_TYPE;
        break;
      case 'ndjson':
        body = textBody ? `${parts.map((p) => p.replace(/\r?\n/g, ' ')).join('\n')}\n` : `${parts.join('\n')}\n`;
        contentType = textBody ? TEXT_TYPE : NDJSON_TYPE;
        break;
    }
    return { body, contentType, count: events.length, idempotencyKey: this.idempotency ? idempotencyKey(events) : undefined };
  }

  /** One event as text: JSON (object or message) or the rendered text template. */
  private one(ev: LogEvent): string {
    const suppressed = this.suppressedOf(ev);
    if (this.format === 'json') {
      if (suppressed === 0 && this.custom === undefined) return ev.toJson();
      const data = withCustomFields(dataOf(ev), this.custom) as Record<string, unknown>;
      return JSON.stringify(suppressed === 0 ? data : { ...data, [SUPPRESSED_FIELD]: suppressed });
    }
    const data = withCustomFields(dataOf(ev), this.custom);
    if (this.formatter !== undefined) {
      if (this.format === 'slack') {
        const f = this.formatter.format(data, suppressed, escapeMrkdwn);
        return JSON.stringify(slackMessage(f, this.formatter.color(f.severity)));
      }
      return JSON.stringify(teamsMessage(this.formatter.format(data, suppressed)));
    }
    const scope = { data, derived: () => describe(data, suppressed) };
    if (this.json !== undefined) return JSON.stringify(this.json.render(scope));
    return (this.text as Template).render(scope);
  }
}

/** Parsed fields, or `{message: line}` for a line that is not JSON (never throws). */
function dataOf(ev: LogEvent): Record<string, unknown> {
  try {
    return ev.data;
  } catch {
    return { message: ev.raw ?? '' };
  }
}

/** Stable identity of one event: its source position when known (survives re-reads), else its content. */
export function eventId(ev: LogEvent): string {
  if (ev.offset >= 0) {
    const o = ev.origin;
    return `${o.host}\u0000${o.fileId ?? o.path}\u0000${ev.offset}`;
  }
  return ev.toJson();
}

/** Idempotency-Key of a request: a hash of its events' identities (32 hex characters). */
export function idempotencyKey(events: readonly LogEvent[]): string {
  const h = createHash('sha256');
  for (const ev of events) h.update(eventId(ev)).update('\u0001');
  return h.digest('hex').slice(0, 32);
}
