/**
 * The clients of a running tern's HTTP API: `tern tap` (a stream of the events leaving a component)
 * and `tern top` (a live table of every component's throughput, errors and buffer fill). Both find
 * the API through `--api <url>`, or the `api.address` of the pipeline given with `-c` (a wildcard
 * address is reached on loopback), or `http://127.0.0.1:8686`.
 *
 * Both are rxjs streams: the tap's NDJSON body as a stream of lines, top's samples on a timer,
 * rendered as they come.
 */
import { loadPipeline, parseAddress, type Registry } from '@tern/core';
import { concatMap, from, map, Observable, timer, type Subscription } from 'rxjs';
import { Agent, fetch } from 'undici';

/** A tap may see nothing for a long time (a quiet component): no body timeout. */
const streaming = new Agent({ bodyTimeout: 0 });

export const DEFAULT_API = 'http://127.0.0.1:8686';

/** The API's base URL from `--api`, else from the pipeline's `api.address`, else the default. */
export function apiUrl(opts: { api?: string; config: string[] }, registry: Registry): string {
  if (opts.api) return opts.api.replace(/\/+$/, '');
  if (opts.config.length > 0) {
    const cfg = loadPipeline(opts.config, registry);
    if (cfg.api === undefined) throw new Error(`${opts.config.join(', ')} sets no api.address: the API is off in that pipeline (add api: { address: 127.0.0.1:8686 })`);
    const { host, port } = parseAddress(cfg.api.address);
    const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return `http://${h}:${port}`;
  }
  return DEFAULT_API;
}

/** The lines of a streamed response body. */
export function lines$(url: string, signal: AbortSignal): Observable<string> {
  return new Observable<string>((sub) => {
    (async () => {
      const res = await fetch(url, { signal, dispatcher: streaming });
      if (!res.ok || res.body === null) {
        const text = await res.text().catch(() => '');
        let msg = text;
        try {
          msg = (JSON.parse(text) as { error?: string }).error ?? text;
        } catch {
          // not JSON
        }
        throw new Error(`${res.status} ${msg}`);
      }
      const decoder = new TextDecoder();
      let rest = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        rest += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          sub.next(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
      }
      if (rest) sub.next(rest);
      sub.complete();
    })().catch((e: unknown) => sub.error(e));
  });
}

export interface TapOptions {
  readonly rate: number;
  readonly filter?: string;
  readonly limit: number;
  /** Print `{component, output, event}` instead of the event alone. */
  readonly withOutput: boolean;
}

/** Streams the events leaving `component` to stdout; resolves when the stream ends (limit, server gone, Ctrl-C). */
export function tap(base: string, component: string, o: TapOptions): Promise<number> {
  const q = new URLSearchParams({ component, rate: String(o.rate), limit: String(o.limit) });
  if (o.filter) q.set('filter', o.filter);
  const ac = new AbortController();
  return new Promise<number>((resolve) => {
    let sub: Subscription | undefined;
    const onInt = (): void => {
      ac.abort();
      sub?.unsubscribe();
      resolve(0);
    };
    process.once('SIGINT', onInt);
    let first = true;
    sub = lines$(`${base}/api/tap?${q}`, ac.signal)
      .pipe(map((l) => JSON.parse(l) as Record<string, unknown>))
      .subscribe({
        next: (o2) => {
          if (first) {
            first = false;
            process.stderr.write(`tapping ${component} (outputs ${(o2.outputs as string[]).join(', ')}), at most ${String(o2.rate)} events/s; Ctrl-C to stop\n`);
            return;
          }
          if (o2.skipped !== undefined) {
            process.stderr.write(`… ${String(o2.skipped)} events skipped (${String(o2.reason)})\n`);
            return;
          }
          if (o2.filter_errors !== undefined) {
            process.stderr.write(`… ${String(o2.filter_errors)} events not shown: ${String(o2.reason)}\n`);
            return;
          }
          process.stdout.write(`${JSON.stringify(o.withOutput ? o2 : o2.event)}\n`);
        },
        error: (e: unknown) => {
          process.off('SIGINT', onInt);
          process.stderr.write(`tern tap: ${base}: ${(e as Error).message}${(e as { cause?: { code?: string } }).cause?.code ? ` (${(e as { cause: { code: string } }).cause.code}; is tern running with api.address set?)` : ''}\n`);
          resolve(1);
        },
        complete: () => {
          process.off('SIGINT', onInt);
          resolve(0);
        },
      });
  });
}

// ---------------------------------------------------------------- top

interface Snapshot {
  time: number;
  version?: string;
  components: Array<{ id: string; kind: string; type: string; counters: Record<string, number>; status?: { state: string; buffer_events: number; buffer_bytes: number; buffer_max_events: number; buffer_max_bytes: number } }>;
  in_flight: { events: number; bytes: number; max_events: number; max_bytes: number };
}

