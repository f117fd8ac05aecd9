/**
 * Model-based randomized test (as Vector tests its file source): random sequences of writes,
 * rotations by rename (optionally deleting the backup, as gzip-on-rotate does), copy-and-truncate,
 * deletion of the live file (inviting inode reuse), graceful restarts and crashes, run against the
 * real source and compared with an in-memory model of what was written.
 *
 * The model's rule: every line written reaches the output at least once; with no crash, exactly
 * once; each crash adds at most `max_unsaved_events` plus one read per open file of duplicates.
 * Preconditions the model enforces are the documented limits, not shortcuts: a file is rotated,
 * truncated or deleted only after tern read its first line and wrote a checkpoint that knows its
 * current content (a file created and rotated out of the globs before tern saw it cannot be
 * followed; after a crash, a copy is recognised by the head the checkpoint recorded), and tern is
 * not stopped while a deleted file it still had to finish exists (its handle is the only way to it).
 *
 * Besides the count, each duplicate must have a cause: a line is sent again only after the run that
 * sent it last crashed (a graceful stop checkpoints everything acknowledged).
 *
 * Failing seeds are printed; replay one with MODEL_SEED=<seed> (timing may differ: loop it), and add
 * MODEL_DEBUG=1 for every run's log and checkpoint in $TMPDIR/tern-model-<seed>.log.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, readFileSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { LogEvent } from '@tern/core';
import { CheckpointStore } from '../src/checkpoint.ts';
import { stopAll, start, tmp, until, type Running } from './harness.ts';
import { mulberry32 } from '@tern/test-kit/e2e';

after(stopAll);

const MAX_UNSAVED = 300;
const READ = 2048;
const line = (i: number): string => `{"seq":${i},"p":"${'m'.repeat(i % 50)}"}\n`;

type Op = 'write' | 'rename' | 'rename+delete' | 'copytruncate' | 'delete' | 'restart' | 'crash' | 'pause';
const WEIGHTS: Array<[Op, number]> = [
  ['write', 40],
  ['rename', 8],
  ['rename+delete', 5],
  ['copytruncate', 6],
  ['delete', 4],
  ['restart', 4],
  ['crash', 4],
  ['pause', 6],
];

interface Variant {
  weights: Array<[Op, number]>;
  extra: Record<string, number>;
}

async function scenario(seed: number, steps: number, variant: Variant): Promise<{ written: number; duplicates: number; crashes: number; ops: string[]; twice: string; unexplained: string[] }> {
  const rand = mulberry32(seed);
  const weights = variant.weights;
  const pick = (): Op => {
    let x = rand() * weights.reduce((a, [, w]) => a + w, 0);
    for (const [op, w] of weights) if ((x -= w) < 0) return op;
    return 'write';
  };
  const dir = tmp('tern-model-');
  const live = join(dir, 'app.log');
  const events: LogEvent[] = [];
  const cfg = { include: ['app.log'], max_unsaved_events: MAX_UNSAVED, read_buffer_bytes: READ, fingerprint_bytes: 48, ...variant.extra };
  const counts = new Map<number, number>();
  let seen = 0;
  const tally = (): void => {
    for (; seen < events.length; seen++) {
      const s = (events[seen]?.data as { seq: number }).seq;
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
  };
  const arrived = (s: number): boolean => (tally(), (counts.get(s) ?? 0) > 0);
  /** Where each run's events begin in `events`, and which runs crashed: a line sent again must have been sent last by a run that crashed. */
  const runStarts: number[] = [0];
  const crashed = new Set<number>();
  let run: Running = start(cfg, dir, { ack: 'random', events });
  // After a restart, the model deletes files only once tern holds them open: a file deleted before
  // any tailer opened it is gone for all of them (Filebeat and Vector alike), which is not what this
  // test is about. Parked readers (the second variant, which never deletes) do not need to be open.
  const firstScanDone = (): boolean => !run.source.firstScan && (variant.extra.max_open_files !== undefined || [...run.source.readers.values()].every((r) => !r.fresh));
  let written = 0;
  /** First line of the live file's current content, or -1 when it has none. */
  let liveFirst = -1;
  /** Lines only a deleted file (still open in tern) holds. */
  let orphaned: number[] = [];
  let crashes = 0;
  const history: Array<Record<string, unknown>> = [];
  let k = 0;
  const ops: string[] = [];
  const knownAndRecorded = async (what: string): Promise<void> => {
    if (liveFirst < 0) return;
    const first = liveFirst;
    await until(() => arrived(first), 5000, `${what}: tern to read line ${first}`);
    const id = ((st) => `${st.dev}:${st.ino}`)(statSync(live));
    const content = readFileSync(live);
    await until(
      () => {
        const cp = new CheckpointStore(join(dir, 'state'), 'src').load().files[id];
        return cp !== undefined && cp.head_len > 0 && createHash('sha1').update(content.subarray(0, cp.head_len)).digest('hex') === cp.head_hash;
      },
      5000,
      `${what}: checkpoint of the live file's content`,
    );
  };
  try {
    for (let step = 0; step < steps; step++) {
      const op = pick();
      ops.push(op);
      switch (op) {
        case 'write': {
          const n = 1 + Math.floor(rand() * 200);
          let s = '';
          for (let i = written; i < written + n; i++) s += line(i);
          appendFileSync(live, s);
          if (liveFirst < 0) liveFirst = written;
          ops[ops.length - 1] = `write[${written}-${written + n - 1}]`;
          written += n;
          break;
        }
        case 'rename':
        case 'rename+delete': {
          if (!existsSync(live)) break;
          await knownAndRecorded(op);
          const backup = join(dir, `app-${k++}.log`);
          renameSync(live, backup);
          if (op === 'rename+delete') {
            unlinkSync(backup);
            if (liveFirst >= 0) for (let i = liveFirst; i < written; i++) orphaned.push(i);
          }
          liveFirst = -1;
          break;
        }
        case 'copytruncate': {
          if (!existsSync(live)) break;
          await knownAndRecorded(op);
          copyFileSync(live, join(dir, `app.log.copy-${k++}`));
          truncateSync(live, 0);
          liveFirst = -1;
          break;
        }
        case 'delete': {
          if (!existsSync(live)) break;
          await knownAndRecorded(op);
          unlinkSync(live);
          if (liveFirst >= 0) for (let i = liveFirst; i < written; i++) orphaned.push(i);
          liveFirst = -1;
          break;
        }
        case 'restart':
        case 'crash': {
          const left = orphaned;
          await until(() => left.every(arrived), 5000, `${op}: deleted files finished`);
          orphaned = [];
          history.push(...run.records, { msg: `=== ${op}: end of run ${runStarts.length - 1}, events ${events.length}` });
          if (op === 'crash') {
            await run.crash();
            crashes++;
            crashed.add(runStarts.length - 1);
          } else await run.stop();
          if (process.env.MODEL_DEBUG) history.push({ msg: `=== checkpoint after ${op}`, files: new CheckpointStore(join(dir, 'state'), 'src').load().files, sent: runSummary(events, runStarts[runStarts.length - 1] as number) });
          runStarts.push(events.length);
          run = start(cfg, dir, { ack: 'random', events });
          await until(firstScanDone, 5000, 'first scan after restart');
          break;
        }
        case 'pause':
          await new Promise((r) => setTimeout(r, Math.floor(rand() * 15)));
          break;
      }
    }
    await until(() => {
      tally();
      for (let i = 0; i < written; i++) if (!counts.get(i)) return false;
      return true;
    }, 10_000, 'every written line');
    await new Promise((r) => setTimeout(r, 30));
  } catch (e) {
    tally();
    const missing: number[] = [];
    for (let i = 0; i < written && missing.length < 20; i++) if (!counts.get(i)) missing.push(i);
    const logs = process.env.MODEL_DEBUG ? `\n${run.state()}\n${[...history, ...run.records].map((r) => JSON.stringify(r)).join('\n')}` : `\n${run.state()}`;
    throw new Error(`seed ${seed}: ${(e as Error).message}; written ${written}, missing ${missing.join(',')}; ops ${ops.join(' ')}${logs}`);
  } finally {
    await run.stop();
  }
  tally();
  let duplicates = 0;
  const twice: number[] = [];
  for (const [seq, c] of counts) {
    duplicates += c - 1;
    if (c > 1) twice.push(seq);
  }
  twice.sort((a, b) => a - b);
  // Runs of duplicated line numbers, for a failure that a seed alone does not replay (timing).
  const runs: string[] = [];
  for (let i = 0; i < twice.length; ) {
    let j = i;
    while (j + 1 < twice.length && twice[j + 1] === (twice[j] as number) + 1) j++;
    runs.push(i === j ? `${twice[i]}` : `${twice[i]}-${twice[j]}`);
    i = j + 1;
  }
  // A line sent again is explained only by a crash of the run that sent it last: a graceful stop
  // writes the checkpoint of everything acknowledged, so the next run must not send it again.
  const lastRun = new Map<number, number>();
  const unexplained: string[] = [];
  for (let i = 0, k = 0; i < events.length; i++) {
    while (k + 1 < runStarts.length && i >= (runStarts[k + 1] as number)) k++;
    const s = (events[i]?.data as { seq: number }).seq;
    const prev = lastRun.get(s);
    if (prev !== undefined && (prev === k || !crashed.has(prev)) && unexplained.length < 40) unexplained.push(`${s} (run ${prev}${crashed.has(prev) ? ', crashed' : ''} then run ${k})`);
    lastRun.set(s, k);
  }
  // With MODEL_DEBUG, each run's log lines and the checkpoint each left behind, for reading a failure.
  if (unexplained.length > 0 && process.env.MODEL_DEBUG) writeFileSync(join(tmpdir(), `tern-model-${seed}.log`), [...history, ...run.records].map((r) => JSON.stringify(r)).join('\n'));
  return { written, duplicates, crashes, ops, twice: runs.join(','), unexplained };
}

