/**
 * Rotation torture, end to end through the real binary: a writer in this process puts 200,000
 * numbered lines into `tetragon.log` across 20 rotations while tern tails it into a file sink, and
 * every line must arrive exactly once.
 *
 * - rename: the log is renamed to a timestamped backup and a new one is started at the old path
 *   (Tetragon's lumberjack, Falco, logrotate's default); with gzip, each backup is compressed and the
 *   uncompressed backup deleted at once (lumberjack's `compress`), so tern finishes it through its
 *   open handle after the deletion. Only the live path is included, as a DaemonSet would.
 * - copy-and-truncate: the log is copied, then truncated (logrotate `copytruncate`). Lines tern had
 *   not read at the truncation are recovered from the copy (same head); lines written between copy and
 *   truncate (10 per rotation here) are in neither file and are lost, as with every tailer.
 *
 * The writer rotates a file only after tern has delivered at least one of its lines (tern knows the
 * file; real rotation happens at megabytes, long after discovery), but without waiting for the rest,
 * so renames and truncations land between tern's reads.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, renameSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { OutputCounter } from '@tern/test-kit/e2e';
import { finalCounters, tern, tmp, until, write } from './helpers.ts';

const TOTAL = 200_000;
const ROTATIONS = 20;
const PER_FILE = TOTAL / ROTATIONS;
const CHUNK = 1000;
const PAD = 'x'.repeat(60);
/** Lines per rotation written between copy and truncate (copytruncate mode). */
const WINDOW = 10;

function chunk(from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += `{"seq":${i},"process_exec":{"binary":"/usr/bin/cat","pad":"${PAD}"}}\n`;
  return s;
}


const pipeline = `data_dir: ./state
sources:
  tetragon:
    type: file
    include: ["./logs/tetragon.log"]
    decoding: json_lazy
    glob_interval_ms: 50
    poll_interval_ms: 20
    rotate_wait_ms: 200
    checkpoint_interval_ms: 200
    read_buffer_bytes: 65536
sinks:
  out: { type: file, inputs: [tetragon], path: ./out/events.ndjson }
`;

type Mode = 'rename' | 'rename+gzip' | 'copytruncate';

async function torture(mode: Mode): Promise<{ lost: number; duplicates: number; ms: number; counters: Record<string, number>; lostOutsideWindow: number; window: number }> {
  const t0 = Date.now();
  const inWindow = new Set<number>();
  const dir = tmp();
  const logs = join(dir, 'logs');
  const live = join(logs, 'tetragon.log');
  write(dir, 'logs/tetragon.log', '');
  const p = write(dir, 'p.yaml', pipeline);
  const run = tern(['run', '-c', p, '--log-format', 'json']);
  const f = new OutputCounter(join(dir, 'out/events.ndjson'), TOTAL);
  const diag = (): string => `mode ${mode}, distinct ${f.distinct}/${TOTAL}, files ${readdirSync(logs).join(' ')}\n${run.stderr().slice(-3000)}`;
  try {
    for (let k = 0; k < ROTATIONS; k++) {
      const base = k * PER_FILE;
      appendFileSync(live, chunk(base, CHUNK));
      await until(() => (f.poll(), f.sawAnyOf(base, base + CHUNK)), 20_000, `tern to read file ${k}`, diag);
      const last = k === ROTATIONS - 1;
      // With copytruncate the last WINDOW lines of a file are written after the copy, before the truncation.
      const end = mode === 'copytruncate' && !last ? PER_FILE - WINDOW : PER_FILE;
      for (let c = CHUNK; c < end; c += CHUNK) {
        appendFileSync(live, chunk(base + c, Math.min(CHUNK, end - c)));
        if (c % (4 * CHUNK) === 0) await new Promise((r) => setImmediate(r));
      }
      if (last) break;
      const backup = join(logs, `tetragon-2024-11-22T05-${String(k).padStart(2, '0')}-00.000.log`);
      if (mode === 'copytruncate') {
        copyFileSync(live, backup);
        appendFileSync(live, chunk(base + end, WINDOW));
        for (let i = base + end; i < base + PER_FILE; i++) inWindow.add(i);
        truncateSync(live, 0);
      } else {
        renameSync(live, backup);
        writeFileSync(live, '');
        if (mode === 'rename+gzip') {
          writeFileSync(`${backup}.gz`, gzipSync(readFileSync(backup)));
          unlinkSync(backup);
          // Keep five compressed backups, like max_backups: 5.
          const old = join(logs, `tetragon-2024-11-22T05-${String(k - 5).padStart(2, '0')}-00.000.log.gz`);
          if (existsSync(old)) unlinkSync(old);
        }
      }
    }
    await until(() => (f.poll(), f.distinct + inWindow.size >= TOTAL), 30_000, 'every line', diag).catch((e: unknown) => {
      if (mode !== 'copytruncate') throw e;
    });
    // Give duplicates a moment to show up, if there were any in flight.
    await new Promise((r) => setTimeout(r, 300));
    f.poll();
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exit, 0, run.stderr().slice(-3000));
  f.poll();
  const counters = finalCounters(run, 'tetragon') ?? {};
  let lostOutsideWindow = 0;
  f.counts.forEach((c, seq) => {
    if (c === 0 && !inWindow.has(seq)) lostOutsideWindow++;
  });
  return { ...f.summary(), ms: Date.now() - t0, counters, lostOutsideWindow, window: inWindow.size };
}

describe('file source rotation torture (200,000 lines, 20 rotations)', () => {
  it('rotation by rename: every line exactly once', async () => {
    const r = await torture('rename');
    console.log(`torture rename: ${TOTAL} lines, lost ${r.lost}, duplicates ${r.duplicates}, ${r.ms} ms`);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicates, 0);
  });

  it('rotation by rename, backups gzipped and the uncompressed backup deleted at once: every line exactly once', async () => {
    const r = await torture('rename+gzip');
    console.log(`torture rename+gzip: ${TOTAL} lines, lost ${r.lost}, duplicates ${r.duplicates}, ${r.ms} ms`);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicates, 0);
  });

  it('copy-and-truncate: only lines written between copy and truncate are lost, none twice', async () => {
    const r = await torture('copytruncate');
    // Lines tern had not read when a truncation happened are read from the copy (same head). Lines
    // written after the copy and before the truncation exist in neither file: that window is the loss.
    console.log(
      `torture copytruncate: ${TOTAL} lines, lost ${r.lost} (${r.window} written between copy and truncate, ${r.lostOutsideWindow} others), ` +
        `duplicates ${r.duplicates}, truncations ${r.counters.truncations ?? 0}, recovered from copies ${r.counters.truncation_copies_read ?? 0}, ${r.ms} ms`,
    );
    assert.equal(r.lostOutsideWindow, 0, 'only lines of the copy-truncate window may be lost');
    assert.ok(r.lost <= r.window);
    assert.equal(r.duplicates, 0);
    assert.equal(r.counters.truncations, ROTATIONS - 1);
  });
});
