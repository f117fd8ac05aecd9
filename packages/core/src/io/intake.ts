/**
 * The source helper, in the spirit of a pino transport: a source owns only its protocol (how bytes
 * or documents arrive, and where to resume), and `Intake` owns the rest of the way in:
 *
 *   bytes ─▶ lines() ─▶ framing (CRI, multiline) ─▶ decode ─┐
 *   document ─▶ documents() ────────────────────────────────┤─▶ count, warn (rate-limited) ─▶ batch
 *   batch ─▶ emit() / submit() ─▶ pipeline (budget, backpressure) ─▶ acknowledgement
 *
 * Counters are the same in every source: `events_read` (events handed to the pipeline),
 * `decode_errors` (malformed lines or documents, skipped), `lines_too_long` (over
 * `max_line_bytes`, skipped). Warnings about bad input name where it was (path and byte offset)
 * and are rate-limited, so a file of garbage cannot flood the logs; the counters hold the numbers,
 * and a summary line per interval (and at `flush()`, when the source stops) says how many more
 * there were.
 */
import type { AckCallback } from '../event/ack.ts';
import type { EventOrigin, LogEvent } from '../event/event.ts';
import type { SourceContext } from '../plugin/types.ts';
import { LogLimiter } from '../telemetry/log-limit.ts';
import type { Counter } from '../telemetry/telemetry.ts';
import { budgetShares, type BudgetShare } from '../topology/budget.ts';
import { DecodeError, type Decoding } from './decode.ts';
import { decodeDocument, type DocumentFormat } from './documents.ts';
import { compileMultiline, LineStream, type MultilineOptions, type StreamSettings } from './framing.ts';

export interface IntakeOptions {
  /** How lines are decoded (line sources); documents say their own format. */
  readonly decoding?: Decoding;
  /** Longest line (and joined CRI or multiline event) kept, in bytes. */
  readonly max_line_bytes?: number;
  readonly multiline?: MultilineOptions;
  /** Runs on every event decoded from lines, before it is batched (the file source's `add_metadata`). */
  readonly enrich?: (ev: LogEvent) => void;
  /** Minimum interval between two warnings about bad input (default 5 s). */
  readonly warnIntervalMs?: number;
}

/** How a `submit` ended. */
export type SubmitOutcome =
  /** Every sink that received the events is done with them (delivered, or dealt with for good). */
  | 'acknowledged'
  /** Dispatched, and the caller asked not to wait for acknowledgements. */
  | 'queued'
  /** Not dispatched: the signal aborted while the pipeline had no room (nothing was taken). */
  | 'refused'
  /**
   * Dispatched, but the signal aborted before every sink was done (the events stay in the pipeline);
   * or, for a batch taken in shares, only some shares were dispatched before a `shareSignal` aborted.
   */
  | 'unacknowledged';

export class Intake {
  readonly ctx: SourceContext;
  readonly counters: { readonly events: Counter; readonly decodeErrors: Counter; readonly tooLong: Counter };
  private readonly limiter: LogLimiter;
  private readonly settings: StreamSettings;

  constructor(ctx: SourceContext, opts: IntakeOptions = {}) {
    this.ctx = ctx;
    const t = ctx.telemetry;
    this.counters = { events: t.counter('events_read'), decodeErrors: t.counter('decode_errors'), tooLong: t.counter('lines_too_long') };
    this.limiter = new LogLimiter(ctx.logger, opts.warnIntervalMs ?? 5000);
    const maxLineBytes = opts.max_line_bytes ?? 1_048_576;
    this.settings = {
      decoding: opts.decoding ?? 'json',
      maxLineBytes,
      multiline: compileMultiline(opts.multiline),
      enrich: opts.enrich,
      problems: {
        malformed: (origin, offset, message) => {
          this.counters.decodeErrors.inc();
          this.warn({ path: origin.path, offset }, message);
        },
        oversize: (origin, offset, length) => {
          this.counters.tooLong.inc();
          this.warn({ path: origin.path, offset }, `line longer than max_line_bytes (${length} > ${maxLineBytes} bytes); skipped`);
        },
      },
    };
  }

  /** A stream of lines starting at byte `offset` of the input. */
  lines(origin: EventOrigin, offset = 0): LineStream {
    return new LineStream(origin, offset, this.settings);
  }

