/**
 * Runs a transform in worker threads (`workers: N` on a transform whose definition names its
 * module). The main thread keeps reading and sending; each batch goes, as JSON text, to the least
 * busy worker, which runs the same transform built from the same options and answers with what to
 * emit. Unchanged events keep their objects; changed ones get the worker's JSON text
 * (`replaceSerialized`), so their fields are parsed again only if a later stage reads them.
 *
 * Batches may come back out of order across workers; acknowledgements do not care (the file source
 * commits only contiguous prefixes). Memory stays inside the pipeline's in-flight budget, which
 * counts these events until every sink acknowledged them.
 */
import { Worker } from 'node:worker_threads';
import type { LogEvent } from '../event/event.ts';
import type { ComponentContext, Emit, Transform } from '../plugin/types.ts';
import type { WorkerAnswer, WorkerBatch, WorkerInit } from './transform-worker.ts';

interface Pending {
  events: LogEvent[];
  emit: Emit;
  resolve: () => void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, Pending>;
}

export class TransformWorkerPool implements Transform {
  private readonly slots: Slot[] = [];
  private seq = 0;
  private readonly ctx: ComponentContext;

  constructor(init: Omit<WorkerInit, 'id' | 'dataDir' | 'configDir' | 'host'>, n: number, ctx: ComponentContext) {
    this.ctx = ctx;
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const url = new URL(`./transform-worker${ext}`, import.meta.url);
    const data: WorkerInit = { ...init, id: ctx.id, dataDir: ctx.dataDir, configDir: ctx.configDir, host: ctx.host };
    for (let i = 0; i < n; i++) {
      const worker = new Worker(url, { workerData: data });
      worker.unref();
      const pending = new Map<number, Pending>();
      const ready = new Promise<void>((resolve, reject) => {
        worker.on('message', (m: WorkerAnswer | { ready: true } | { fatal: string }) => {
          if ('ready' in m) return resolve();
          if ('fatal' in m) {
            reject(new Error(`transform worker failed to start: ${m.fatal}`));
            return;
          }
          this.answer(pending, m);
        });
        worker.on('error', (e) => {
          ctx.logger.error({ err: e }, 'transform worker crashed; its batches are dropped');
          for (const p of pending.values()) p.resolve();
          pending.clear();
          reject(e);
        });
      });
      ready.catch(() => undefined);
      this.slots.push({ worker, ready, pending });
    }
  }

  /** Resolves once every worker built its transform (build errors surface here, at start-up). */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  private answer(pending: Map<number, Pending>, a: WorkerAnswer): void {
    const p = pending.get(a.seq);
    if (!p) return;
    pending.delete(a.seq);
    for (const [k, v] of Object.entries(a.counters)) this.ctx.telemetry.counter(k).inc(v);
    if (a.error !== undefined) {
      this.ctx.telemetry.counter('errors').inc();
      this.ctx.logger.error({ error: a.error }, 'transform failed on a batch in a worker; the batch is dropped');
    }
    for (const group of a.emitted) {
      const out: LogEvent[] = new Array(group.indexes.length);
      for (let j = 0; j < group.indexes.length; j++) {
        const ev = p.events[group.indexes[j] as number] as LogEvent;
        const text = group.texts[j];
        if (text !== null && text !== undefined) ev.replaceSerialized(text);
        out[j] = ev;
      }
      p.emit(out, group.output);
    }
    p.resolve();
  }

  process(events: LogEvent[], emit: Emit): Promise<void> {
    let slot = this.slots[0] as Slot;
    for (const s of this.slots) if (s.pending.size < slot.pending.size) slot = s;
    const n = events.length;
    const lines: string[] = new Array(n);
    const json = new Uint8Array(n);
    const paths: string[] = new Array(n);
    const sourceIds: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const ev = events[i] as LogEvent;
      if (!ev.modified && ev.raw !== undefined) {
        lines[i] = ev.raw;
        json[i] = ev.rawFormat === 'json' ? 1 : 0;
      } else {
        lines[i] = ev.toJson();
        json[i] = 1;
      }
      paths[i] = ev.origin.path;
      sourceIds[i] = ev.origin.sourceId;
    }
    const seq = ++this.seq;
    const batch: WorkerBatch = { seq, lines, json, paths, sourceIds };
    return new Promise<void>((resolve) => {
      slot.pending.set(seq, { events, emit, resolve });
      slot.worker.postMessage(batch);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
