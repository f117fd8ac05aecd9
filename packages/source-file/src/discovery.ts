/**
 * Discovery: which files the globs lead to, and what happened to the ones followed. A scan (every
 * `glob_interval_ms`, or at once on a directory notification of a new or renamed file) finds new
 * files, files renamed out of the globs or deleted (read to their end, then closed), closed files
 * that grew or moved, files too old to read (`ignore_older_ms`), and checkpoints of files that are
 * gone (a file rotated while tern was stopped is finished first). Directory watchers turn writes to
 * followed files into an immediate look instead of the next poll.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { compileGlob, expandGlobs, type CompiledGlob } from './glob.ts';
import type { FileCheckpoint } from './checkpoint.ts';
import { isDenied, isGz, sha1, statEntries } from './reader.ts';
import type { DiscoveryRoom, Tail } from './tail.ts';

export class Discovery implements DiscoveryRoom {
  private readonly s: Tail;
  private readonly includes: CompiledGlob[];
  private readonly excludes: RegExp[];
  private readonly watchers = new Map<string, FSWatcher>();
  /** Files that need no reading while their size and mtime stay as recorded (done `.gz`, ignored old files). */
  readonly quiet = new Map<string, { size: number; mtime: number }>();

  constructor(s: Tail) {
    this.s = s;
    this.includes = s.cfg.include.map((p) => compileGlob(p, s.ctx.configDir));
    this.excludes = s.cfg.exclude.map((p) => compileGlob(p, s.ctx.configDir).re);
  }

  /** Stops the directory watchers. */
  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  watchDir(dir: string): void {
    if (this.watchers.has(dir) || this.s.ctx.once) return;
    try {
      const w = watch(dir, { persistent: false }, (event, name) => {
        if (event === 'rename') this.s.rescanSoon = true;
        else if (name) {
          // A write to a file we follow: look at that file now rather than at its next poll.
          const r = this.s.byPath.get(join(dir, name));
          if (r) r.due = true;
        }
        this.s.poke();
      });
      w.on('error', () => {
        w.close();
        this.watchers.delete(dir);
      });
      this.watchers.set(dir, w);
    } catch {
      /* no notifications here (NFS, missing dir): the poll interval covers it */
    }
  }

  /** Finds files matching the globs, notices new, renamed, deleted and changed files. */
  async scan(): Promise<void> {
    for (const g of this.includes) this.watchDir(g.base);
    const paths = await expandGlobs(this.includes, this.excludes);
    for (const r of this.s.readers.values()) r.seen = false;
    const seenIds = new Set<string>();
    const now = Date.now();
    for (const path of paths) {
      let st;
      try {
        st = await stat(path);
      } catch {
        continue;
      }
      const id = `${st.dev}:${st.ino}`;
      seenIds.add(id);
      const known = this.s.readers.get(id);
      if (known) {
        known.seen = true;
        if (known.path !== path) this.s.moved(known, path);
        known.gone = '';
        known.goneSince = 0;
        // A parked file has unread data when its size differs from the read position (or it was rewritten).
        if (known.fh === undefined && !known.queued && !known.fresh && (st.size !== known.pos || st.mtimeMs !== known.lastMtime)) this.s.handles.enqueue(known);
        // A file we may not read is tried again, quietly, at every scan.
        else if (known.fh === undefined && !known.queued && known.denied) this.s.handles.enqueue(known);
        if (known.fh === undefined) {
          known.lastSize = st.size;
          known.lastMtime = st.mtimeMs;
        }
        continue;
      }
      const q = this.quiet.get(id);
      if (q && q.size === st.size && q.mtime === st.mtimeMs) continue;
      let startHint = 0;
      if (q) this.quiet.delete(id);
      const ignoreOlder = this.s.cfg.ignore_older_ms;
      if (!q && ignoreOlder > 0 && now - st.mtimeMs > ignoreOlder) {
        // Too old to care about now; if it is written to later, read from here on (as Filebeat does).
        this.quiet.set(id, { size: st.size, mtime: st.mtimeMs });
        continue;
      }
      if (q && !isGz(path)) startHint = q.size;
      const r = this.s.newReader(id, path, this.s.firstScan, startHint);
      r.seen = true;
      r.lastSize = st.size;
      r.lastMtime = st.mtimeMs;
      this.watchDir(dirname(path));
    }
    for (const id of this.quiet.keys()) if (!seenIds.has(id)) this.quiet.delete(id);
    // Files no glob leads to any more: renamed away, or deleted.
    for (const r of [...this.s.readers.values()]) {
      if (r.seen) continue;
      if (r.fh !== undefined) {
        if (r.gone === '') {
          const st = await r.fh.stat().catch(() => undefined);
          r.gone = !st || st.nlink === 0 ? 'deleted' : 'renamed';
        }
        if (r.gone === 'deleted' && this.s.cfg.close_removed) {
          const size = r.lastSize;
          this.s.ctx.logger.warn({ path: r.path, file_id: r.id, offset: r.pos, unread_bytes: Math.max(0, size - r.pos) }, 'file deleted; closed at once (close_removed)');
          await this.s.handles.finish(r, true);
        }
        continue;
      }
      // No handle: the file moved while closed. Look for it next to where it was.
      const found = await this.findById(dirname(r.path), r.id);
      if (found) {
        this.s.moved(r, found);
        r.gone = 'renamed';
        if (!r.queued) this.s.handles.enqueue(r);
      } else this.s.handles.lostWhileClosed(r);
    }
    // Checkpoints of files that are gone: at start, a file rotated while tern was down is finished
    // (found next to its old path by inode and head); otherwise the entry is dropped.
    for (const [id, cp] of Object.entries(this.s.checkpoints.checkpoint.files)) {
      if (seenIds.has(id) || this.s.readers.has(id)) continue;
      if (this.s.firstScan && !cp.done && !isGz(cp.path)) {
        const found = await this.findById(dirname(cp.path), id);
        // Only the file the checkpoint describes: its inode may hold another file now (the file was
        // deleted, and a copy or a new file took the inode). No glob leads to that one: it is not
        // read, and the entry goes. A head that changed because the file was truncated in place
        // (copytruncate, then a rename rotation, while stopped) is told apart by the copy of its old
        // content next to it: then the file is followed, the copy finishing the old content
        // (Handles.initialise) and the file read from its start.
        if (found && ((await sameHead(found, cp)) || (await this.copyOf(id, cp)))) {
          const r = this.s.newReader(id, found, false, 0);
          r.gone = 'renamed';
          this.s.ctx.logger.info({ path: found, old_path: cp.path, file_id: id }, 'file rotated while stopped; finishing it');
          continue;
        }
        // Gone (or only its inode is left), but a copy with the same head may hold the rest
        // (copy-and-truncate, then deleted, while stopped).
        const copy = cp.head_len > 0 ? await this.s.recovery.findCopy(dirname(cp.path), id, cp.head_len, cp.head_hash, cp.offset) : undefined;
        if (copy) {
          this.s.ctx.logger.warn({ path: cp.path, offset: cp.offset, copy: copy[0] }, 'file gone while stopped; reading the rest of its content from a copy with the same head');
          await this.s.recovery.readCopyAt(copy, cp.head_len, cp.offset);
        }
      }
      delete this.s.checkpoints.checkpoint.files[id];
      this.s.checkpoints.dirty = true;
    }
  }

  /** Whether a copy of the content a checkpoint describes (its head, at least its offset long) is next to its file. */
  private async copyOf(id: string, cp: FileCheckpoint): Promise<boolean> {
    if (cp.head_len === 0) return false;
    const copy = await this.s.recovery.findCopy(dirname(cp.path), id, cp.head_len, cp.head_hash, cp.offset);
    if (copy === undefined) return false;
    await copy[2].close().catch(() => undefined);
    return true;
  }

  /** Path of the regular file with this `dev:ino` in `dir`, if any. */
  async findById(dir: string, id: string): Promise<string | undefined> {
    for await (const [p, st] of statEntries(dir)) if (st.isFile() && `${st.dev}:${st.ino}` === id) return p;
    return undefined;
  }
}

/** Whether the file at `path` begins with the head a checkpoint recorded (false when it cannot be read). */
async function sameHead(path: string, cp: FileCheckpoint): Promise<boolean> {
  if (cp.head_len === 0) return true;
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.allocUnsafe(cp.head_len);
      const { bytesRead } = await fh.read(buf, 0, cp.head_len, 0);
      return bytesRead === cp.head_len && sha1(buf, bytesRead) === cp.head_hash;
    } finally {
      await fh.close();
    }
  } catch (e) {
    // Gone meanwhile: not ours. One tern may not read now is kept: it is reported and tried again.
    return isDenied(e);
  }
}
