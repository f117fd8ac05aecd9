/**
 * Progress of `tern run --once` (a backfill): on a terminal a progress bar (cli-progress) with bytes
 * read of the total, events per second and the time left; in a pipe a progress log line every few
 * seconds; at the end a summary per sink (read, delivered, rejected, dead-lettered).
 *
 * The numbers come from the sources' telemetry: `bytes_read` and `events_out` counters, and the
 * `file_lag_bytes` gauge (bytes between what a file source read and the end of each file), so the
 * total is what was read plus what is left, and grows if the files do.
 */
import { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { interval, map, type Subscription } from 'rxjs';
import type { Logger, Pipeline, RunResult } from '@tern/core';

export interface ProgressSample {
  readonly bytesRead: number;
  readonly bytesTotal: number;
  readonly events: number;
}

/** Bytes read, bytes to read in all, events read, summed over the sources. */
export function sample(pipeline: Pipeline): ProgressSample {
  let bytesRead = 0;
  let left = 0;
  let events = 0;
  for (const c of pipeline.components()) {
    if (c.kind !== 'source') continue;
    bytesRead += c.counters.bytes_read ?? 0;
    events += c.counters.events_out ?? 0;
  }
  for (const t of pipeline.telemetry.all()) {
    if (t.kind !== 'source') continue;
    for (const g of t.gauges()) if (g.name === 'file_lag_bytes') for (const [, v] of g.samples) left += v;
  }
  return { bytesRead, bytesTotal: bytesRead + left, events };
}

const units = ['B', 'kB', 'MB', 'GB', 'TB'];
export function humanBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** Rates over a sliding window of samples, so one slow second does not make the ETA jump. */
class Rates {
  private readonly window: Array<{ t: number; s: ProgressSample }> = [];
  private readonly spanMs: number;
  constructor(spanMs: number) {
    this.spanMs = spanMs;
  }
  add(s: ProgressSample, t = Date.now()): { eventsPerSecond: number; bytesPerSecond: number } {
    this.window.push({ t, s });
    while (this.window.length > 2 && t - (this.window[0] as { t: number }).t > this.spanMs) this.window.shift();
    const first = this.window[0] as { t: number; s: ProgressSample };
    const dt = (t - first.t) / 1000;
    if (dt <= 0) return { eventsPerSecond: 0, bytesPerSecond: 0 };
    return { eventsPerSecond: (s.events - first.s.events) / dt, bytesPerSecond: (s.bytesRead - first.s.bytesRead) / dt };
  }
}

export interface ProgressView {
  /** Where log lines go while the bar is drawn (above it), or undefined without a bar. */
  readonly logStream: Writable | undefined;
  start(pipeline: Pipeline): void;
  stop(): void;
}

/** A bar on a terminal: redrawn a few times a second, log lines printed above it. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: 'read {bar} {percentage}% | {read} of {total_h} | {eps} events/s | ETA {eta_h}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 20,
      fps: 5,
      forceRedraw: true,
      // Signals are tern's: the first SIGINT drains, it does not just stop the bar.
      gracefulExit: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  let sub: Subscription | undefined;
  let source: Pipeline | undefined;
  const rates = new Rates(5000);
  const draw = (s: ProgressSample): void => {
    const r = rates.add(s);
    const eta = r.bytesPerSecond > 0 ? (s.bytesTotal - s.bytesRead) / r.bytesPerSecond : s.bytesRead >= s.bytesTotal ? 0 : Number.POSITIVE_INFINITY;
    bar?.setTotal(Math.max(1, s.bytesTotal));
    bar?.update(s.bytesRead, { read: humanBytes(s.bytesRead), total_h: humanBytes(s.bytesTotal), eps: Math.round(r.eventsPerSecond).toLocaleString('en-US'), eta_h: duration(eta) });
  };
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk.toString('utf8');
      if (bar) multi.log(text.endsWith('\n') ? text : `${text}\n`);
      else stream.write(text);
      cb();
    },
  });
  return {
    logStream,
    start(pipeline) {
      source = pipeline;
      const first = sample(pipeline);
      bar = multi.create(Math.max(1, first.bytesTotal), first.bytesRead, { read: humanBytes(first.bytesRead), total_h: humanBytes(first.bytesTotal), eps: '0', eta_h: '?' });
      sub = interval(200)
        .pipe(map(() => sample(pipeline)))
        .subscribe(draw);
    },
    stop() {
      sub?.unsubscribe();
      // The last state, and log lines still buffered, before the bar stops for good.
      if (source) draw(sample(source));
      multi.update();
      multi.stop();
      bar = undefined;
    },
  };
}

/** In a pipe: one progress log line every `everyMs`. */
export function progressLines(logger: Logger, everyMs: number): ProgressView {
  let sub: Subscription | undefined;
  const rates = new Rates(Math.max(everyMs, 5000));
  return {
    logStream: undefined,
    start(pipeline) {
      rates.add(sample(pipeline));
      sub = interval(everyMs)
        .pipe(map(() => sample(pipeline)))
        .subscribe((s) => {
          const r = rates.add(s);
          const left = s.bytesTotal - s.bytesRead;
          const eta = r.bytesPerSecond > 0 ? left / r.bytesPerSecond : undefined;
          const pct = s.bytesTotal > 0 ? Math.floor((s.bytesRead / s.bytesTotal) * 100) : 100;
          logger.info(
            { bytes_read: s.bytesRead, bytes_total: s.bytesTotal, events_read: s.events, events_per_second: Math.round(r.eventsPerSecond), ...(eta !== undefined ? { eta_seconds: Math.round(eta) } : {}) },
            `progress: ${humanBytes(s.bytesRead)} of ${humanBytes(s.bytesTotal)} (${pct}%), ${Math.round(r.eventsPerSecond)} events/s, ETA ${eta === undefined ? '?' : duration(eta)}`,
          );
        });
    },
    stop() {
      sub?.unsubscribe();
    },
  };
}

/** The summary as log fields: events read, and per sink what became of them. */
export function summaryFields(result: RunResult, elapsedMs: number): Record<string, unknown> {
  const s = result.summary;
  const sinks: Record<string, { delivered: number; rejected: number; dead_lettered: number; dropped: number; undelivered: number; buffered: number }> = {};
  for (const [id, r] of Object.entries(s.sinks)) sinks[id] = { delivered: r.delivered, rejected: r.rejected, dead_lettered: r.dead_lettered, dropped: r.dropped, undelivered: r.undelivered, buffered: r.buffered };
  return { read: Object.values(s.sources).reduce((a, x) => a + x.events, 0), elapsed_ms: elapsedMs, ok: s.ok, sinks };
}

/** The end-of-run summary: what was read, and per sink what became of it. */
export function summaryTable(result: RunResult, elapsedMs: number): string {
  const s = result.summary;
  const read = Object.values(s.sources).reduce((a, x) => a + x.events, 0);
  const rows: string[][] = [['sink', 'delivered', 'rejected', 'dead-lettered', 'dropped', 'undelivered', 'buffered']];
  for (const [id, r] of Object.entries(s.sinks)) rows.push([id, r.delivered, r.rejected, r.dead_lettered, r.dropped, r.undelivered, r.buffered].map((v) => (typeof v === 'number' ? v.toLocaleString('en-US') : v)));
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]): string => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')}`;
  const lines = [
    `summary: read ${read.toLocaleString('en-US')} event${read === 1 ? '' : 's'} in ${(elapsedMs / 1000).toFixed(1)} s; ${s.ok ? 'everything read was delivered' : `NOT everything was delivered: ${s.problems.join('; ')}`}`,
    ...rows.map(fmt),
  ];
  return `${lines.join('\n')}\n`;
}
