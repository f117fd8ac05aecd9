/**
 * ensureDataDir: a directory tern cannot write refuses the start (TERN_ERR_DATA_DIR, naming the path
 * and errno); a full one (ENOSPC, EDQUOT) is handed to the caller's `onFull` instead, so a disk buffer
 * that filled its disk can start and drain it. The errnos are made by failing the probe write (a
 * full file system needs root to make; the fault suite's tmpfs row does that end to end).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ensureDataDir, type TernError } from '@tern/core';

/** Runs `fn` while the probe's write fails with `code`. */
function probeFails<T>(code: string, fn: () => T): T {
  const write = fs.writeSync;
  fs.writeSync = ((fd: number, ...rest: unknown[]) => {
    throw Object.assign(new Error(`${code}: simulated, write`), { code, syscall: 'write', fd, rest });
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  try {
    return fn();
  } finally {
    fs.writeSync = write;
    syncBuiltinESMExports();
  }
}

describe('ensureDataDir', () => {
  it('a full file system goes to onFull (the start goes on) and leaves no probe file; without onFull it refuses', () => {
    for (const code of ['ENOSPC', 'EDQUOT']) {
      const dir = join(fs.mkdtempSync(join(tmpdir(), 'tern-dd-')), 'state');
      const said: TernError[] = [];
      probeFails(code, () => ensureDataDir(dir, 'disk buffer directory', 'new events wait', (e) => said.push(e)));
      assert.equal(said.length, 1);
      assert.equal(said[0]?.code, 'TERN_ERR_DATA_DIR');
      assert.match(String(said[0]?.message), new RegExp(`disk buffer directory ${dir} is full \\(${code}\\): new events wait while it stays full; starting anyway`));
      assert.deepEqual(fs.readdirSync(dir), [], 'the probe file is removed');
      assert.throws(() => probeFails(code, () => ensureDataDir(dir)), (e: TernError) => e.code === 'TERN_ERR_DATA_DIR' && e.message.includes(`is not writable (${code})`));
    }
  });

  it('a directory tern may not write refuses the start even with onFull', () => {
    for (const code of ['EACCES', 'EROFS', 'EFBIG']) {
      const dir = join(fs.mkdtempSync(join(tmpdir(), 'tern-dd-')), 'state');
      const said: TernError[] = [];
      assert.throws(
        () => probeFails(code, () => ensureDataDir(dir, 'data_dir', 'checkpoints could not be saved', (e) => said.push(e))),
        (e: TernError) => e.code === 'TERN_ERR_DATA_DIR' && e.message.includes(`${dir} is not writable (${code})`),
      );
      assert.equal(said.length, 0);
    }
  });
});
