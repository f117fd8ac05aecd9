/**
 * ensureDataDir: a directory tern cannot write refuses the start (TERN_ERR_DATA_DIR, naming the path
 * and errno); a full one (ENOSPC, EDQUOT) is only logged when a disk buffer under data_dir holds
 * events, so that tern can start and drain the volume the buffer filled. The errnos are made by failing the probe write (a
 * full file system needs root to make; the fault suite's tmpfs row does that end to end).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { diskBuffersHoldData, ensureDataDir, type TernError } from '@tern/core';

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
  /** A data_dir whose sink `es` has a disk buffer segment of `bytes` bytes. */
  const dataDir = (bytes: number): string => {
    const d = fs.mkdtempSync(join(tmpdir(), 'tern-dd-'));
    fs.mkdirSync(join(d, 'buffers/es'), { recursive: true });
    fs.writeFileSync(join(d, 'buffers/es/000000000001.seg'), Buffer.alloc(bytes));
    return d;
  };

  it('a full file system with a disk buffer holding events: said (TERN_ERR_DATA_DIR, path, errno) and the start goes on; no probe file left', () => {
    for (const code of ['ENOSPC', 'EDQUOT']) {
      const d = dataDir(100);
      const dir = join(d, 'buffers/es');
      const said: TernError[] = [];
      probeFails(code, () => ensureDataDir(dir, 'disk buffer directory', 'new events wait', { dataDir: d, log: (e) => said.push(e) }));
      assert.equal(said.length, 1);
      assert.equal(said[0]?.code, 'TERN_ERR_DATA_DIR');
      assert.match(String(said[0]?.message), new RegExp(`disk buffer directory ${dir} is full \\(${code}\\): new events wait while it stays full; starting anyway, because the disk buffers under ${d} hold events`));
      assert.deepEqual(fs.readdirSync(dir), ['000000000001.seg'], 'the probe file is removed');
      assert.equal(diskBuffersHoldData(d), true);
    }
  });

  it('a full file system with nothing to drain (no segments, or empty ones), or a caller that cannot start full: refused', () => {
    for (const d of [fs.mkdtempSync(join(tmpdir(), 'tern-dd-')), dataDir(0)]) {
      const said: TernError[] = [];
      assert.equal(diskBuffersHoldData(d), false);
      assert.throws(
        () => probeFails('ENOSPC', () => ensureDataDir(join(d, 'state'), 'data_dir', 'checkpoints could not be saved', { dataDir: d, log: (e) => said.push(e) })),
        (e: TernError) => e.code === 'TERN_ERR_DATA_DIR' && e.message.includes('is not writable (ENOSPC)'),
      );
      assert.equal(said.length, 0);
    }
    const held = dataDir(100);
    assert.throws(() => probeFails('ENOSPC', () => ensureDataDir(join(held, 'x'))), (e: TernError) => e.code === 'TERN_ERR_DATA_DIR');
  });

  it('what counts as held: records past the ledger (the first not acknowledged), and only in the sinks named', () => {
    const d = dataDir(100);
    const ledger = (seq: number, offset: number): void => fs.writeFileSync(join(d, 'buffers/es/ledger.json'), JSON.stringify({ seq, offset }));
    assert.equal(diskBuffersHoldData(d), true, 'no ledger: any bytes');
    ledger(1, 100);
    assert.equal(diskBuffersHoldData(d), false, 'every record of the segment acknowledged (a delivered last segment stays on disk)');
    ledger(1, 40);
    assert.equal(diskBuffersHoldData(d), true, 'bytes past the ledger');
    ledger(1, 100);
    fs.writeFileSync(join(d, 'buffers/es/000000000002.seg'), Buffer.alloc(10));
    assert.equal(diskBuffersHoldData(d), true, 'a later segment with bytes');
    assert.equal(diskBuffersHoldData(d, ['es']), true);
    assert.equal(diskBuffersHoldData(d, ['other']), false, 'a removed sink\'s buffer is nobody\'s to drain');
    assert.equal(diskBuffersHoldData(d, []), false);
  });

  it('a directory tern may not write refuses the start even with disk buffers to drain', () => {
    for (const code of ['EACCES', 'EROFS', 'EFBIG']) {
      const d = dataDir(100);
      const said: TernError[] = [];
      assert.throws(
        () => probeFails(code, () => ensureDataDir(d, 'data_dir', 'checkpoints could not be saved', { dataDir: d, log: (e) => said.push(e) })),
        (e: TernError) => e.code === 'TERN_ERR_DATA_DIR' && e.message.includes(`${d} is not writable (${code})`),
      );
      assert.equal(said.length, 0);
    }
  });
});
