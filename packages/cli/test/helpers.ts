/**
 * End-to-end helpers: run the real `tern` binary (from source) on a pipeline file in a temporary
 * directory, and wait for what arrives in output files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));

export function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tern-e2e-'));
}

export function write(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

export interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** `wrap`: a command that runs tern (for example `setpriv` dropping capabilities), before node and its arguments. */
export function tern(args: string[], opts: { cwd?: string; input?: string | Buffer; env?: Record<string, string>; wrap?: string[] } = {}): Run {
  const [cmd, ...pre] = opts.wrap ?? [];
  const child = spawn(cmd ?? process.execPath, [...(cmd === undefined ? [] : [...pre, process.execPath]), '--conditions=tern-src', BIN, ...args], {
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

export function lines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

/** Polls until `check` returns true (or fails after `ms`). */
export async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Parsed JSON log lines of a run's stderr. */
export function logs(run: Run): Array<Record<string, unknown>> {
  return run
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function tetragonLines(n: number, from = 0): string {
  let s = '';
  for (let i = from; i < from + n; i++) {
    s += JSON.stringify({ process_exec: { process: { exec_id: `id-${i}`, binary: '/usr/bin/cat', arguments: '/etc/shadow', pod: { namespace: 'default', name: 'xwing' } } }, node_name: 'kind-worker', time: '2024-11-22T05:20:00.000000001Z', seq: i }) + '\n';
  }
  return s;
}
