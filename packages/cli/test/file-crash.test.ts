/**
 * Crash recovery, end to end: tern is killed with SIGKILL at five random moments during one
 * 200,000-line transfer (the writer keeps writing and rotating meanwhile) and restarted each time.
 * Nothing may be lost; duplicates are counted and must stay within what a crash can re-send: per
 * kill, at most `max_unsaved_events` plus one read of each file (the file source's bound, which
 * covers both events in flight and events acknowledged after the last checkpoint write).
 */
import assert from 'node:assert/strict';
import { appendFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mulberry32, OutputCounter } from '@tern/test-kit/e2e';
import { tern, tmp, until, write, type Run } from './helpers.ts';

const TOTAL = 200_000;
const PER_FILE = 20_000;
const CHUNK = 500;
const KILLS = 5;
const MAX_UNSAVED = 2000;
const READ_BYTES = 16384;
const PAD = 'y'.repeat(80);

const line = (i: number): string => `{"seq":${i},"process_kprobe":{"function_name":"tcp_connect","pad":"${PAD}"}}\n`;


describe('file source crash recovery', () => {
  it(`SIGKILL ${KILLS} times during a ${TOTAL}-line transfer with rotations: nothing lost, duplicates within the in-flight bound`, async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const rand = mulberry32(seed);
    const dir = tmp();
    const live = join(dir, 'logs/app.log');
    write(dir, 'logs/app.log', '');
    const p = write(
      dir,
      'p.yaml',
      `data_dir: ./state
in_flight: { max_events: ${MAX_UNSAVED} }
sources:
  app:
    type: file
    include: ["./logs/app.log*"]
    decoding: json_lazy
    glob_interval_ms: 50
    poll_interval_ms: 20
    rotate_wait_ms: 100
    checkpoint_interval_ms: 100
    read_buffer_bytes: ${READ_BYTES}
    max_unsaved_events: ${MAX_UNSAVED}
sinks:
  out: { type: file, inputs: [app], path: ./out/events.ndjson }
`,
    );
    const f = new OutputCounter(join(dir, 'out/events.ndjson'), TOTAL);

    // The writer: paced appends, a rotation by rename every PER_FILE lines, independent of tern.
    let written = 0;
    const writer = (async () => {
      while (written < TOTAL) {
        let s = '';
        for (let i = written; i < written + CHUNK; i++) s += line(i);
        appendFileSync(live, s);
        written += CHUNK;
        if (written % PER_FILE === 0 && written < TOTAL) renameSync(live, `${live}.${written / PER_FILE}`);
        await new Promise((r) => setTimeout(r, 8));
      }
    })();

    let run: Run = tern(['run', '-c', p, '--log-format', 'json']);
    const diag = (): string => `seed ${seed}, written ${written}, distinct ${f.distinct}\n${run.stderr().slice(-2000)}`;
    const kills: Array<{ at: number; arrived: number }> = [];
    try {
      for (let k = 0; k < KILLS; k++) {
        // A random moment in the k-th sixth of the transfer (and at least 200 lines into this run).
        const target = Math.floor((TOTAL * (k + 0.2 + 0.8 * rand())) / (KILLS + 1));
        const floor = f.total + 200;
        await until(() => (f.poll(), (f.distinct >= target && f.total >= floor) || f.distinct === TOTAL), 30_000, `run ${k} to deliver`, diag);
        run.child.kill('SIGKILL');
        await run.exit;
        f.poll();
        kills.push({ at: f.distinct, arrived: f.total });
        run = tern(['run', '-c', p, '--log-format', 'json']);
      }
      await writer;
      await until(() => (f.poll(), f.distinct === TOTAL), 30_000, 'every line after the last restart', diag);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      run.child.kill('SIGTERM');
    }
    assert.equal(await run.exit, 0, run.stderr().slice(-2000));
    f.poll();

    let lost = 0;
    let duplicates = 0;
    for (const c of f.counts) {
      if (c === 0) lost++;
      else duplicates += c - 1;
    }
    const linesPerRead = Math.ceil(READ_BYTES / (line(TOTAL).length - 1));
    // Per kill: max_unsaved_events, plus one read per open file (the live one and at most a rotated one).
    const bound = KILLS * (MAX_UNSAVED + 2 * linesPerRead);
    console.log(
      `crash: seed ${seed}, ${TOTAL} lines, ${KILLS} SIGKILLs (after ${kills.map((x) => x.at).join(', ')} distinct lines), ` +
        `lost ${lost}, duplicates ${duplicates} (bound ${bound} = ${KILLS} × (max_unsaved_events ${MAX_UNSAVED} + 2 reads of ${linesPerRead} lines))`,
    );
    assert.equal(kills.length, KILLS);
    assert.equal(lost, 0, `seed ${seed}`);
    assert.ok(duplicates <= bound, `seed ${seed}: ${duplicates} duplicates > ${bound}`);
  });
});