const ERROR_COUNTERS = ['errors', 'decode_errors', 'encode_errors', 'events_rejected', 'parse_errors', 'checkpoint_errors', 'write_errors', 'buffer_write_errors'];
const sum = (c: Record<string, number>, keys: readonly string[]): number => keys.reduce((a, k) => a + (c[k] ?? 0), 0);

function fmtRate(v: number): string {
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

/** The table `tern top` draws, from two snapshots (rates are per second between them). */
export function renderTop(prev: Snapshot | undefined, cur: Snapshot, base: string, width = 100, interactive = false): string {
  const dt = prev ? (cur.time - prev.time) / 1000 : 0;
  const before = new Map((prev?.components ?? []).map((c) => [c.id, c.counters]));
  const head = ['COMPONENT', 'KIND', 'TYPE', 'IN/s', 'OUT/s', 'EVENTS OUT', 'ERRORS', 'DROPPED', 'BUFFER', 'STATE'];
  const rows: string[][] = [head];
  for (const c of cur.components) {
    const p = before.get(c.id) ?? {};
    const inName = c.kind === 'source' ? 'events_out' : 'events_in';
    const outName = c.kind === 'sink' ? 'events_delivered' : 'events_out';
    const rate = (k: string) => (dt > 0 ? ((c.counters[k] ?? 0) - (p[k] ?? 0)) / dt : 0);
    const s = c.status;
    const fill = s ? (s.buffer_max_events > 0 ? s.buffer_events / s.buffer_max_events : s.buffer_bytes / Math.max(1, s.buffer_max_bytes)) : undefined;
    rows.push([
      c.id,
      c.kind,
      c.type,
      c.kind === 'source' ? '-' : fmtRate(rate(inName)),
      fmtRate(rate(outName)),
      String(c.counters[outName] ?? 0),
      String(sum(c.counters, ERROR_COUNTERS) + (c.counters.events_dead_lettered ?? 0)),
      String(c.counters.events_dropped ?? 0),
      fill === undefined ? '-' : `${(fill * 100).toFixed(fill < 0.1 ? 1 : 0)}% ${s?.buffer_events ?? 0}ev`,
      s?.state ?? '-',
    ]);
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((x, i) => (i < 3 || i === r.length - 1 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join('  ').trimEnd().slice(0, width);
  const b = cur.in_flight;
  return [
    `tern top — ${base}${cur.version ? ` (tern ${cur.version})` : ''} — ${new Date(cur.time).toISOString().slice(11, 19)}${interactive ? ' — q to quit' : ''}`,
    `in flight: ${b.events}/${b.max_events} events, ${Math.round(b.bytes / 1024)}/${Math.round(b.max_bytes / 1024)} KiB`,
    '',
    ...rows.map(line),
    '',
  ].join('\n');
}

async function snapshot(base: string): Promise<Snapshot> {
  const res = await fetch(`${base}/api/components`);
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return (await res.json()) as Snapshot;
}

/**
 * Redraws the table every `intervalMs` on a terminal until q or Ctrl-C; elsewhere (a pipe) takes
 * `iterations` snapshots (default 2: the first has no rates yet), prints the last one's table and exits.
 */
export function top(base: string, o: { intervalMs: number; iterations?: number }): Promise<number> {
  const interactive = process.stdout.isTTY === true && o.iterations === undefined;
  const count = o.iterations ?? (interactive ? Number.POSITIVE_INFINITY : 2);
  return new Promise<number>((resolve) => {
    let prev: Snapshot | undefined;
    let n = 0;
    let sub: Subscription | undefined;
    const finish = (code: number): void => {
      sub?.unsubscribe();
      if (interactive) {
        process.stdout.write('\x1b[?25h\x1b[?1049l');
        if (process.stdin.isTTY) process.stdin.setRawMode(false);
        process.stdin.pause();
      }
      resolve(code);
    };
    if (interactive) {
      // Alternate screen, hidden cursor; raw keys for q.
      process.stdout.write('\x1b[?1049h\x1b[?25l');
      if (process.stdin.isTTY) process.stdin.setRawMode(true);
      process.stdin.resume();
      process.stdin.on('data', (d: Buffer) => {
        const k = d.toString();
        if (k === 'q' || k === '\u0003' || k === '\u001b') finish(0);
      });
    }
    sub = timer(0, o.intervalMs)
      .pipe(concatMap(() => from(snapshot(base))))
      .subscribe({
        next: (s) => {
          const text = renderTop(prev, s, base, interactive ? process.stdout.columns || 120 : 200, interactive);
          prev = s;
          n++;
          if (interactive) process.stdout.write(`\x1b[H\x1b[2J${text}`);
          else if (n === count || count === 1) process.stdout.write(text);
          if (n >= count) finish(0);
        },
        error: (e: unknown) => {
          if (interactive) process.stdout.write('\x1b[?25h\x1b[?1049l');
          process.stderr.write(`tern top: ${base}: ${(e as Error).message}${(e as { cause?: { code?: string } }).cause?.code ? ` (${(e as { cause: { code: string } }).cause.code}; is tern running with api.address set?)` : ''}\n`);
          finish(1);
        },
      });
  });
}
