/**
 * `@tern/test-kit/e2e`: what end-to-end tests share — run the real `tern` binary (from its
 * TypeScript sources under `--conditions=tern-src`, as the test runner does) or any node script,
 * make a work directory that is removed after the test, write files, generate Tetragon logs
 * (gen-tetragon.ts), wait for output files and read the binary's JSON logs and final counters.
 *
 * The binary is found as the `tern-forwarder` package's `bin` export, by Node's own resolution (the
 * workspace root depends on the CLI package), never by a relative path into another package: a test
 * that uses these helpers stands on its own wherever the packages are installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

export { mulberry32, tetragonLog, writeTetragonLog } from './gen-tetragon.ts';

/** The CLI's entry point (`tern-forwarder/bin`: its sources under `--conditions=tern-src`). */
export const TERN_BIN: string = fileURLToPath(import.meta.resolve('tern-forwarder/bin'));

/** Node arguments that run `tern` with `args`. */
export function ternArgs(args: readonly string[]): string[] {
  return ['--conditions=tern-src', TERN_BIN, ...args];
}

export interface Run {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code once the process and its pipes closed. */
  readonly exit: Promise<number | null>;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly input?: string | Buffer;
  readonly env?: Record<string, string>;
  /** A command that runs node (for example `setpriv` dropping capabilities), before node and its arguments. */
  readonly wrap?: readonly string[];
}

/** Runs `node <args>` with captured output. */
export function node(args: readonly string[], opts: RunOptions = {}): Run {
  const [cmd, ...pre] = opts.wrap ?? [];
  const child = spawn(cmd ?? process.execPath, [...(cmd === undefined ? [] : [...pre, process.execPath]), ...args], {
    cwd: opts.cwd,
    env: { ...process.env, TERN_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  else child.stdin?.end();
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exit, stdout: () => Buffer.concat(out).toString('utf8'), stderr: () => Buffer.concat(err).toString('utf8') };
}

/** Runs `node <args>` to its end: the exit code and what it wrote to stderr. */
export async function nodeToExit(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const r = node(args, { cwd, env });
  const code = await r.exit;
  return { code, stderr: r.stderr() };
}

/** Runs the `tern` binary with `args`; the test's cleanup kills it if it is still running then. */
export function tern(args: readonly string[], opts: RunOptions = {}): Run {
  const run = node(ternArgs(args), opts);
  after(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  });
  return run;
}

/** A fresh temporary directory (kept after the test). */
export function tmp(prefix = 'tern-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh temporary directory removed when the test (or suite) that made it ends. */
export function workdir(prefix = 'tern-e2e-'): string {
  const dir = tmp(prefix);
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `text` to `dir/name` (directories created); returns the path. */
export function write(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** The non-empty lines of a file (none when it does not exist). */
export function lines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

/** Polls until `check` returns true (or fails after `ms`, with `diag()` in the message when given). */
export async function until(check: () => boolean, ms = 10_000, what = 'condition', diag?: () => string): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}${diag ? `\n${diag()}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Follows an output file as it grows and counts how often each line number (`"seq":N`) arrived:
 * what the crash and torture tests compare with what was written (lost: never arrived; duplicates:
 * arrived more than once). Reads only what was appended since the last `poll`.
 */
export class OutputCounter {
  /** Arrivals per line number. */
  readonly counts: Uint16Array;
  /** Line numbers that arrived at least once. */
  distinct = 0;
  /** Arrivals, duplicates included. */
  total = 0;
  maxSeq = -1;
  private pos = 0;
  private rest = '';
  private readonly path: string;
  private readonly buf = Buffer.allocUnsafe(1 << 20);

  /** `expected`: line numbers 0 … expected-1 are the ones written. */
  constructor(path: string, expected: number) {
    this.path = path;
    this.counts = new Uint16Array(expected);
  }

  /** Counts what was appended since the last call; an output line without a line number is an error. */
  poll(): void {
    if (!existsSync(this.path)) return;
    const fd = openSync(this.path, 'r');
    try {
      for (;;) {
        const n = readSync(fd, this.buf, 0, this.buf.length, this.pos);
        if (n === 0) break;
        this.pos += n;
        const text = this.rest + this.buf.toString('utf8', 0, n);
        const lines = text.split('\n');
        this.rest = lines.pop() ?? '';
        for (const l of lines) {
          const m = /"seq":(\d+)/.exec(l);
          if (!m) throw new Error(`unexpected output line: ${l.slice(0, 200)}`);
          const seq = Number(m[1]);
          if ((this.counts[seq] as number) === 0) this.distinct++;
          this.counts[seq] = (this.counts[seq] as number) + 1;
          this.total++;
          if (seq > this.maxSeq) this.maxSeq = seq;
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Whether any of the line numbers `[from, to)` arrived. */
  sawAnyOf(from: number, to: number): boolean {
    for (let i = from; i < to; i++) if ((this.counts[i] as number) > 0) return true;
    return false;
  }

  /** Line numbers that never arrived, and arrivals beyond the first. */
  summary(): { lost: number; duplicates: number } {
    let lost = 0;
    let duplicates = 0;
    for (const c of this.counts) {
      if (c === 0) lost++;
      else duplicates += c - 1;
    }
    return { lost, duplicates };
  }
}

/** Parsed JSON log lines of a run's stderr. */
export function logs(run: Pick<Run, 'stderr'> | string): Array<Record<string, unknown>> {
  const text = typeof run === 'string' ? run : run.stderr();
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A component's counters from the last stats line of a run's logs (written at exit). */
export function finalCounters(run: Pick<Run, 'stderr'> | string, id: string): Record<string, number> | undefined {
  const last = logs(run).findLast((l) => l.counters !== undefined)?.counters as Record<string, Record<string, number>> | undefined;
  return last?.[id];
}

/** `n` small Tetragon-like exec lines with a `seq` number from `from`: enough for counting tests. */
export function tetragonLines(n: number, from = 0): string {
  let s = '';
  for (let i = from; i < from + n; i++) {
    s += JSON.stringify({ process_exec: { process: { exec_id: `id-${i}`, binary: '/usr/bin/cat', arguments: '/etc/shadow', pod: { namespace: 'default', name: 'xwing' } } }, node_name: 'kind-worker', time: '2024-11-22T05:20:00.000000001Z', seq: i }) + '\n';
  }
  return s;
}
