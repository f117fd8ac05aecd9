/**
 * One followed file: its state (`Reader`: identity, read position, head, line stream, in-flight
 * batches) and the reading of it (`FileReading`): one read of up to `read_buffer_bytes` per turn, a
 * `.gz` file as a decompressed stream, the end-of-file checks (growth, truncation, a last line
 * without newline, closing a rotated, deleted or inactive file), and handing each read's lines to
 * the pipeline with the acknowledgement that moves the file's checkpoint.
 */
import { fstat, type Stats } from 'node:fs';
import { readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { GzState, Reader, ReadingRoom, Tail } from './tail.ts';

export type { GzState, Reader } from './tail.ts';

export function sha1(buf: Buffer, len: number): string {
  return createHash('sha1').update(buf.subarray(0, len)).digest('hex');
}

/** The entries of `dir` with their stats: none when it cannot be read, and entries deleted meanwhile are skipped. */
export async function* statEntries(dir: string): AsyncGenerator<[string, Stats]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    let st: Stats;
    try {
      st = await stat(p);
    } catch {
      continue; // raced with a delete
    }
    yield [p, st];
  }
}

export const isGz = (path: string): boolean => path.endsWith('.gz');

/** fstat through the callback API: about half the CPU of `FileHandle.stat()`, which matters for idle polling. */
export function fstatOf(fh: FileHandle): Promise<Stats | undefined> {
  return new Promise((resolve) => fstat(fh.fd, (err, st) => resolve(err ? undefined : st)));
}


export const isDenied = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
};


/** Reading, for every followed file (the state is each file's `Reader`). */
export class FileReading implements ReadingRoom {
  private readonly s: Tail;

  constructor(s: Tail) {
    this.s = s;
  }

