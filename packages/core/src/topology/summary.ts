/**
 * The account of a run: what every sink did with what it was given, what transforms refused, what
 * the sources could not checkpoint, and from that, whether the run may say it succeeded. A run
 * succeeds only when everything read was delivered, dead-lettered, or dropped because the config
 * asked for it; anything refused with nowhere to go, left in memory at the deadline, left in a disk
 * buffer, or whose checkpoint could not be saved makes it fail, and `problems` says which, in words.
 */
import type { Logger } from 'pino';
import { isTernError } from '../errors.ts';
import type { SinkReport } from '../plugin/types.ts';

export interface RunSummary {
  readonly sinks: Readonly<Record<string, SinkReport>>;
  /** Per transform: events refused with no dead-letter consumer, and events dead-lettered. */
  readonly transforms: Readonly<Record<string, { readonly rejected: number; readonly dead_lettered: number }>>;
  /** Per source: events read, and checkpoint writes that failed. */
  readonly sources: Readonly<Record<string, { readonly events: number; readonly checkpoint_errors: number }>>;
  /** Events still on the shared path (sources, transforms) when the run ended. */
  readonly in_flight: number;
  /** Refused for good with no dead-letter consumer, anywhere. */
  readonly rejected: number;
  readonly dead_lettered: number;
  readonly dropped: number;
  readonly delivered: number;
  /** In memory at the end: not delivered, read again after a restart. */
  readonly undelivered: number;
  /** Durably in disk buffers: sent after a restart. */
  readonly buffered: number;
  readonly checkpoint_errors: number;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

export interface SummaryInput {
  readonly sinks: ReadonlyArray<{ readonly id: string; readonly report: SinkReport }>;
  readonly transforms: ReadonlyArray<{ readonly id: string; readonly counters: Readonly<Record<string, number>> }>;
  readonly sources: ReadonlyArray<{ readonly id: string; readonly counters: Readonly<Record<string, number>> }>;
  readonly inFlight: number;
  /** A fatal condition (an error that stopped the run). */
  readonly fatal?: string;
}

const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;

export function summarise(input: SummaryInput): RunSummary {
  const sinks: Record<string, SinkReport> = {};
  let rejected = 0;
  let deadLettered = 0;
  let dropped = 0;
  let delivered = 0;
  let undelivered = 0;
  let buffered = 0;
  const problems: string[] = [];
  if (input.fatal !== undefined) problems.push(input.fatal);
  for (const { id, report } of input.sinks) {
    sinks[id] = report;
    rejected += report.rejected;
    deadLettered += report.dead_lettered;
    dropped += report.dropped;
    delivered += report.delivered;
    undelivered += report.undelivered;
    buffered += report.buffered;
    if (report.rejected > 0) problems.push(`sink ${id}: ${plural(report.rejected, 'event')} refused for good with no dead-letter output (read ${id}.dead_letter to keep them)`);
    if (report.undelivered > 0) problems.push(`sink ${id}: ${plural(report.undelivered, 'event')} not delivered before the deadline (read again after a restart)`);
    if (report.buffered > 0) problems.push(`sink ${id}: ${plural(report.buffered, 'event')} still in its disk buffer (sent after a restart)`);
  }
  const transforms: Record<string, { rejected: number; dead_lettered: number }> = {};
  for (const { id, counters } of input.transforms) {
    const r = counters.events_rejected ?? 0;
    const d = counters.events_dead_lettered ?? 0;
    transforms[id] = { rejected: r, dead_lettered: d };
    rejected += r;
    deadLettered += d;
    if (r > 0) problems.push(`transform ${id}: ${plural(r, 'event')} refused with no dead-letter output`);
  }
  const sources: Record<string, { events: number; checkpoint_errors: number }> = {};
  let checkpointErrors = 0;
  for (const { id, counters } of input.sources) {
    const ce = counters.checkpoint_errors ?? 0;
    sources[id] = { events: counters.events_out ?? 0, checkpoint_errors: ce };
    checkpointErrors += ce;
    if (ce > 0) problems.push(`source ${id}: ${plural(ce, 'checkpoint write')} failed (events after the last saved checkpoint are read again after a restart)`);
  }
  if (input.inFlight > 0) problems.push(`${plural(input.inFlight, 'event')} still on the way to the sinks at the deadline (read again after a restart)`);
  return {
    sinks,
    transforms,
    sources,
    in_flight: input.inFlight,
    rejected,
    dead_lettered: deadLettered,
    dropped,
    delivered,
    undelivered,
    buffered,
    checkpoint_errors: checkpointErrors,
    ok: problems.length === 0,
    problems,
  };
}

/** For sinks that do not report: what their standard counters say. */
export function reportFromCounters(s: Readonly<Record<string, number>>): SinkReport {
  const accepted = s.events_in ?? 0;
  const delivered = s.events_delivered ?? 0;
  const rejected = s.events_rejected ?? 0;
  const deadLettered = s.events_dead_lettered ?? 0;
  const dropped = s.events_dropped ?? 0;
  return { delivered, rejected, dead_lettered: deadLettered, dropped, buffered: 0, undelivered: Math.max(0, accepted - delivered - rejected - deadLettered - dropped) };
}

/** The run's last log line: success, or every problem in words with the code that best names it. */
export function logSummary(logger: Logger, summary: RunSummary, counters: Record<string, Record<string, number>>, fatal: Error | undefined): void {
  const fields = {
    counters,
    summary: { delivered: summary.delivered, dead_lettered: summary.dead_lettered, rejected: summary.rejected, dropped: summary.dropped, buffered: summary.buffered, undelivered: summary.undelivered + summary.in_flight, sinks: summary.sinks },
  };
  if (summary.ok) {
    logger.info(fields, 'stopped; everything read was delivered');
    return;
  }
  const code = fatal !== undefined && isTernError(fatal) ? fatal.code : summary.rejected > 0 ? 'TERN_ERR_REJECTED' : summary.checkpoint_errors > 0 ? 'TERN_ERR_CHECKPOINT' : 'TERN_ERR_SHUTDOWN_TIMEOUT';
  // An error that stopped the run (a source that could not run) when every event read was dealt with.
  const allDealtWith = summary.undelivered + summary.in_flight + summary.rejected + summary.checkpoint_errors === 0;
  const what = fatal !== undefined && allDealtWith ? 'stopped with an error' : 'stopped, not everything read was delivered';
  logger.error({ ...fields, code, problems: summary.problems }, `${what}: ${summary.problems.join('; ')}`);
}
