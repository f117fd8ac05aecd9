/**
 * Recovery from copy-and-truncate rotation (logrotate's `copytruncate`): a file that shrank below the
 * read position, or whose head changed, was truncated. The rest of its old content is read from the
 * copy when one with the same head sits next to it, then the file is read again from 0. The same
 * search finishes a file truncated or rotated away while tern was stopped (see Discovery.scan).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AckTracker } from './checkpoint.ts';
import { isGz, sha1, statEntries } from './reader.ts';
import type { Reader, RecoveryRoom, Tail } from './tail.ts';

export class Recovery implements RecoveryRoom {
  private readonly s: Tail;

  constructor(s: Tail) {
    this.s = s;
  }

  /** Forgets everything read after `offset` (truncation): old in-flight batches no longer move the checkpoint. */
  restartAt(r: Reader, offset: number): void {
    this.s.checkpoints.outstanding -= r.tracker.reset(offset);
    r.pos = offset;
    r.stream.reset(offset);
    if (offset === 0) {
      r.headLen = 0;
      r.hashedLen = -1;
    }
    this.s.checkpoints.dirty = true;
  }

  /** Copy-and-truncate: finish the old content from the copy if there is one next to the file, then read the file from 0. */
  async truncated(r: Reader, size: number): Promise<void> {
    this.s.c.truncations.inc();
    const from = r.stream.committedOffset;
    const copy = r.headLen > 0 ? await this.findCopy(dirname(r.path), r.id, r.headLen, r.head, from) : undefined;
    this.s.ctx.logger.warn({ path: r.path, offset: from, size: size >= 0 ? size : undefined, copy: copy?.[0] }, copy ? 'file truncated; reading the rest of its old content from the copy, then the file from its start' : 'file truncated; reading it again from the start');
    if (copy) this.readCopy(copy, r.head, r.headLen, from);
    this.restartAt(r, 0);
    // Record the new content soon: after a crash, its copy (if it is truncated again) is found by this head.
    this.s.checkpoints.lastWrite = 0;
  }

  /**
   * A file in `dir` other than `id` whose first `headLen` bytes are the given head (bytes, or their
   * sha1), at least `from` bytes long and not being read: the copy logrotate made before truncating.
   */
  async findCopy(dir: string, id: string, headLen: number, head: Buffer | string, from: number): Promise<[string, string, FileHandle] | undefined> {
    for await (const [p, st] of statEntries(dir)) {
      if (isGz(p)) continue;
      const cid = `${st.dev}:${st.ino}`;
      if (!st.isFile() || cid === id || st.size < from || st.size < headLen || this.s.readers.has(cid)) continue;
      try {
        const fh = await open(p, 'r');
        const { bytesRead } = await fh.read(this.s.scratch, 0, headLen, 0);
        const same = bytesRead === headLen && (typeof head === 'string' ? sha1(this.s.scratch, headLen) === head : this.s.scratch.compare(head, 0, headLen, 0, headLen) === 0);
        if (same) return [p, cid, fh];
        await fh.close();
      } catch {
        /* raced with a delete */
      }
    }
    return undefined;
  }

  /** Reads `[from, end)` of a copy `findCopy` found by a checkpoint's head hash (the head bytes are read from the copy). */
  async readCopyAt(copy: [string, string, FileHandle], headLen: number, from: number): Promise<void> {
    const head = Buffer.allocUnsafe(headLen);
    await copy[2].read(head, 0, headLen, 0);
    this.readCopy(copy, head, headLen, from);
  }

  /** Reads `[from, end)` of a copy found by `findCopy`, then closes it. */
  readCopy(copy: [string, string, FileHandle], head: Buffer, headLen: number, from: number): void {
    const [path, id, fh] = copy;
    const c = this.s.newReader(id, path, false, 0);
    this.s.handles.unqueueLast();
    c.queued = false;
    c.fresh = false;
    c.fh = fh;
    this.s.handles.openCount++;
    head.copy(c.head, 0, 0, headLen);
    c.headLen = headLen;
    c.pos = from;
    c.tracker = new AckTracker(from);
    c.stream = this.s.intake.lines(c.origin, from);
    c.gone = 'renamed';
    this.s.c.recovered.inc();
    this.s.checkpoints.update(c);
  }
}
