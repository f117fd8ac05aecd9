/**
 * Handles: which followed files hold an open descriptor. At most `max_open_files` are open; with
 * more files waiting, idle files give up their handle first, then busy files that had
 * `SLICE_READS` reads in a row (round-robin), so every file progresses. Opening a file again checks
 * it is the same file (inode, then head) and settles where to read: its checkpoint, `read_from`, or
 * the start. Files tern may not read are reported once and retried quietly.
 */
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AckTracker } from './checkpoint.ts';
import { isDenied, sha1 } from './reader.ts';
import type { Reader, HandleRoom, Tail } from './tail.ts';

/** Reads a busy file may make in a row while files without a handle wait for one. */
export const SLICE_READS = 16;

export class Handles implements HandleRoom {
  private readonly s: Tail;
  private waitQueue: Reader[] = [];
  openCount = 0;
  private readonly maxOpen: number;

  constructor(s: Tail) {
    this.s = s;
    this.maxOpen = s.cfg.max_open_files;
  }

  /** Files waiting for a handle. */
  get waiting(): number {
    return this.waitQueue.length;
  }

  /** Takes back the last file queued (a copy `Recovery.readCopy` opened itself). */
  unqueueLast(): void {
    this.waitQueue.pop();
  }

  enqueue(r: Reader): void {
    r.queued = true;
    this.waitQueue.push(r);
  }

  /** Gives waiting files a handle: free slots first, then slots of idle files and of busy files that had their turn. */
  async schedule(): Promise<void> {
    if (this.waitQueue.length === 0) return;
    if (this.openCount + this.waitQueue.length > this.maxOpen) {
      const victims = [...this.s.readers.values()].filter((r) => r.fh !== undefined && r.gone === '' && r.gz === undefined && (r.idleSince > 0 || r.slice >= SLICE_READS));
      victims.sort((a, b) => (b.idleSince > 0 ? 1 : 0) - (a.idleSince > 0 ? 1 : 0) || b.slice - a.slice);
      let need = this.openCount + this.waitQueue.length - this.maxOpen;
      for (const v of victims) {
        if (need-- <= 0) break;
        const busy = v.idleSince === 0;
        await this.park(v);
        if (busy) this.enqueue(v);
      }
    }
    while (this.waitQueue.length > 0 && this.openCount < this.maxOpen) {
      const r = this.waitQueue.shift() as Reader;
      r.queued = false;
      if (this.s.readers.get(r.id) !== r || r.fh !== undefined) continue;
      await this.activate(r);
    }
  }

