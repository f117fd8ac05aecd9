/**
 * A checkpoint written while a file is being opened must keep that file's checkpoint. Opening a
 * file awaits the filesystem (realpath, the head read) before it settles where to read; a checkpoint
 * written in between (an acknowledgement of another file triggers one at any moment) once recorded
 * the reader's placeholder offset 0 over the file's checkpoint, and the file was then read again from
 * its start: duplicates after a graceful restart, found by the model test. This file makes the
 * interleaving certain instead of rare: `realpath`, which opening awaits, writes the checkpoint
 * state of every reader first. It patches a builtin, so it has a file (a process) of its own.
 */
import assert from 'node:assert/strict';
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CheckpointStore } from '../src/checkpoint.ts';
import { seqOf, start, stopAll, tmp, until, type Running } from './harness.ts';

after(stopAll);

const lines = (from: number, n: number): string => {
  let s = '';
  for (let i = from; i < from + n; i++) s += `{"seq":${i},"p":"${'z'.repeat(20)}"}\n`;
  return s;
};

let during: Running | undefined;
const realpath = fsp.realpath;
fsp.realpath = (async (...a: Parameters<typeof realpath>) => {
  // What a checkpoint write does first, at the worst moment: record every reader's state.
  if (during) for (const r of during.source.readers.values()) during.source.checkpoints.update(r);
  return realpath(...a);
}) as typeof realpath;
syncBuiltinESMExports();
after(() => {
  fsp.realpath = realpath;
  syncBuiltinESMExports();
});

describe('checkpoints written while files are opened', () => {
  it('a file resumed from its checkpoint (rotated while stopped, and one still at its path) is not read again from its start', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'app.log'), lines(0, 100));
    writeFileSync(join(dir, 'other.log'), lines(1000, 50));
    const s1 = start({ include: ['app.log', 'other.log'] }, dir);
    await until(() => s1.events.length === 150, 5000, 'first run');
    await s1.stop();
    appendFileSync(join(dir, 'app.log'), lines(100, 30));
    renameSync(join(dir, 'app.log'), join(dir, 'app-1.log'));
    writeFileSync(join(dir, 'app.log'), lines(500, 3));
    appendFileSync(join(dir, 'other.log'), lines(1050, 5));
    const s2 = start({ include: ['app.log', 'other.log'] }, dir);
    during = s2;
    await until(() => s2.events.length >= 38, 5000, 'the rest of the rotated file, the new one and the appended lines');
    await new Promise((r) => setTimeout(r, 100));
    during = undefined;
    await s2.stop();
    assert.deepEqual(
      s2.events.map(seqOf).sort((a, b) => a - b),
      [...Array.from({ length: 30 }, (_, i) => 100 + i), 500, 501, 502, ...Array.from({ length: 5 }, (_, i) => 1050 + i)],
    );
    const files = Object.values(new CheckpointStore(join(dir, 'state'), 'src').load().files);
    assert.ok(files.every((f) => f.head_len > 0), 'no checkpoint records an empty head for a file with content');
  });
});
