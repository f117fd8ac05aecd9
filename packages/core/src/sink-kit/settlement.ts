/**
 * What the dispatcher does with an answer's verdicts: events delivered, resent, or refused for good.
 *
 * Refused events go to the sink's dead-letter output when something reads it (their spans settle only
 * once its consumers took them: `pending` counts those), else they are counted as `events_rejected`,
 * logged once per kind of refusal with a sample, and the run does not report success. Before a line is
 * refused as malformed, it gets a second chance: an unchanged line read lazily that is not JSON at all
 * is resent as this sink's own copy carrying the tagged `{message, error, tags: [_json_parse_failure]}`
 * object (the shared event is never touched).
 */
import { deadLetterEvent, type DeadLetterInfo, type DeadLetterOutput } from '../event/dead-letter.ts';
import type { LogEvent } from '../event/event.ts';
import type { Counter } from '../telemetry/telemetry.ts';
import type { LogLimiter } from '../telemetry/log-limit.ts';
import { partitionJob, settleSpans, type Job, type Outcome, type Span } from './job.ts';


/** Marks for `partitionJob`. */
export const KEEP = 0;
export const RETRY = 1;
export const REJECT = 2;

export interface SettlementContext {
  readonly id: string;
  readonly type?: string;
  readonly deadLetters?: DeadLetterOutput;
}

export class Settlement {
  private readonly ctx: SettlementContext;
  private readonly limiter: LogLimiter;
  private readonly c: { readonly delivered: Counter; readonly rejected: Counter; readonly deadLettered: Counter };
  private readonly onSettled: () => void;
  /** Events handed to the dead-letter output whose consumers did not answer yet. */
  pending = 0;

  constructor(ctx: SettlementContext, limiter: LogLimiter, counters: { delivered: Counter; rejected: Counter; deadLettered: Counter }, onSettled: () => void) {
    this.ctx = ctx;
    this.limiter = limiter;
    this.c = counters;
    this.onSettled = onSettled;
  }

  deliverAll(job: Job): void {
    this.c.delivered.inc(job.events.length);
    settleSpans(job.spans, 'delivered');
    job.events = [];
    job.spans = [];
  }

  /** A partial answer: `retry` indices stay in the job, `rejected` are refused, the rest delivered. */
  settleItems(job: Job, retry: readonly number[], rejected: readonly { index: number; reason: string; status?: number; answer?: string }[]): void {
    const n = job.events.length;
    const marks = new Uint8Array(n);
    for (const i of retry) if (i >= 0 && i < n) marks[i] = RETRY;
    const infoAt = new Map<number, DeadLetterInfo>();
    let salvaged = false;
    for (const r of rejected) {
      if (r.index < 0 || r.index >= n) continue;
      const copy = taggedCopyIfMalformed(job.events[r.index] as LogEvent);
      if (copy !== undefined) {
        // Refused because the line is not JSON at all: resend this sink's tagged copy instead.
        job.events[r.index] = copy;
        marks[r.index] = RETRY;
        salvaged = true;
        continue;
      }
      marks[r.index] = REJECT;
      infoAt.set(r.index, { reason: r.reason, ...(r.status !== undefined ? { status: r.status } : {}), ...(r.answer !== undefined ? { answer: r.answer } : {}) });
    }
    if (salvaged) this.logMalformed();
    const infos: DeadLetterInfo[] = [];
    for (let i = 0; i < n; i++) if (marks[i] === REJECT) infos.push(infoAt.get(i) as DeadLetterInfo);
    const [ok, again, bad] = partitionJob(job, marks) as Array<{ events: LogEvent[]; spans: Span[] }>;
    if (ok && ok.events.length > 0) {
      this.c.delivered.inc(ok.events.length);
      settleSpans(ok.spans, 'delivered');
    }
    if (bad && bad.events.length > 0) this.refuseEvents(bad.events, bad.spans, infos);
    job.events = again?.events ?? [];
    job.spans = again?.spans ?? [];
  }

  /**
   * A refused request may hold lines read lazily that are not JSON at all (the destination refused
   * the bytes, not the event): replaces them, in this job only, by their tagged copies. Returns
   * whether any was found (then the job is worth sending again).
   */
  salvageMalformed(job: Job): boolean {
    let found = false;
    for (let i = 0; i < job.events.length; i++) {
      const copy = taggedCopyIfMalformed(job.events[i] as LogEvent);
      if (copy === undefined) continue;
      job.events[i] = copy;
      found = true;
    }
    if (found) this.logMalformed();
    return found;
  }

  private logMalformed(): void {
    this.limiter.log('warn', 'malformed', {}, 'destination refused lines that are not JSON; sending them as {message, error, tags: [_json_parse_failure]}');
  }

  /** Refuses every event of a job for one reason. */
  refuse(job: Job, info: DeadLetterInfo): void {
    const events = job.events;
    const spans = job.spans;
    job.events = [];
    job.spans = [];
    this.refuseEvents(events, spans, info);
  }

  /** Events refused for good: to the dead-letter output when connected, else counted and logged as lost. */
  refuseEvents(events: readonly LogEvent[], spans: readonly Span[], info: readonly DeadLetterInfo[] | DeadLetterInfo): void {
    if (events.length === 0) return;
    const first = Array.isArray(info) ? (info[0] as DeadLetterInfo) : (info as DeadLetterInfo);
    const dl = this.ctx.deadLetters;
    if (dl !== undefined && dl.connected) {
      this.pending += events.length;
      const n = events.length;
      this.limiter.log('warn', `dead_letter:${kindOf(first.reason)}`, { events: n, reason: first.reason }, 'destination refused events for good; they go to the dead-letter output');
      dl.send(events, info, (status: Outcome) => {
        this.pending -= n;
        this.c.deadLettered.inc(n);
        settleSpans(spans, status === 'rejected' ? 'rejected' : 'dead_lettered');
        this.onSettled();
      });
      return;
    }
    this.c.rejected.inc(events.length);
    const sample = deadLetterEvent(events[0] as LogEvent, { id: this.ctx.id, type: this.ctx.type ?? 'sink', kind: 'sink' }, first);
    const original = (sample.data.event as { original: string }).original;
    this.limiter.log(
      'error',
      `rejected:${kindOf(first.reason)}`,
      { code: 'TERN_ERR_REJECTED', events: events.length, reason: first.reason, ...(first.status !== undefined ? { status: first.status } : {}), sample: original.length > 500 ? `${original.slice(0, 500)}…` : original },
      `destination refused events for good and no dead-letter output reads ${this.ctx.id}.dead_letter; they are lost and counted as events_rejected`,
    );
    settleSpans(spans, 'rejected');
  }
}

/**
 * For an unchanged line read lazily that turns out not to be a JSON object: this sink's own copy,
 * changed so it serialises as the tagged `{message, error, tags: [_json_parse_failure]}` object (the
 * shared event is not touched). Undefined for any other event.
 */
function taggedCopyIfMalformed(ev: LogEvent): LogEvent | undefined {
  if (ev.modified || ev.rawFormat !== 'json' || ev.raw === undefined) return undefined;
  void ev.data; // parses into the cache; never changes the event's JSON
  if (!ev.invalidJson) return undefined;
  const copy = ev.clone();
  copy.mutate();
  return copy;
}

/** The kind of a refusal, for one log line per kind: `item status 400: document_parsing_exception`, not per event or id. */
function kindOf(reason: string): string {
  return reason.split(':', 2).join(':').slice(0, 80);
}
