/**
 * Structured logs with pino: JSON lines on stderr by default (what a DaemonSet's log collector
 * wants), a compact human format when stderr is a terminal. Errors go under `err`.
 */
import { Writable } from 'node:stream';
import { pino, type Logger, type Level } from 'pino';

export type LogFormat = 'json' | 'pretty' | 'auto';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component', 'name']);

/** Formats one pino JSON line as `HH:MM:SS.mmm LEVEL [component] message key=value ...`. */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const t = new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString().slice(11, 23);
  const lvl = LEVEL_NAMES[o.level as number] ?? String(o.level);
  const comp = o.component ? ` [${String(o.component)}]` : '';
  let rest = '';
  for (const [k, v] of Object.entries(o)) {
    if (SKIP.has(k)) continue;
    if (k === 'err' && v && typeof v === 'object') {
      const e = v as { message?: string; code?: string; stack?: string };
      rest += ` err=${JSON.stringify(e.code ? `${e.code}: ${e.message}` : e.message)}`;
      continue;
    }
    rest += ` ${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`;
  }
  return `${t} ${lvl.padEnd(5)}${comp} ${String(o.msg ?? '')}${rest}\n`;
}

export function createLogger(opts: { level?: string; format?: LogFormat; destination?: NodeJS.WritableStream } = {}): Logger {
  const dest = opts.destination ?? process.stderr;
  const format = opts.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && dest === process.stderr && process.stderr.isTTY === true);
  const level = (opts.level ?? 'info') as Level;
  if (!pretty) return pino({ level, base: undefined }, pino.destination({ dest: dest === process.stderr ? 2 : 1, sync: true }));
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) dest.write(prettyLine(line));
      cb();
    },
  });
  return pino({ level, base: undefined }, stream);
}
