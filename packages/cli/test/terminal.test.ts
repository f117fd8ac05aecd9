/**
 * What a person sees on a terminal: `tern run --once` draws a progress bar (bytes read of the total,
 * events per second, ETA) with log lines above it and ends with a summary table; `tern top` draws its
 * live table and quits on q. Both run in a pseudo-terminal (node-pty), and the screen is read back
 * through a headless terminal emulator (@xterm/headless), so the check is on what is displayed, not
 * on the escape codes. In a pipe, the same backfill logs a progress line every few seconds and a
 * summary line.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pty from '@lydell/node-pty';
import xterm from '@xterm/headless';
import { DEFAULT_IN_FLIGHT } from '@tern/core';
import { startElasticsearch, type ElasticsearchEmulator } from '@tern/test-kit';
import { BIN, logs, tern, tmp, until, write } from './helpers.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Screen {
  /** The visible lines, trimmed on the right. */
  text(): string;
  write(data: string): void;
  readonly exit: Promise<number>;
}

/** Runs tern in a pseudo-terminal of `cols`×`rows`, mirrored into a headless terminal. */
function inTerminal(args: string[], opts: { cwd?: string; env?: Record<string, string>; cols?: number; rows?: number } = {}): Screen {
  const cols = opts.cols ?? 120;
  const rows = opts.rows ?? 30;
  const term = new xterm.Terminal({ cols, rows, allowProposedApi: true });
  const p = pty.spawn(process.execPath, ['--conditions=tern-src', BIN, ...args], { cols, rows, cwd: opts.cwd ?? process.cwd(), env: { ...process.env, TERN_LOG_LEVEL: 'info', ...opts.env } as Record<string, string>, name: 'xterm-256color' });
  p.onData((d) => term.write(d));
  const exit = new Promise<number>((resolve) => p.onExit((e) => resolve(e.exitCode)));
  cleanups.push(() => {
    try {
      p.kill('SIGKILL');
    } catch {
      // gone
    }
  });
  return {
    text() {
      const b = term.buffer.active;
      const out: string[] = [];
      for (let i = 0; i < b.length; i++) out.push((b.getLine(i)?.translateToString(true) ?? '').trimEnd());
      return out.join('\n');
    },
    write: (d) => p.write(d),
    exit,
  };
}

function seqLines(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += `${JSON.stringify({ seq: i, msg: `event number ${i} with some padding to make the line longer` })}\n`;
  return s;
}

/** A backfill that takes a few seconds: the emulator answers each bulk request after 100 ms, one at a time. */
async function slowBackfill(): Promise<{ es: ElasticsearchEmulator; dir: string; p: string }> {
  const es = await startElasticsearch();
  cleanups.push(() => es.close());
  es.fault({ match: { method: 'POST', path: /_bulk$/ }, times: Number.POSITIVE_INFINITY, action: { delayMs: 100 } });
  const dir = tmp();
  write(dir, 'in.log', seqLines(20_000));
  const p = write(
    dir,
    'p.yaml',
    `in_flight: { max_events: 2000 }\nsources:\n  in: { type: file, include: [in.log], decoding: json, read_buffer_bytes: 65536 }\nsinks:\n  es:\n    type: elasticsearch\n    inputs: [in]\n    endpoints: ["${es.url}"]\n    index: events\n    healthcheck: false\n    batch: { max_events: 500 }\n    buffer: { max_events: 1000 }\n    request: { concurrency: 1 }\n`,
  );
  return { es, dir, p };
}

describe('run --once on a terminal', () => {
  it('draws a progress bar (bytes of total, events/s, ETA) under the log lines, then a summary per sink', async () => {
    const { es, p } = await slowBackfill();
    const s = inTerminal(['run', '--once', '-c', p]);
    const bar = /^read [█░]+ +(\d+)% \| [\d.]+ [kM]?B of ([\d.]+) MB \| [\d,]+ events\/s \| ETA (\d+:\d\d|\?)$/m;
    await until(() => {
      const m = bar.exec(s.text());
      return m !== null && Number(m[1]) > 0 && Number(m[1]) < 100;
    }, 20_000, 'a bar part way').catch((e: Error) => assert.fail(`${e.message}; the screen:\n${s.text()}`));
    const mid = s.text();
    assert.match(mid, / INFO  \[in\] reading file path=/, 'log lines are printed above the bar');
    const m = bar.exec(mid) as RegExpExecArray;
    assert.equal(m[2], (seqLines(20_000).length / 1e6).toFixed(1), 'the total is the file\'s size');
    assert.equal(await s.exit, 0, s.text());
    const end = s.text();
    assert.match(end, /^read [█]+ +100% \|/m);
    assert.match(end, /^summary: read 20,000 events in [\d.]+ s; everything read was delivered$/m);
    assert.match(end, /^ {2}sink +delivered +rejected +dead-lettered +dropped +undelivered +buffered$/m);
    assert.match(end, /^ {2}es +20,000 +0 +0 +0 +0 +0$/m);
    assert.equal(es.count(), 20_000);
  });
});