  /** One read on one file; returns whether it made progress. */
  async readOnce(r: Reader): Promise<boolean> {
    // A multiline event held past its timeout goes out even when no new line comes.
    if (r.stream.expire()) await this.emitBatch(r, 0);
    if (r.gz) return this.readGz(r);
    const fh = r.fh as FileHandle;
    if (r.idleSince > 0) {
      // Idle: one fstat tells whether there is anything to read, a read is only made when there is.
      const now = Date.now();
      if (!r.due && now < r.nextPoll) return false;
      r.due = false;
      r.nextPoll = now + this.s.cfg.poll_interval_ms;
      const seen = await this.atEof(r);
      if (seen !== 'grown') return seen === 'changed';
    }
    const start = r.pos;
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(this.s.readBuf, 0, this.s.readBuf.length, start));
    } catch (e) {
      this.s.ctx.logger.warn({ path: r.path, err: e }, 'read failed; closing the file');
      await this.s.handles.finish(r);
      return false;
    }
    if (bytesRead === 0) {
      r.nextPoll = Date.now() + this.s.cfg.poll_interval_ms;
      return (await this.atEof(r)) !== 'idle';
    }
    // Copy-and-truncate that refilled the file past our position between two reads: the head changed.
    // Checked after the read, so data read before the truncation is kept and data after it is not.
    if (r.headLen > 0) {
      // A read that overlaps the known head is compared in memory; one beyond it re-reads the head.
      const n = Math.min(r.headLen, start + bytesRead) - start;
      const same = n > 0 ? this.s.readBuf.compare(r.head, start, start + n, 0, n) === 0 : await this.headStill(r);
      if (!same) {
        await this.s.recovery.truncated(r, -1);
        return true;
      }
    }
    if (r.headLen < this.s.cfg.fingerprint_bytes && start <= r.headLen) {
      const to = Math.min(this.s.cfg.fingerprint_bytes, start + bytesRead);
      this.s.readBuf.copy(r.head, r.headLen, r.headLen - start, to - start);
      r.headLen = to;
    }
    r.idleSince = 0;
    r.goneSince = 0;
    r.slice++;
    r.pos = start + bytesRead;
    this.s.c.bytes.inc(bytesRead);
    r.stream.push(this.s.readBuf.subarray(0, bytesRead));
    await this.emitBatch(r, r.stream.committedOffset - start);
    return true;
  }

  async emitBatch(r: Reader, bytes: number): Promise<void> {
    const events = r.stream.take();
    const end = r.stream.committedOffset;
    if (events.length === 0) {
      // Only bad or partial lines: nothing to deliver, but bad lines are done with.
      if (end > r.tracker.committed) {
        if (r.tracker.inFlight === 0) r.tracker.committed = end;
        else r.tracker.track(end)();
        this.s.checkpoints.dirty = true;
      }
      return;
    }
    this.s.checkpoints.outstanding += events.length;
    const done = r.tracker.track(end, events.length);
    try {
      await this.s.intake.emit(
        events,
        () => {
          const covered = done();
          this.s.checkpoints.dirty = true;
          if (covered > 0) {
            this.s.checkpoints.coveredSinceSave += covered;
            if (this.s.checkpoints.coveredSinceSave * 2 >= this.s.checkpoints.maxUnsaved && !this.s.checkpoints.saving) this.s.checkpoints.saveSoon();
          }
        },
        Math.max(bytes, 0),
      );
    } catch (e) {
      // The pipeline stopped waiting for room (shutdown): the batch was not dispatched, and its
      // unacknowledged entry keeps the checkpoint before it, so it is read again after a restart.
      if ((e as Error).name !== 'AbortError') throw e;
    }
  }

  /**
   * At the end of a file, or checking an idle one: notices truncation, delivers a last unterminated
   * line when no more can come, closes rotated/deleted and inactive files. `grown`: there is data
   * to read; `changed`: state changed (truncation, a last line); `idle`: nothing to do.
   */
  async atEof(r: Reader): Promise<'grown' | 'changed' | 'idle'> {
    const st = await fstatOf(r.fh as FileHandle);
    if (st && st.size < r.pos) {
      await this.s.recovery.truncated(r, st.size);
      return 'changed';
    }
    if (st && st.size > r.pos) return 'grown';
    if (st) {
      // Truncated and refilled to exactly our position: only the head (and mtime) tell.
      if (st.mtimeMs !== r.lastMtime && r.headLen > 0 && r.gone === '' && !(await this.headStill(r))) {
        await this.s.recovery.truncated(r, st.size);
        return 'changed';
      }
      r.lastSize = st.size;
      r.lastMtime = st.mtimeMs;
    }
    const now = Date.now();
    if (r.idleSince === 0) r.idleSince = now;
    if (r.gone !== '' && r.goneSince === 0) r.goneSince = now;
    // No more can come: with --once, or rotate_wait_ms after a rotated or deleted file last grew.
    const final = this.s.ctx.once || (r.gone !== '' && now - r.goneSince >= this.s.cfg.rotate_wait_ms);
    let changed = false;
    if (final && r.stream.held) {
      // A last line without newline is still a line then (and a held CRI or multiline event an
      // event); while tailing it may still be being written.
      r.stream.flush();
      await this.emitBatch(r, 0);
      changed = true;
    }
    if (r.gone !== '') {
      if (final && r.tracker.inFlight === 0) {
        this.s.ctx.logger.info({ path: r.path, file_id: r.id }, r.gone === 'deleted' ? 'file deleted and read to its end; closed' : 'file rotated away and read to its end; closed');
        // A deleted file's checkpoint goes at once (its inode may hold another file by the next
        // start); a renamed one's stays until a scan finds no glob leading to it (a glob may match
        // its new name, and without the checkpoint it would be read again from its start).
        await this.s.handles.finish(r, r.gone === 'deleted');
      }
      return changed ? 'changed' : 'idle';
    }
    const inactive = this.s.cfg.close_inactive_ms;
    if (inactive > 0 && !this.s.ctx.once && now - r.idleSince >= inactive) {
      await this.s.handles.park(r);
    }
    return changed ? 'changed' : 'idle';
  }

  /** One turn on a `.gz`: up to `read_buffer_bytes` of decompressed data. */
  async readGz(r: Reader): Promise<boolean> {
    const g = r.gz as GzState;
    if (g.ended) {
      if (r.tracker.inFlight === 0) {
        this.s.checkpoints.update(r);
        const cp = this.s.checkpoints.checkpoint.files[r.id];
        if (cp) cp.done = true;
        this.s.checkpoints.dirty = true;
        this.s.discovery.quiet.set(r.id, { size: r.lastSize, mtime: r.lastMtime });
        this.s.ctx.logger.info({ path: r.path, file_id: r.id, bytes: r.pos }, 'compressed file read to its end; done');
        await this.s.handles.finish(r);
      }
      return false;
    }
    const now = Date.now();
    if (g.failedAt > 0 && now - g.failedAt < this.s.cfg.poll_interval_ms) return false;
    if (g.iter === undefined) {
      const fh = r.fh as FileHandle;
      // Positional reads of our own: a FileHandle read stream would close the handle when destroyed,
      // and a retry (file still being compressed) needs the handle again.
      let rawPos = 0;
      const raw = new Readable({
        highWaterMark: 65536,
        read(size) {
          const buf = Buffer.allocUnsafe(Math.max(size, 16384));
          fh.read(buf, 0, buf.length, rawPos).then(
            ({ bytesRead }) => {
              rawPos += bytesRead;
              this.push(bytesRead > 0 ? buf.subarray(0, bytesRead) : null);
            },
            (e: unknown) => this.destroy(e as Error),
          );
        },
      });
      const gunzip = createGunzip();
      raw.on('error', (e) => gunzip.destroy(e));
      raw.pipe(gunzip);
      g.iter = gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      g.destroy = () => {
        raw.unpipe(gunzip);
        raw.destroy();
        gunzip.destroy();
      };
      g.produced = 0;
    }
    const start = r.pos;
    let got = 0;
    try {
      while (got < this.s.cfg.read_buffer_bytes) {
        const n = await g.iter.next();
        if (n.done) {
          g.ended = true;
          break;
        }
        let chunk = n.value;
        const chunkStart = g.produced;
        g.produced += chunk.length;
        if (g.produced <= r.pos) continue;
        if (chunkStart < r.pos) chunk = chunk.subarray(r.pos - chunkStart);
        r.stream.push(chunk);
        r.pos += chunk.length;
        got += chunk.length;
      }
    } catch (e) {
      const st = await (r.fh as FileHandle).stat().catch(() => undefined);
      const size = st?.size ?? -1;
      const incomplete = (e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR';
      g.destroy?.();
      g.destroy = undefined;
      g.iter = undefined;
      if (incomplete && !this.s.ctx.once && (size !== g.failedSize || now - g.failedAt < this.s.cfg.rotate_wait_ms)) {
        // Probably still being written by the compressor: try again from here once it changed or settled.
        if (size !== g.failedSize) {
          g.failedSize = size;
          g.failedAt = now;
        }
      } else {
        this.s.ctx.logger.warn({ path: r.path, offset: r.pos, err: e }, 'compressed file is damaged or incomplete; keeping the lines read so far');
        g.ended = true;
      }
    }
    if (g.ended) r.stream.flush();
    this.s.c.bytes.inc(got);
    await this.emitBatch(r, r.stream.committedOffset - start);
    return got > 0 || g.ended;
  }

  async headStill(r: Reader): Promise<boolean> {
    const fh = r.fh as FileHandle;
    const { bytesRead } = await fh.read(this.s.scratch, 0, r.headLen, 0);
    return bytesRead === r.headLen && this.s.scratch.compare(r.head, 0, r.headLen, 0, r.headLen) === 0;
  }
}
