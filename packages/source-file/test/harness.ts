/**
 * Drives a `FileSource` in-process for tests: a source context whose `emit` records events and
 * acknowledges them (at once, after a random delay, or never), and helpers to stop it gracefully
 * (drain + final checkpoint) or to "crash" it (no final checkpoint, pending acknowledgements lost).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDefaults, type LogEvent } from '@tern/core';
import { testContext, type LogRecord } from '@tern/core/testing';
import { FileSource, type FileSourceConfig } from '../src/file-source.ts';
import { fileSource } from '../src/index.ts';

/** Fast timings for tests; everything else is the schema's default. */
export const DEFAULTS: Partial<FileSourceConfig> = {
  exclude: [],
  read_from: 'beginning',
  decoding: 'json',
  max_line_bytes: 1048576,
  read_buffer_bytes: 4096,
  glob_interval_ms: 20,
  poll_interval_ms: 10,
  checkpoint_interval_ms: 20,
  fingerprint_bytes: 64,
  rotate_wait_ms: 30,
};

export type AckMode = 'now' | 'random' | 'never';

/** Sources still running: a failed assertion must not leave one looping and keep the test process alive. */
const running = new Set<() => Promise<void>>();

/** Stops every source a test left running (use in an `after` hook). */
export async function stopAll(): Promise<void> {
  for (const stop of [...running]) await stop();
}

export interface Running {
  source: FileSource;
  /** Internal state, for failure messages. */
  state: () => string;
  /** Every event emitted, in order, across the run. */
  events: LogEvent[];
  records: LogRecord[];
  counters: () => Record<string, number>;
  /** Graceful: abort, wait for run(), deliver pending acks, close (final checkpoint). */
  stop: () => Promise<void>;
  /** Crash: abort, wait for run() and any checkpoint write in progress; pending acks never arrive; no close. */
  crash: () => Promise<void>;
}

export function tmp(prefix = 'tern-fs-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function start(cfg: Partial<FileSourceConfig> & { include: readonly string[] }, dir: string, opts: { ack?: AckMode; rand?: () => number; once?: boolean; events?: LogEvent[] } = {}): Running {
  const ack = opts.ack ?? 'now';
  const rand = opts.rand ?? Math.random;
  const events = opts.events ?? [];
  const pending = new Set<() => void>();
  let dead = false;
  const base = testContext('src', 'file', { kind: 'source', dataDir: join(dir, 'state'), configDir: dir, once: opts.once ?? false });
  const ac = new AbortController();
  const ctx = {
    ...base,
    signal: ac.signal,
    emit: (evs: LogEvent[], onAck?: (...a: never[]) => void): Promise<void> => {
      events.push(...evs);
      const fire = (): void => {
        pending.delete(fire);
        if (!dead) (onAck as (() => void) | undefined)?.();
      };
      pending.add(fire);
      if (ack === 'now') queueMicrotask(fire);
      else if (ack === 'random') setTimeout(fire, Math.floor(rand() * 4));
      return Promise.resolve();
    },
  };
  // The schema's defaults, then the test's own values unchecked: the model tests go below the
  // schema's bounds on purpose (tiny reads, 10 ms timings) to reach more interleavings.
  const source = new FileSource({ ...withDefaults(fileSource, { include: cfg.include }), ...DEFAULTS, ...cfg } as FileSourceConfig, ctx as never);
  let runError: unknown;
  const done = source.run().catch((e: unknown) => {
    runError = e;
  });
  const counters = (): Record<string, number> => base.telemetry.snapshot();
  const state = (): string => {
    const cp = source.checkpoints;
    const rs = [...source.readers.values()].map((r) => ({ path: r.path, pos: r.pos, open: r.fh !== undefined, fresh: r.fresh, gone: r.gone, idle: r.idleSince, inFlight: r.tracker.inFlight }));
    return JSON.stringify({ runError: runError === undefined ? undefined : String((runError as Error).stack), outstanding: cp.outstanding, covered: cp.coveredSinceSave, saving: cp.saving !== undefined, queued: source.handles.waiting, readers: rs });
  };
  const halt = async (): Promise<void> => {
    running.delete(halt);
    ac.abort();
    await done;
    dead = true;
  };
  running.add(halt);
  return {
    state,
    source,
    events,
    records: base.records,
    counters,
    stop: async () => {
      running.delete(halt);
      ac.abort();
      await done;
      for (const f of [...pending]) f();
      await source.close();
    },
    crash: async () => {
      running.delete(halt);
      ac.abort();
      await done;
      dead = true;
      await source.checkpoints.saving;
    },
  };
}

/** Polls until `check` is true. */
export async function until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export const seqOf = (ev: LogEvent): number => (ev.data as { seq: number }).seq;
