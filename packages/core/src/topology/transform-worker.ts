/**
 * Entry point of a worker thread that runs one transform (see worker-pool.ts). It imports the module
 * that defines the transform, builds it from the same options, and for every batch: rebuilds the
 * events from their JSON text, runs the transform, and answers with what it emitted, per output, as
 * event indexes plus the new JSON text of events it changed (unchanged events keep theirs). Counters
 * the transform increments travel back with each answer. When the transform throws, the batch runs
 * again event by event from the original texts, and only the events it fails on come back as
 * `refused`, with the reason.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { deepFreeze } from '../config/freeze.ts';
import { LogEvent, type EventOrigin } from '../event/event.ts';
import { createLogger } from '../telemetry/logger.ts';
import { ComponentTelemetry } from '../telemetry/telemetry.ts';
import type { ComponentContext, Transform, TransformDefinition } from '../plugin/types.ts';

export interface WorkerInit {
  module: string;
  type: string;
  id: string;
  options: Record<string, unknown>;
  dataDir: string;
  configDir: string;
  host: string;
}

export interface WorkerBatch {
  seq: number;
  lines: string[];
  /** 1 when the line is JSON, 0 for text. */
  json: Uint8Array;
  /** The batch's distinct origins, and each event's index into them. */
  origins: EventOrigin[];
  originOf: Uint32Array;
  /** Each event's byte offset in its origin (or -1). */
  offsets: Float64Array;
}

export interface WorkerAnswer {
  seq: number;
  /** Per emit call: output name, event indexes, and new JSON text (null: unchanged). */
  emitted: Array<{ output: string | undefined; indexes: number[]; texts: Array<string | null> }>;
  counters: Record<string, number>;
  /** Events the transform failed on (refused by the pool: dead letter or rejected). */
  refused: Array<{ index: number; reason: string }>;
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const mod = (await import(init.module)) as Record<string, unknown>;
  const isDef = (v: unknown): v is TransformDefinition<unknown> => typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'transform' && (v as { type?: unknown }).type === init.type;
  let def: TransformDefinition<unknown> | undefined;
  for (const v of Object.values(mod)) {
    if (isDef(v)) def = v;
    else if (Array.isArray(v)) def ??= v.find(isDef);
  }
  if (!def) throw new Error(`module ${init.module} exports no transform of type ${init.type}`);
  const telemetry = new ComponentTelemetry(init.id);
  const ctx: ComponentContext = {
    id: init.id,
    kind: 'transform',
    type: init.type,
    logger: createLogger({ level: 'silent', format: 'json' }),
    telemetry,
    dataDir: init.dataDir,
    host: init.host,
    signal: new AbortController().signal,
    once: false,
    configDir: init.configDir,
  };
  // The options crossed the thread boundary as a copy: frozen again, as the loader froze them.
  const transform: Transform = await def.build(deepFreeze(init.options), ctx);
  const origins = new Map<string, EventOrigin>();
  let last: Record<string, number> = {};
  /** The batch's origins as shared objects (one lookup per origin per batch, not per event). */
  const originsOf = (b: WorkerBatch): EventOrigin[] =>
    b.origins.map((sent) => {
      const key = JSON.stringify(sent);
      let origin = origins.get(key);
      if (!origin) {
        origin = Object.freeze({ ...sent });
        if (origins.size > 10_000) origins.clear();
        origins.set(key, origin);
      }
      return origin;
    });
  const build = (b: WorkerBatch, batchOrigins: readonly EventOrigin[], i: number): LogEvent =>
    new LogEvent(batchOrigins[b.originOf[i] as number] as EventOrigin, b.lines[i], b.json[i] === 1 ? 'json' : 'text', undefined, b.offsets[i] as number);
  /** Runs the transform over events (whose batch positions `index` knows) and collects what it emits. */
  const run = (events: LogEvent[], index: Map<LogEvent, number>, answer: WorkerAnswer): void => {
    const emitted: WorkerAnswer['emitted'] = [];
    void transform.process(
      events,
      (out, output) => {
        const indexes: number[] = [];
        const texts: Array<string | null> = [];
        for (const ev of out) {
          const i = index.get(ev);
          if (i === undefined) continue; // an event the transform created: not supported across threads
          indexes.push(i);
          // Any change counts, also replaceSerialized (which leaves `modified` false: its text is the new line).
          texts.push(ev.version > 0 ? ev.toJson() : null);
        }
        emitted.push({ output, indexes, texts });
      },
      (evs, info) => {
        evs.forEach((ev, k) => {
          const i = index.get(ev);
          const one = Array.isArray(info) ? info[k] ?? info[0] : info;
          if (i !== undefined) answer.refused.push({ index: i, reason: (one as { reason: string }).reason });
        });
      },
    );
    answer.emitted.push(...emitted);
  };
  parentPort?.on('message', (b: WorkerBatch) => {
    const answer: WorkerAnswer = { seq: b.seq, emitted: [], counters: {}, refused: [] };
    const events: LogEvent[] = new Array(b.lines.length);
    const index = new Map<LogEvent, number>();
    const batchOrigins = originsOf(b);
    for (let i = 0; i < b.lines.length; i++) {
      const ev = build(b, batchOrigins, i);
      events[i] = ev;
      index.set(ev, i);
    }
    try {
      run(events, index, answer);
    } catch {
      // Again, one fresh event at a time: only the events the transform fails on are refused.
      answer.emitted = [];
      answer.refused = [];
      for (let i = 0; i < b.lines.length; i++) {
        const ev = build(b, batchOrigins, i);
        try {
          run([ev], new Map([[ev, i]]), answer);
        } catch (e) {
          answer.refused.push({ index: i, reason: `transform failed: ${(e as Error).message}` });
        }
      }
    }
    const now = telemetry.snapshot();
    for (const [k, v] of Object.entries(now)) {
      const d = v - (last[k] ?? 0);
      if (d) answer.counters[k] = d;
    }
    last = now;
    parentPort?.postMessage(answer);
  });
  parentPort?.postMessage({ ready: true });
}

// The pool terminates a worker that says `fatal` (a failed build may leave a handle open that would
// keep this thread alive): its exit is what starts the backoff and moves the batches elsewhere.
main().catch((e: unknown) => {
  parentPort?.postMessage({ fatal: e instanceof Error ? e.message : String(e) });
});
