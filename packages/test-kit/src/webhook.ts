/**
 * Webhook emulator (protocols §4, checklist §4.3) in two modes. `generic` is a Falcosidekick-style
 * receiver: records each message (body decoded and parsed), answers a configurable 2xx, optionally
 * checks a secret header (401 missing / 403 wrong). `slack` is a Slack incoming-webhook endpoint:
 * `/services/<a>/<b>/<c>` paths, payload rules (`text`/`blocks`/`attachments`, 50 blocks, 3,000-char
 * sections), plain-text error codes (`invalid_payload`, `invalid_blocks`, `no_service`,
 * `channel_is_archived`), `200 ok`, and a per-webhook token bucket answering 429 + `Retry-After`.
 *
 * `received` lists the messages the emulator accepted (answered 2xx, or processed before a
 * `reset: 'after'` fault), in order and with arrival times, so tests can assert pacing; every
 * request, refused ones included, is in `requests`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { EmulatorFacade, EmulatorServer, text, countingStatuses } from './server.ts';
import type { CommonOptions, Emulator, Exchange, Reply } from './server.ts';

export interface WebhookOptions extends CommonOptions {
  mode?: 'generic' | 'slack';
  /** Generic mode: success status (200, 201, 202 or 204 are the usual ones); default 200. */
  status?: number;
  /** Generic mode: require this header (missing → 401, other value → 403). */
  secretHeader?: { name: string; value: string };
  /** Slack mode: token bucket per webhook path (refill `perSecond`, capacity `burst`); default: no limit. */
  slackRate?: { perSecond: number; burst: number };
  /** Slack mode: `known` paths (default: any `/services/<a>/<b>/<c>`), `archived` paths (→ 410). */
  slackWebhooks?: { known?: string[]; archived?: string[] };
  /** Slack mode: error code for a payload without text, blocks or attachments; default `invalid_payload`. */
  slackMissingTextError?: 'invalid_payload' | 'no_text';
}

export interface WebhookMessage {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON; for NDJSON an array of parsed lines; otherwise the text. */
  body: unknown;
  /** Date.now() when the request arrived. */
  at: number;
  /** Status the emulator answered (or would have, before a reset fault). */
  status: number;
}

export interface WebhookStats {
  accepted: number;
  byStatus: Record<number, number>;
}

export interface WebhookEmulator extends Emulator {
  readonly received: WebhookMessage[];
  stats(): WebhookStats;
}

const SLACK_PATH = /^\/services\/[^/]+\/[^/]+\/[^/]+$/;
const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;

export async function startWebhook(opts: WebhookOptions = {}): Promise<WebhookEmulator> {
  const emu = new WebhookServer(opts);
  await emu.server.listen();
  return emu;
}

class WebhookServer extends EmulatorFacade implements WebhookEmulator {
  override readonly server: EmulatorServer;
  readonly received: WebhookMessage[] = [];
  #opts: WebhookOptions;
  #slack: boolean;
  #buckets = new Map<string, { tokens: number; at: number }>();
  #stats: WebhookStats = { accepted: 0, byStatus: {} };