describe('run --once in a pipe', () => {
  it('logs a progress line every --progress-interval seconds and a summary line', async () => {
    const { es, p } = await slowBackfill();
    const r = tern(['run', '--once', '-c', p, '--progress-interval', '1', '--log-format', 'json']);
    assert.equal(await r.exit, 0, r.stderr());
    const progress = logs(r).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('progress: '));
    assert.ok(progress.length >= 2, `${progress.length} progress lines`);
    const last = progress[progress.length - 1] as { bytes_read: number; bytes_total: number; events_read: number; events_per_second: number };
    assert.equal(last.bytes_total, seqLines(20_000).length);
    assert.ok(last.bytes_read > 0 && last.events_read > 0);
    assert.match(String(progress[0]?.msg), /^progress: [\d.]+ [kM]?B of [\d.]+ [kM]B \(\d+%\), \d+ events\/s, ETA (\d+:\d\d|\?)$/);
    const summary = logs(r).find((l) => typeof l.msg === 'string' && l.msg.startsWith('summary: ')) as { read: number; ok: boolean; sinks: Record<string, { delivered: number }> };
    assert.equal(summary.read, 20_000);
    assert.equal(summary.ok, true);
    assert.equal(summary.sinks.es?.delivered, 20_000);
    assert.equal(es.count(), 20_000);
  });
});

describe('tern top on a terminal', () => {
  it('draws every component\'s throughput, errors, buffer fill and state, and quits on q', async () => {
    const dir = tmp();
    write(dir, 'in.log', seqLines(100));
    const p = write(dir, 'p.yaml', 'api: { address: "127.0.0.1:0" }\nsources:\n  in: { type: file, include: [in.log], decoding: json }\ntransforms:\n  even: { type: filter, inputs: [in], condition: "int(event.seq) % 2 == 0" }\nsinks:\n  out: { type: file, inputs: [even], path: out.ndjson }\n');
    const run = tern(['run', '-c', p, '--log-format', 'json']);
    cleanups.push(() => void (run.child.exitCode === null && run.child.kill('SIGKILL')));
    let url = '';
    await until(() => ((url = (logs(run).find((l) => typeof l.url === 'string')?.url as string | undefined) ?? '') !== ''), 20_000, 'the API');
    const s = inTerminal(['top', '--api', url, '--interval', '0.2'], { cols: 110, rows: 20 });
    await until(() => /^out +sink +file .* healthy/m.test(s.text()), 20_000, 'the table').catch((e: Error) => assert.fail(`${e.message}; the screen:\n${s.text()}`));
    const screen = s.text();
    assert.match(screen, new RegExp(`^tern top — ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(tern \\d+\\.\\d+\\.\\d+\\) — \\d\\d:\\d\\d:\\d\\d — q to quit$`, 'm'));
    assert.match(screen, new RegExp(`^in flight: 0/${DEFAULT_IN_FLIGHT.max_events} events`, 'm'));
    assert.match(screen, /^COMPONENT +KIND +TYPE +IN\/s +OUT\/s +EVENTS OUT +ERRORS +DROPPED +BUFFER +STATE$/m);
    assert.match(screen, /^in +source +file +- +[\d.]+ +100 +0 +0 +- +-$/m);
    assert.match(screen, /^even +transform +filter +[\d.]+ +[\d.]+ +50 +0 +50 +- +-$/m);
    assert.match(screen, /^out +sink +file +[\d.]+ +[\d.]+ +50 +0 +0 +0\.0% 0ev +healthy$/m);
    s.write('q');
    assert.equal(await s.exit, 0);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
    assert.equal(join(dir, 'out.ndjson').length > 0, true);
  });
});