/** `a-b` runs of the seq numbers in `events` from `from` on, for debugging. */
function runSummary(events: LogEvent[], from: number): string {
  const out: string[] = [];
  let a = -2;
  let b = -2;
  for (let i = from; i < events.length; i++) {
    const s = (events[i]?.data as { seq: number }).seq;
    if (s === b + 1) b = s;
    else {
      if (a >= 0) out.push(`${a}-${b}`);
      a = b = s;
    }
  }
  if (a >= 0) out.push(`${a}-${b}`);
  return out.join(',');
}

async function many(variant: Variant, name: string): Promise<void> {
  const base = Number(process.env.MODEL_SEED ?? Date.now() % 1_000_000);
  const runs = process.env.MODEL_SEED ? 1 : 12;
  let lines = 0;
  let dups = 0;
  for (let i = 0; i < runs; i++) {
    const seed = base + i;
    const r = await scenario(seed, 60, variant);
    lines += r.written;
    dups += r.duplicates;
    const perRead = Math.ceil(READ / 20);
    assert.deepEqual(r.unexplained, [], `seed ${seed}: lines sent again with no crash of the run that sent them (runs count from 0; each restart or crash starts the next); ops ${r.ops.join(' ')}`);
    if (r.crashes === 0) assert.equal(r.duplicates, 0, `seed ${seed}: duplicates without a crash; ops ${r.ops.join(' ')}`);
    else assert.ok(r.duplicates <= r.crashes * (MAX_UNSAVED + 2 * perRead), `seed ${seed}: ${r.duplicates} duplicates after ${r.crashes} crashes (lines sent twice: ${r.twice}); ops ${r.ops.join(' ')}`);
  }
  console.log(`model ${name}: ${runs} sequences from seed ${base}, ${lines} lines, ${dups} duplicates (all after crashes)`);
}

describe('file source against an in-memory model', () => {
  it('random write/rotate/truncate/delete/restart/crash sequences: nothing lost, duplicates only from crashes and bounded', async () => {
    await many({ weights: WEIGHTS, extra: {} }, 'handles kept');
  });

  it('the same with handles closed after 10 ms idle and at most 2 open (files parked and reopened; no deletions, which lose a parked file)', async () => {
    const weights = WEIGHTS.filter(([op]) => op !== 'delete' && op !== 'rename+delete');
    await many({ weights, extra: { close_inactive_ms: 10, max_open_files: 2 } }, 'handles parked');
  });
});
