/**
 * Test doubles for sink tests: a component context whose logs are captured, synthetic events and
 * batches with observable acknowledgements, and a manual clock for timing tests. Deliberately no
 * server stubs: sinks are tested against emulators that speak their protocol (see STYLE.md).
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { AckGroup, type DeliveryStatus } from '../event/ack.ts';
import type { Batch } from '../event/batch.ts';
import { LogEvent, type EventOrigin } from '../event/event.ts';
import type { ComponentContext } from '../plugin/types.ts';
import type { Clock } from '../sink-kit/types.ts';
import { ComponentTelemetry } from '../telemetry/telemetry.ts';

export interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A pino logger writing into an array (synchronously), for assertions on what was logged. */
export function captureLogger(level = 'debug'): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as LogRecord);
      cb();
    },
  });
  const logger = pino({ level, base: undefined }, { write: (s: string) => stream.write(s) });
  return { logger, records };
}

export interface TestContext extends ComponentContext {
  /** Captured log records. */
  readonly records: LogRecord[];
  /** Aborts `signal`. */
  readonly shutdown: () => void;
}

/** A sink context named `id` with captured logs and fresh counters. */
export function testContext(id = 'sink_under_test', type = 'test', overrides: Partial<ComponentContext> = {}): TestContext {
  const { logger, records } = captureLogger();
  const ac = new AbortController();
  return {
    id,
    kind: 'sink',
    type,
    logger: logger.child({ component: id }),
    telemetry: new ComponentTelemetry(id),
    dataDir: '/tmp',
    host: 'test-node',
    signal: ac.signal,
    once: false,
    configDir: process.cwd(),
    ...overrides,
    records,
    shutdown: () => ac.abort(),
  };
}

export const TEST_ORIGIN: EventOrigin = Object.freeze({ sourceId: 'test_source', path: '/var/log/tetragon/tetragon.log', host: 'test-node', fileId: 'f1' });

/**
 * `n` synthetic Tetragon-like events with unique `seq` numbers starting at `start`, each carrying its
 * original JSON line (so sinks write it unchanged), an `@timestamp`, and a distinct byte offset.
 */
export function makeEvents(n: number, start = 0, origin: EventOrigin = TEST_ORIGIN): LogEvent[] {
  const out: LogEvent[] = new Array<LogEvent>(n);
  let offset = start * 200;
  for (let i = 0; i < n; i++) {
    const seq = start + i;
    const time = new Date(Date.UTC(2026, 7, 21, 10, 0, 0) + seq).toISOString();
    const line = `{"@timestamp":"${time}","process_exec":{"process":{"binary":"/bin/sh","pid":${1000 + seq}}},"node_name":"test-node","time":"${time}","seq":${seq}}`;
    out[i] = new LogEvent(origin, line, 'json', undefined, offset);
    offset += line.length + 1;
  }
  return out;
}

/** A batch as the engine hands it to a sink: the group already retained once for this sink. */
export interface TrackedBatch extends Batch {
  /** The final status once the group completed, or undefined while pending. */
  readonly status: () => DeliveryStatus | undefined;
  /** How many times the group completed (must end at exactly 1). */
  readonly completions: () => number;
  /** Resolves with the final status. */
  readonly done: Promise<DeliveryStatus>;
  /** True once the sink admitted the batch into its buffer (the in-flight budget would be returned). */
  readonly admitted: () => boolean;
}

/**
 * Wraps events into a batch like the engine does: the source holds one reference, the engine takes
 * one for the sink, then the source lets go, so only the sink's release completes the group.
 */
export function trackedBatch(events: LogEvent[]): TrackedBatch {
  let status: DeliveryStatus | undefined;
  let completions = 0;
  let resolve!: (s: DeliveryStatus) => void;
  const done = new Promise<DeliveryStatus>((r) => (resolve = r));
  let admitted = false;
  const group = new AckGroup(
    events.length,
    events.reduce((a, e) => a + e.size, 0),
    (s) => {
      status = s;
      completions++;
      resolve(s);
    },
    () => (admitted = true),
  );
  const own = group.ref(); // the source's reference while it dispatches
  const ack = group.ref(); // the engine's reference for this sink
  own.release(); // the source is done dispatching
  return { events, ack, status: () => status, completions: () => completions, done, admitted: () => admitted };
}

/**
 * A manual clock: timers fire only inside `advance`, in time order, with the microtask queue
 * drained between them so async code scheduled by a timer runs before the next one.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Time of the next pending timer, or undefined. */
  nextAt(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers.values()) if (min === undefined || t.at < min) min = t.at;
    return min;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}

/** Lets pending promise chains (and immediate I/O callbacks) run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Waits until `pred()` holds, polling on the event loop; throws after `timeoutMs` (real time). */
export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((r) => setTimeout(r, 5));
  }
}