  /** Opens a file (first time or again), checks it is the same file, and settles where to read. */
  async activate(r: Reader): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(r.path, 'r');
    } catch (e) {
      if (isDenied(e)) return this.deniedAccess(r, e);
      if (!(await this.followRename(r))) return;
      try {
        fh = await open(r.path, 'r');
      } catch {
        return this.lostWhileClosed(r);
      }
    }
    const st = await fh.stat();
    if (`${st.dev}:${st.ino}` !== r.id) {
      // The path leads to another file now (rotated between scan and open): find ours by inode.
      await fh.close();
      if (!(await this.followRename(r))) return;
      return this.activate(r);
    }
    r.fh = fh;
    this.openCount++;
    r.slice = 0;
    r.idleSince = 0;
    if (r.denied) {
      r.denied = false;
      this.s.ctx.logger.info({ path: r.path, file_id: r.id }, 'file readable now; reading it');
    }
    if (r.fresh) {
      // `fresh` stays set until `initialise` settled where to read: until then the reader's offset and
      // head are placeholders, and a checkpoint written meanwhile (an acknowledgement of another file
      // triggers one) must not record them over this file's checkpoint, or a restart reads it from 0.
      // Writes to a symlink's target notify the target's directory, not the link's.
      const real = await realpath(r.path).catch(() => r.path);
      if (real !== r.path) {
        r.realPath = real;
        this.s.byPath.set(real, r);
        this.s.discovery.watchDir(dirname(real));
      }
      await this.initialise(r, fh, st.size);
      return;
    }
    // Reopened after parking: same inode, but is it the same content? (deleted, inode reused)
    if (r.headLen > 0 && !(await this.s.reading.headStill(r))) await this.s.recovery.truncated(r, st.size);
  }

  /** Finds a file that is not at its path any more by inode next to it; false (and forgotten) when it is gone. */
  private async followRename(r: Reader): Promise<boolean> {
    const found = await this.s.discovery.findById(dirname(r.path), r.id);
    if (!found) {
      this.lostWhileClosed(r);
      return false;
    }
    this.s.moved(r, found);
    r.gone = 'renamed';
    return true;
  }

  /** EACCES/EPERM: not a lost file but a file tern may not read. Said once, with the fix; retried at every scan. */
  deniedAccess(r: Reader, e: unknown): void {
    if (r.denied) return;
    r.denied = true;
    this.s.c.denied.inc();
    this.s.ctx.logger.warn(
      { path: r.path, file_id: r.id, errno: (e as NodeJS.ErrnoException).code },
      'permission denied: tern may not read this file; it is retried quietly and read once readable. Fix: run tern as the file\'s owner (or in its group), or grant read access (chmod, an ACL), or give tern CAP_DAC_READ_SEARCH',
    );
  }

  lostWhileClosed(r: Reader): void {
    if (r.denied) this.s.ctx.logger.warn({ path: r.path, file_id: r.id }, 'file removed before tern was allowed to read it (permission denied); its lines were not read');
    else if (r.pos < r.lastSize) {
      this.s.c.lost.inc();
      this.s.ctx.logger.warn({ path: r.path, file_id: r.id, offset: r.pos }, 'file removed while it had no open handle; lines after offset are lost');
    }
    this.forget(r);
  }

  async initialise(r: Reader, fh: FileHandle, size: number): Promise<void> {
    const fp = this.s.cfg.fingerprint_bytes;
    const want = Math.min(size, fp);
    const { bytesRead } = want > 0 ? await fh.read(r.head, 0, want, 0) : { bytesRead: 0 };
    r.headLen = bytesRead;
    const cp = this.s.checkpoints.checkpoint.files[r.id];
    let pos = 0;
    let resumed = false;
    if (cp && cp.head_len <= bytesRead && sha1(r.head, cp.head_len) === cp.head_hash) {
      if (cp.done) {
        // A .gz read and acknowledged before: nothing to do while it stays as it is.
        this.s.discovery.quiet.set(r.id, { size: r.lastSize, mtime: r.lastMtime });
        await this.release(r);
        this.drop(r);
        return;
      }
      pos = r.gz || cp.offset <= size ? cp.offset : 0;
      resumed = true;
    } else if (cp && r.gz === undefined && cp.head_len > 0) {
      // Same inode, other content: truncated (copy-and-truncate) while we were stopped, or the inode
      // was reused. In the first case the copy holds the rest of what we had not read.
      const copy = await this.s.recovery.findCopy(dirname(r.path), r.id, cp.head_len, cp.head_hash, cp.offset);
      if (copy) {
        this.s.c.truncations.inc();
        this.s.ctx.logger.warn({ path: r.path, offset: cp.offset, copy: copy[0] }, 'file truncated while not followed; reading the rest of its old content from the copy, then the file from its start');
        await this.s.recovery.readCopyAt(copy, cp.head_len, cp.offset);
      }
    } else if (r.gz === undefined) {
      if (r.atStart && this.s.cfg.read_from === 'end') pos = size;
      else if (r.startHint > 0 && r.startHint <= size) pos = r.startHint;
    }
    r.pos = pos;
    r.tracker = new AckTracker(pos);
    r.stream = this.s.intake.lines(r.origin, pos);
    r.fresh = false;
    this.s.c.files.inc();
    this.s.ctx.logger.info({ path: r.path, file_id: r.id, offset: pos, resumed }, 'reading file');
    this.s.checkpoints.update(r);
    // Record a new file soon: after a crash, a file rotated out of the globs is found again only through its checkpoint.
    if (!resumed) this.s.checkpoints.lastWrite = 0;
  }

  /** Closes the handle but keeps the reader (position, pending partial line, in-flight batches). */
  async park(r: Reader): Promise<void> {
    await this.release(r);
    r.idleSince = 0;
    r.slice = 0;
  }

  async release(r: Reader): Promise<void> {
    const g = r.gz;
    if (g?.destroy) {
      g.destroy();
      g.destroy = undefined;
      g.iter = undefined;
    }
    const fh = r.fh;
    if (fh === undefined) return;
    r.fh = undefined;
    this.openCount--;
    await fh.close().catch(() => undefined);
  }

  /**
   * Done with a file for good (read to its end after rotation or deletion, or closed by
   * `close_removed`). `forget` (a deleted file): its checkpoint goes at once, as there is nothing
   * left to resume and its inode may hold another file by the next start; otherwise it records where
   * reading stopped (a renamed file, a read error, a `.gz` done).
   */
  async finish(r: Reader, forget = false): Promise<void> {
    if (forget) this.s.checkpoints.forget(r.id);
    else this.s.checkpoints.update(r);
    await this.release(r);
    this.drop(r);
  }

  drop(r: Reader): void {
    this.s.readers.delete(r.id);
    if (this.s.byPath.get(r.path) === r) this.s.byPath.delete(r.path);
    if (r.realPath !== undefined && this.s.byPath.get(r.realPath) === r) this.s.byPath.delete(r.realPath);
  }

  forget(r: Reader): void {
    this.s.checkpoints.outstanding -= r.tracker.reset(r.tracker.committed);
    this.drop(r);
    void this.release(r);
  }
}
