/**
 * Dead letters: what a component refuses for good becomes an event of its own on the output
 * `<component>.dead_letter`, which any transform or sink may read (a file, an index of its own, a
 * webhook). Nothing refused is dropped without a trace: with no consumer, the engine counts it as
 * rejected, logs it once per reason with a sample, and the run does not report success.
 *
 * A dead letter is an ECS-shaped document (`event.kind: pipeline_error`): the refused event's JSON in
 * `event.original` (its original line when it cannot be serialised), who refused it and why under
 * `error` and `tern.dead_letter`, and where it was read (`log.file.path`, `log.offset`, `host.name`).
 * It keeps the refused event's origin, so path fields and routing by source still work on it.
 */
import type { ErrorCode } from '../errors.ts';
import type { DeliveryStatus } from './ack.ts';
import { LogEvent } from './event.ts';

/** Why one event was refused. */
export interface DeadLetterInfo {
  readonly reason: string;
  /** The destination's status for this event or request, when it has one. */
  readonly status?: number;
  /** The destination's answer (error object as JSON, or a body excerpt). */
  readonly answer?: string;
  /** tern's own error code when tern refused it (encoding, a transform failure). */
  readonly code?: ErrorCode;
}

/** Who refused. */
export interface DeadLetterOrigin {
  readonly id: string;
  readonly type: string;
  readonly kind: 'source' | 'transform' | 'sink';
}

/** The dead-letter output a component gets in its context. */
export interface DeadLetterOutput {
  /** True when some component reads `<id>.dead_letter`. */
  readonly connected: boolean;
  /**
   * Hands refused events to the dead-letter consumers (only when `connected`). `info` is one entry
   * per event, or one for all. `done` runs once the consumers dealt with them, with their worst
   * outcome; until then the refused events' own acknowledgements must stay held.
   */
  send(events: readonly LogEvent[], info: readonly DeadLetterInfo[] | DeadLetterInfo, done: (status: DeliveryStatus) => void): void;
}

/** A dead-letter output with no consumer. */
export const NO_DEAD_LETTERS: DeadLetterOutput = Object.freeze({
  connected: false,
  send() {
    throw new Error('dead-letter output is not connected');
  },
});

/** The refused event's text: its JSON as it would have been sent, or its original line when it cannot be serialised. */
export function originalText(ev: LogEvent): string {
  try {
    return ev.toJson();
  } catch {
    return ev.raw ?? '';
  }
}

/** Builds the dead-letter event for `ev`, refused by `by` for `info`. */
export function deadLetterEvent(ev: LogEvent, by: DeadLetterOrigin, info: DeadLetterInfo, now = Date.now()): LogEvent {
  const o = ev.origin;
  const dl: Record<string, unknown> = { component: by.id, component_type: by.type, component_kind: by.kind };
  if (info.status !== undefined) dl.status = info.status;
  if (info.answer !== undefined) dl.answer = info.answer;
  const data: Record<string, unknown> = {
    '@timestamp': new Date(now).toISOString(),
    message: `${by.kind} ${by.id} refused the event: ${info.reason}`,
    event: { kind: 'pipeline_error', original: originalText(ev) },
    error: { message: info.reason, ...(info.code !== undefined ? { code: info.code } : {}) },
    tern: { dead_letter: dl, source: o.sourceId },
    host: { name: o.host },
  };
  if (o.path !== '' && o.path !== '-') data.log = ev.offset >= 0 ? { file: { path: o.path }, offset: ev.offset } : { file: { path: o.path } };
  // It carries the original's text, so it weighs at least that much in the consumer's buffer.
  return LogEvent.fromData(o, data, (data.event as { original: string }).original.length + 512);
}