  constructor(opts: WebhookOptions) {
    super();
    this.#opts = opts;
    this.#slack = opts.mode === 'slack';
    this.server = new EmulatorServer({
      options: countingStatuses(opts, this.#stats.byStatus),
      handle: (ex) => (this.#slack ? this.#handleSlack(ex) : this.#handleGeneric(ex)),
      faultReply: (status) => (this.#slack ? slackFault(status) : genericFault(status)),
    });
  }

  stats(): WebhookStats {
    return { ...this.#stats, byStatus: { ...this.#stats.byStatus } };
  }

  #accept(ex: Exchange, body: unknown, status: number): void {
    this.received.push({ method: ex.method, path: ex.path, headers: ex.headers, body, at: ex.record.at, status });
    this.#stats.accepted++;
  }

  // ---------------------------------------------------------------- generic (§4.1)

  async #handleGeneric(ex: Exchange): Promise<Reply> {
    if (ex.method !== 'POST' && ex.method !== 'PUT') return text(405, 'Method Not Allowed', { Allow: 'POST, PUT' });
    const secret = this.#opts.secretHeader;
    if (secret !== undefined) {
      const v = ex.header(secret.name.toLowerCase());
      if (v === undefined) return text(401, 'Unauthorized');
      if (v !== secret.value) return text(403, 'Forbidden');
    }
    const r = await ex.body();
    if (!r.ok) return text(r.error === 'unsupported-encoding' ? 415 : 400, r.error === 'unsupported-encoding' ? `Unsupported Content-Encoding: ${r.encoding}` : 'Could not decode request body');
    const status = this.#opts.status ?? 200;
    this.#accept(ex, decodeBody(r.body, ex.header('content-type')), status);
    return { status, note: `${r.body.length} bytes` };
  }

  // ---------------------------------------------------------------- Slack (§4.2)

  async #handleSlack(ex: Exchange): Promise<Reply> {
    const path = ex.path;
    const hooks = this.#opts.slackWebhooks;
    if (hooks?.archived?.includes(path)) return text(410, 'channel_is_archived');
    const known = hooks?.known === undefined ? SLACK_PATH.test(path) : hooks.known.includes(path);
    if (!known) return text(404, 'no_service');
    if (ex.method !== 'POST') return text(405, 'invalid_method');
    const wait = this.#takeToken(path);
    if (wait !== undefined) return { ...text(429, 'rate_limited', { 'Retry-After': String(wait) }), note: `rate limited, Retry-After ${wait}` };

    const r = await ex.body();
    if (!r.ok) return text(400, 'invalid_payload');
    const ct = (ex.header('content-type') ?? '').toLowerCase();
    let payload: unknown;
    try {
      const raw = r.body.toString('utf8');
      // Slack also takes the legacy form encoding: payload=<json>.
      payload = ct.startsWith('application/x-www-form-urlencoded') ? JSON.parse(new URLSearchParams(raw).get('payload') ?? '') : JSON.parse(raw);
    } catch {
      return text(400, 'invalid_payload');
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return text(400, 'invalid_payload');
    const p = payload as Record<string, unknown>;
    const hasText = typeof p['text'] === 'string' && p['text'] !== '';
    const hasBlocks = Array.isArray(p['blocks']) && p['blocks'].length > 0;
    const hasAttachments = Array.isArray(p['attachments']) && p['attachments'].length > 0;
    if (!hasText && !hasBlocks && !hasAttachments) return text(400, this.#opts.slackMissingTextError ?? 'invalid_payload');
    if (p['blocks'] !== undefined) {
      const blocks = p['blocks'];
      if (!Array.isArray(blocks) || blocks.length > MAX_BLOCKS) return text(400, 'invalid_blocks');
      for (const b of blocks) {
        if (typeof b !== 'object' || b === null || typeof (b as Record<string, unknown>)['type'] !== 'string') return text(400, 'invalid_blocks');
        const t = (b as Record<string, unknown>)['text'];
        if ((b as Record<string, unknown>)['type'] === 'section' && typeof t === 'object' && t !== null) {
          const s = (t as Record<string, unknown>)['text'];
          if (typeof s === 'string' && s.length > MAX_SECTION_TEXT) return text(400, 'invalid_blocks');
        }
      }
    }
    if (p['attachments'] !== undefined && !Array.isArray(p['attachments'])) return text(400, 'invalid_payload');
    this.#accept(ex, payload, 200);
    return { ...text(200, 'ok'), note: 'posted' };
  }

  /** Token bucket; returns undefined when a token was taken, else the seconds until one is available. */
  #takeToken(path: string): number | undefined {
    const rate = this.#opts.slackRate;
    if (rate === undefined) return undefined;
    const now = performance.now();
    let b = this.#buckets.get(path);
    if (b === undefined) this.#buckets.set(path, (b = { tokens: rate.burst, at: now }));
    b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate.perSecond));
  }
}

function decodeBody(body: Buffer, contentType: string | undefined): unknown {
  const s = body.toString('utf8');
  const ct = (contentType ?? '').toLowerCase();
  try {
    if (ct.includes('ndjson') || ct.includes('jsonlines')) return s.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
    if (ct.includes('json')) return JSON.parse(s) as unknown;
  } catch {
    // A generic receiver stores what it got; tests see the raw text.
  }
  return s;
}

function genericFault(status: number): Reply {
  if (status === 204 || status === 304) return { status };
  if (status >= 200 && status < 300) return { status };
  return text(status, `emulated status ${status}`);
}

function slackFault(status: number): Reply {
  const codes: Record<number, string> = {
    200: 'ok',
    400: 'invalid_payload',
    403: 'action_prohibited',
    404: 'channel_not_found',
    410: 'channel_is_archived',
    429: 'rate_limited',
    500: 'rollup_error',
  };
  return text(status, codes[status] ?? `emulated_status_${status}`);
}