  /**
   * The events of one document, or the error (counted in `decode_errors` and warned about, with
   * `where` naming the document, e.g. the request path and remote address).
   */
  documents(origin: EventOrigin, body: string, format: DocumentFormat, where: Record<string, unknown> = {}): LogEvent[] | DecodeError {
    const r = decodeDocument(origin, body, format);
    if (r instanceof DecodeError) {
      this.counters.decodeErrors.inc();
      this.warn({ path: origin.path, ...where }, `malformed ${format} document refused: ${r.message}`);
    }
    return r;
  }

  /** A rate-limited warning about bad input. */
  warn(fields: Record<string, unknown>, message: string): void {
    this.limiter.log('warn', 'bad-input', fields, message);
  }

  /**
   * Logs the warnings the rate limit folded since its last summary (how many more, in the interval).
   * A source calls it when it stops: a run shorter than the interval (`--once`) would otherwise say
   * only the first bad line and never how many followed it.
   */
  flush(): void {
    this.limiter.flush();
  }

  /** Hands a batch to the pipeline (waits while its budget is spent); counts `events_read`. */
  emit(events: LogEvent[], onAck?: AckCallback, bytes?: number, signal?: AbortSignal): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const n = events.length;
    return this.ctx.emit(events, onAck, bytes, signal).then(() => this.counters.events.inc(n));
  }

  /**
   * Emits a batch for a push source that answers its sender: resolves `refused` when the pipeline
   * could not take it before `signal` aborted (nothing dispatched), `queued` once dispatched (with
   * `acknowledge: false`), `acknowledged` once every sink is done with it (any acknowledgement
   * status counts: events refused by a sink are the engine's accounting, not the sender's to
   * retry), or `unacknowledged` when `ackSignal` (default: `signal`) aborts first.
   *
   * A batch larger than a share of the in-flight budget (`budgetShares`: 1/32 of it) goes in shares,
   * each waiting for room in the FIFO like any other batch, as Vector's sources send a large request
   * in chunks: a body near or over the whole budget would otherwise wait for the pipeline to be empty
   * (which a busy pipeline never is for long) and hold up every batch behind it. `signal` bounds the
   * wait of the first share; `shareSignal()` (called once for each later share; default: `ackSignal`)
   * bounds the wait of each later one. When a later share's wait ends, the outcome is
   * `unacknowledged`: part was taken and stays in the pipeline, so the sender may send it all again
   * (duplicates, never loss).
   */
  async submit(
    events: LogEvent[],
    bytes: number,
    opts: { readonly signal?: AbortSignal; readonly ackSignal?: AbortSignal; readonly shareSignal?: () => AbortSignal; readonly acknowledge: boolean },
  ): Promise<SubmitOutcome> {
    // Nothing to dispatch means nothing to wait for (an empty batch would never be acknowledged).
    if (events.length === 0) return opts.acknowledge ? 'acknowledged' : 'queued';
    const shares = budgetShares(events, bytes, (e) => e.size, this.ctx.inFlight);
    let pending = shares.length;
    let acked!: () => void;
    const done = new Promise<void>((resolve) => (acked = resolve));
    const onAck = (): void => {
      if (--pending === 0) acked();
    };
    const signal = opts.ackSignal ?? opts.signal;
    for (let i = 0; i < shares.length; i++) {
      const share = shares[i] as BudgetShare<LogEvent>;
      try {
        await this.ctx.emit(share.items, onAck, share.bytes, i === 0 ? opts.signal : (opts.shareSignal?.() ?? signal));
      } catch (e) {
        if ((e as Error).name !== 'AbortError') throw e;
        return i === 0 ? 'refused' : 'unacknowledged';
      }
      this.counters.events.inc(share.items.length);
    }
    if (!opts.acknowledge) return 'queued';
    if (signal === undefined) {
      await done;
      return 'acknowledged';
    }
    if (signal.aborted) return 'unacknowledged';
    let onAbort!: () => void;
    const aborted = new Promise<'unacknowledged'>((resolve) => {
      onAbort = () => resolve('unacknowledged');
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const r = await Promise.race([done.then(() => 'acknowledged' as const), aborted]);
    signal.removeEventListener('abort', onAbort);
    return r;
  }
}
