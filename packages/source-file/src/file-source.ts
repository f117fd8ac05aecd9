/**
 * The `file` source: tails files matched by globs, one event per line, and remembers per file how
 * far every sink has acknowledged (see checkpoint.ts). DESIGN.md explains the rules; in short:
 *
 * Identity. A file is known by device and inode plus its head: the first `fingerprint_bytes` bytes
 * (fewer while the file is shorter; the head grows as the file does). The inode follows a file
 * through renames, so rotation keeps its checkpoint; the head tells a reused inode (delete, then
 * create) from the old file. A checkpoint never claims more than its verified head when the head is
 * shorter than `fingerprint_bytes`, so a short head that matches by chance skips nothing unread.
 *
 * Reading. One loop serves every open file in turn, one read of up to `read_buffer_bytes` per file
 * per round, so one busy file cannot starve the others; with more files than `max_open_files`, idle
 * files and files that had their turn yield their handle (their state stays in memory). The lines of
 * one read form one batch whose end offset is tracked until every sink acknowledged it. When no file
 * has new data the loop sleeps until a filesystem notification or `poll_interval_ms`; an idle file
 * costs one fstat per poll, a closed (inactive) file one stat per `glob_interval_ms`.
 *
 * Rotation. A renamed or deleted file keeps being read through its open descriptor to its end; the
 * new file at the old path is found by the next scan and read from its start. A file that shrank
 * below the read position, or whose head changed, was truncated (copy-and-truncate): the rest of the
 * old content is read from the copy when one with the same head is found next to it, then the file
 * is read again from 0. `.gz` files are decompressed as a stream and read once, whole.
 *
 * Crash bound. At most `max_unsaved_events` events are read beyond the last written checkpoint
 * (plus one read): the loop writes a checkpoint early and, if need be, waits for acknowledgements,
 * so a `kill -9` re-sends at most that many.
 */
import { fstat, watch, type FSWatcher, type Stats } from 'node:fs';
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  Intake,
  LogLimiter,
  setPath,
  type FieldPath,
  type Counter,
  type Decoding,
  type EventOrigin,
  type LineStream,
  type LogEvent,
  type MultilineOptions,
  type Source,
  type SourceContext,
} from '@tern/core';
import { AckTracker, CheckpointStore, type CheckpointFile, type FileCheckpoint } from './checkpoint.ts';
import { compileGlob, expandGlobs, type CompiledGlob } from './glob.ts';
import { compilePathTemplate, pathFields, type PathFieldTemplate } from './path-fields.ts';

export interface FileSourceConfig {
  include: string[];
  exclude?: string[];
  read_from: 'beginning' | 'end';
  decoding: Decoding;
  max_line_bytes: number;
  read_buffer_bytes: number;
  glob_interval_ms: number;
  poll_interval_ms: number;
  checkpoint_interval_ms: number;
  fingerprint_bytes: number;
  rotate_wait_ms: number;
  ignore_older_ms?: number;
  close_inactive_ms?: number;
  close_removed?: boolean;
  max_open_files?: number;
  max_unsaved_events?: number;
  path_fields?: string | string[];
  add_metadata?: 'none' | 'ecs';
  multiline?: MultilineOptions;
}

/** Reads a busy file may make in a row while files without a handle wait for one. */
const SLICE_READS = 16;

interface GzState {
  iter: AsyncIterator<Buffer> | undefined;
  destroy: (() => void) | undefined;
  /** Decompressed bytes produced by the current stream (bytes below `pos` are dropped after a retry). */
  produced: number;
  ended: boolean;
  /** Set after the stream failed on an incomplete file: when, and the file size then. */
  failedAt: number;
  failedSize: number;
}

interface Reader {
  id: string;
  path: string;
  /** Target of `path` when it is a symlink (Kubernetes' /var/log/containers): its directory is watched too. */
  realPath: string | undefined;
  origin: EventOrigin;
  /** Open descriptor, or undefined while parked (inactive, or yielding to other files) or not yet opened. */
  fh: FileHandle | undefined;
  /** Not yet opened: position, head and checkpoint are settled at the first open. */
  fresh: boolean;
  /** Found at the first scan (`read_from: end` applies). */
  atStart: boolean;
  /** Start here instead of 0 when no checkpoint applies (a file `ignore_older_ms` skipped, then written to). */
  startHint: number;
  gz: GzState | undefined;
  /** Next byte to read (of the decompressed stream for `.gz`). */
  pos: number;
  head: Buffer;
  headLen: number;
  hashedLen: number;
  headHash: string;
  /** Lines → events (framing, multiline, decoding), and where a reader may resume. */
  stream: LineStream;
  tracker: AckTracker;
  /** Path no longer leads here: renamed out of the globs, or deleted. Read to the end, then closed. */
  gone: '' | 'renamed' | 'deleted';
  goneSince: number;
  idleSince: number;
  /** Idle files are looked at (one fstat) when a notification names them or at this time. */
  nextPoll: number;
  due: boolean;
  /** Consecutive reads since it got its handle. */
  slice: number;
  /** Parked with (possibly) unread data: waiting for a handle. */
  queued: boolean;
  seen: boolean;
  lastSize: number;
  lastMtime: number;
  /** Opening failed with EACCES/EPERM: reported once, retried quietly at every scan. */
  denied: boolean;
}

function sha1(buf: Buffer, len: number): string {
  return createHash('sha1').update(buf.subarray(0, len)).digest('hex');
}

const isGz = (path: string): boolean => path.endsWith('.gz');

/** fstat through the callback API: about half the CPU of `FileHandle.stat()`, which matters for idle polling. */
function fstatOf(fh: FileHandle): Promise<Stats | undefined> {
  return new Promise((resolve) => fstat(fh.fd, (err, st) => resolve(err ? undefined : st)));
}

export class FileSource implements Source {
  private readonly cfg: FileSourceConfig;
  private readonly ctx: SourceContext;
  private readonly includes: CompiledGlob[];
  private readonly excludes: RegExp[];
  private readonly templates: PathFieldTemplate[];
  private readonly store: CheckpointStore;
  private readonly checkpoint: CheckpointFile;
  private readonly readers = new Map<string, Reader>();
  /** The same readers by current path, for notifications that name a file. */
  private readonly byPath = new Map<string, Reader>();
  /** Files that need no reading while their size and mtime stay as recorded (done `.gz`, ignored old files). */
  private readonly quiet = new Map<string, { size: number; mtime: number }>();
  private waitQueue: Reader[] = [];
  private openCount = 0;
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly readBuf: Buffer;
  private readonly scratch: Buffer;
  private readonly maxOpen: number;
  private readonly maxUnsaved: number;
  private wake: (() => void) | undefined;
  private wakePending = false;
  private rescanSoon = false;
  private firstScan = true;
  private checkpointDirty = false;
  private lastCheckpoint = 0;
  /** Events read whose lines no written checkpoint covers yet: what a crash now would send again. */
  private outstanding = 0;
  /** Events the checkpoint in memory moved over since the last write began. */
  private coveredSinceSave = 0;
  private saving: Promise<void> | undefined;
  private readonly intake: Intake;
  /** Checkpoint write failures repeat every interval while the disk is full: one line per errno and 10 s. */
  private readonly cpLog: LogLimiter;
  private readonly c: {
    truncations: Counter;
    files: Counter;
    bytes: Counter;
    lost: Counter;
    recovered: Counter;
    saves: Counter;
    saveErrors: Counter;
    denied: Counter;
  };

  constructor(cfg: FileSourceConfig, ctx: SourceContext) {
    this.cfg = cfg;
    this.ctx = ctx;
    this.includes = cfg.include.map((p) => compileGlob(p, ctx.configDir));
    this.excludes = (cfg.exclude ?? []).map((p) => compileGlob(p, ctx.configDir).re);
    const tpl = cfg.path_fields === undefined ? [] : Array.isArray(cfg.path_fields) ? cfg.path_fields : [cfg.path_fields];
    this.templates = tpl.map((t) => compilePathTemplate(t, ctx.configDir));
    this.store = new CheckpointStore(ctx.dataDir, ctx.id);
    this.cpLog = new LogLimiter(ctx.logger);
    this.intake = new Intake(ctx, {
      decoding: cfg.decoding,
      max_line_bytes: cfg.max_line_bytes,
      ...(cfg.multiline ? { multiline: cfg.multiline } : {}),
      ...(cfg.add_metadata === 'ecs' ? { enrich: ecsMetadata } : {}),
    });
    this.readBuf = Buffer.allocUnsafe(cfg.read_buffer_bytes);
    this.scratch = Buffer.allocUnsafe(cfg.fingerprint_bytes);
    this.maxOpen = cfg.max_open_files ?? 1024;
    this.maxUnsaved = cfg.max_unsaved_events ?? 100_000;
    const t = ctx.telemetry;
    this.c = {
      truncations: t.counter('truncations'),
      files: t.counter('files_opened'),
      bytes: t.counter('bytes_read'),
      lost: t.counter('files_lost'),
      recovered: t.counter('truncation_copies_read'),
      saves: t.counter('checkpoint_writes'),
      saveErrors: t.counter('checkpoint_errors'),
      denied: t.counter('permission_errors'),
    };
    this.checkpoint = this.store.load((e) => this.checkpointFailed('read', e));
  }

  async run(): Promise<void> {
    const { signal } = this.ctx;
    const onAbort = (): void => this.poke();
    signal.addEventListener('abort', onAbort, { once: true });
    let lastScan = 0;
    try {
      while (!signal.aborted) {
        const now = Date.now();
        if (this.firstScan || this.rescanSoon || now - lastScan >= this.cfg.glob_interval_ms) {
          if (!(this.ctx.once && !this.firstScan)) await this.scan();
          lastScan = now;
          this.rescanSoon = false;
          this.firstScan = false;
        }
        await this.schedule();
        let progressed = false;
        for (const r of [...this.readers.values()]) {
          if (signal.aborted) break;
          if (r.fh === undefined) continue;
          if (this.outstanding >= this.maxUnsaved) await this.gate();
          if (signal.aborted) break;
          if (await this.readOnce(r)) progressed = true;
        }
        this.maybeCheckpoint();
        if (this.ctx.once && !progressed && this.waitQueue.length === 0) break;
        if (!progressed && this.waitQueue.length === 0) await this.sleep(this.cfg.poll_interval_ms);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.saving;
    for (const r of this.readers.values()) {
      this.updateCheckpoint(r);
      const cp = this.checkpoint.files[r.id];
      // A .gz whose every line was acknowledged during the drain is done.
      if (cp && r.gz?.ended && r.tracker.inFlight === 0 && !r.stream.held) cp.done = true;
    }
    try {
      this.store.save(this.checkpoint);
    } catch (e) {
      // The last write: logged whatever the rate limit says.
      this.c.saveErrors.inc();
      this.ctx.logger.error({ err: e, path: this.store.path, errno: (e as NodeJS.ErrnoException).code }, checkpointFix('write', e));
    }
    for (const r of this.readers.values()) await this.release(r);
    this.readers.clear();
  }

  // ------------------------------------------------------------------ waiting

  private poke(): void {
    this.wakePending = true;
    const w = this.wake;
    if (w) {
      this.wake = undefined;
      w();
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wakePending = false;
        resolve();
      };
    });
  }

  /** Waits while too much is read but not checkpointed: writes a checkpoint as soon as acks allow. */
  private async gate(): Promise<void> {
    while (this.outstanding >= this.maxUnsaved && !this.ctx.signal.aborted) {
      if (this.coveredSinceSave > 0 && !this.saving) this.saveSoon();
      this.wakePending = false;
      await this.sleep(this.cfg.poll_interval_ms);
    }
  }

  private watchDir(dir: string): void {
    if (this.watchers.has(dir) || this.ctx.once) return;
    try {
      const w = watch(dir, { persistent: false }, (event, name) => {
        if (event === 'rename') this.rescanSoon = true;
        else if (name) {
          // A write to a file we follow: look at that file now rather than at its next poll.
          const r = this.byPath.get(join(dir, name));
          if (r) r.due = true;
        }
        this.poke();
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

  // ------------------------------------------------------------------ discovery

  /** Finds files matching the globs, notices new, renamed, deleted and changed files. */
  private async scan(): Promise<void> {
    for (const g of this.includes) this.watchDir(g.base);
    const paths = await expandGlobs(this.includes, this.excludes);
    for (const r of this.readers.values()) r.seen = false;
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
      const known = this.readers.get(id);
      if (known) {
        known.seen = true;
        if (known.path !== path) this.moved(known, path);
        known.gone = '';
        known.goneSince = 0;
        // A parked file has unread data when its size differs from the read position (or it was rewritten).
        if (known.fh === undefined && !known.queued && !known.fresh && (st.size !== known.pos || st.mtimeMs !== known.lastMtime)) this.enqueue(known);
        // A file we may not read is tried again, quietly, at every scan.
        else if (known.fh === undefined && !known.queued && known.denied) this.enqueue(known);
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
      const ignoreOlder = this.cfg.ignore_older_ms ?? 0;
      if (!q && ignoreOlder > 0 && now - st.mtimeMs > ignoreOlder) {
        // Too old to care about now; if it is written to later, read from here on (as Filebeat does).
        this.quiet.set(id, { size: st.size, mtime: st.mtimeMs });
        continue;
      }
      if (q && !isGz(path)) startHint = q.size;
      const r = this.newReader(id, path, this.firstScan, startHint);
      r.seen = true;
      r.lastSize = st.size;
      r.lastMtime = st.mtimeMs;
      this.watchDir(dirname(path));
    }
    for (const id of this.quiet.keys()) if (!seenIds.has(id)) this.quiet.delete(id);
    // Files no glob leads to any more: renamed away, or deleted.
    for (const r of [...this.readers.values()]) {
      if (r.seen) continue;
      if (r.fh !== undefined) {
        if (r.gone === '') {
          const st = await r.fh.stat().catch(() => undefined);
          r.gone = !st || st.nlink === 0 ? 'deleted' : 'renamed';
        }
        if (r.gone === 'deleted' && this.cfg.close_removed) {
          const size = r.lastSize;
          this.ctx.logger.warn({ path: r.path, file_id: r.id, offset: r.pos, unread_bytes: Math.max(0, size - r.pos) }, 'file deleted; closed at once (close_removed)');
          await this.finish(r);
        }
        continue;
      }
      // No handle: the file moved while closed. Look for it next to where it was.
      const found = await this.findById(dirname(r.path), r.id);
      if (found) {
        this.moved(r, found);
        r.gone = 'renamed';
        if (!r.queued) this.enqueue(r);
      } else this.lostWhileClosed(r);
    }
    // Checkpoints of files that are gone: at start, a file rotated while tern was down is finished
    // (found next to its old path by inode and head); otherwise the entry is dropped.
    for (const [id, cp] of Object.entries(this.checkpoint.files)) {
      if (seenIds.has(id) || this.readers.has(id)) continue;
      if (this.firstScan && !cp.done && !isGz(cp.path)) {
        const found = await this.findById(dirname(cp.path), id);
        if (found) {
          const r = this.newReader(id, found, false, 0);
          r.gone = 'renamed';
          this.ctx.logger.info({ path: found, old_path: cp.path, file_id: id }, 'file rotated while stopped; finishing it');
          continue;
        }
        // Gone, but a copy with the same head may hold the rest (copy-and-truncate, then deleted, while stopped).
        const copy = cp.head_len > 0 ? await this.findCopy(dirname(cp.path), id, cp.head_len, cp.head_hash, cp.offset) : undefined;
        if (copy) {
          this.ctx.logger.warn({ path: cp.path, offset: cp.offset, copy: copy[0] }, 'file gone while stopped; reading the rest of its content from a copy with the same head');
          const head = Buffer.allocUnsafe(cp.head_len);
          await copy[2].read(head, 0, cp.head_len, 0);
          this.readCopy(copy, head, cp.head_len, cp.offset);
        }
      }
      delete this.checkpoint.files[id];
      this.checkpointDirty = true;
    }
  }

  /** Path of the regular file with this `dev:ino` in `dir`, if any. */
  private async findById(dir: string, id: string): Promise<string | undefined> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return undefined;
    }
    for (const n of names) {
      const p = join(dir, n);
      try {
        const st = await stat(p);
        if (st.isFile() && `${st.dev}:${st.ino}` === id) return p;
      } catch {
        /* raced with a delete */
      }
    }
    return undefined;
  }

  private newReader(id: string, path: string, atStart: boolean, startHint: number): Reader {
    const r: Reader = {
      id,
      path,
      realPath: undefined,
      origin: this.originFor(path, id),
      fh: undefined,
      fresh: true,
      atStart,
      startHint,
      gz: isGz(path) ? { iter: undefined, destroy: undefined, produced: 0, ended: false, failedAt: 0, failedSize: -1 } : undefined,
      pos: 0,
      head: Buffer.alloc(this.cfg.fingerprint_bytes),
      headLen: 0,
      hashedLen: -1,
      headHash: '',
      stream: undefined as unknown as LineStream,
      tracker: new AckTracker(0),
      gone: '',
      goneSince: 0,
      idleSince: 0,
      nextPoll: 0,
      due: false,
      slice: 0,
      queued: false,
      seen: true,
      lastSize: 0,
      lastMtime: 0,
      denied: false,
    };
    r.stream = this.intake.lines(r.origin, 0);
    this.readers.set(id, r);
    this.byPath.set(path, r);
    this.enqueue(r);
    return r;
  }

  private originFor(path: string, id: string): EventOrigin {
    const fields = this.templates.length ? pathFields(this.templates, path) : undefined;
    return fields ? { sourceId: this.ctx.id, path, host: this.ctx.host, fileId: id, fields } : { sourceId: this.ctx.id, path, host: this.ctx.host, fileId: id };
  }

  /** Renamed but still followed: events from now on carry the new path (path fields stay those of the file's first path). */
  private moved(r: Reader, path: string): void {
    if (this.byPath.get(r.path) === r) this.byPath.delete(r.path);
    this.byPath.set(path, r);
    r.path = path;
    r.origin = r.origin.fields ? { ...r.origin, path } : { sourceId: this.ctx.id, path, host: this.ctx.host, fileId: r.id };
    r.stream.origin = r.origin;
  }

  // ------------------------------------------------------------------ handles

  private enqueue(r: Reader): void {
    r.queued = true;
    this.waitQueue.push(r);
  }

  /** Gives waiting files a handle: free slots first, then slots of idle files and of busy files that had their turn. */
  private async schedule(): Promise<void> {
    if (this.waitQueue.length === 0) return;
    if (this.openCount + this.waitQueue.length > this.maxOpen) {
      const victims = [...this.readers.values()].filter((r) => r.fh !== undefined && r.gone === '' && r.gz === undefined && (r.idleSince > 0 || r.slice >= SLICE_READS));
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
      if (this.readers.get(r.id) !== r || r.fh !== undefined) continue;
      await this.activate(r);
    }
  }

  /** Opens a file (first time or again), checks it is the same file, and settles where to read. */
  private async activate(r: Reader): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(r.path, 'r');
    } catch (e) {
      if (isDenied(e)) return this.deniedAccess(r, e);
      const found = await this.findById(dirname(r.path), r.id);
      if (!found) return this.lostWhileClosed(r);
      this.moved(r, found);
      r.gone = 'renamed';
      try {
        fh = await open(found, 'r');
      } catch {
        return this.lostWhileClosed(r);
      }
    }
    const st = await fh.stat();
    if (`${st.dev}:${st.ino}` !== r.id) {
      // The path leads to another file now (rotated between scan and open): find ours by inode.
      await fh.close();
      const found = await this.findById(dirname(r.path), r.id);
      if (!found) return this.lostWhileClosed(r);
      this.moved(r, found);
      r.gone = 'renamed';
      return this.activate(r);
    }
    r.fh = fh;
    this.openCount++;
    r.slice = 0;
    r.idleSince = 0;
    if (r.denied) {
      r.denied = false;
      this.ctx.logger.info({ path: r.path, file_id: r.id }, 'file readable now; reading it');
    }
    if (r.fresh) {
      r.fresh = false;
      // Writes to a symlink's target notify the target's directory, not the link's.
      const real = await realpath(r.path).catch(() => r.path);
      if (real !== r.path) {
        r.realPath = real;
        this.byPath.set(real, r);
        this.watchDir(dirname(real));
      }
      await this.initialise(r, fh, st.size);
      return;
    }
    // Reopened after parking: same inode, but is it the same content? (deleted, inode reused)
    if (r.headLen > 0 && !(await this.headStill(r))) await this.truncated(r, st.size);
  }

  /** EACCES/EPERM: not a lost file but a file tern may not read. Said once, with the fix; retried at every scan. */
  private deniedAccess(r: Reader, e: unknown): void {
    if (r.denied) return;
    r.denied = true;
    this.c.denied.inc();
    this.ctx.logger.warn(
      { path: r.path, file_id: r.id, errno: (e as NodeJS.ErrnoException).code },
      'permission denied: tern may not read this file; it is retried quietly and read once readable. Fix: run tern as the file\'s owner (or in its group), or grant read access (chmod, an ACL), or give tern CAP_DAC_READ_SEARCH',
    );
  }

  private lostWhileClosed(r: Reader): void {
    if (r.denied) this.ctx.logger.warn({ path: r.path, file_id: r.id }, 'file removed before tern was allowed to read it (permission denied); its lines were not read');
    else if (r.pos < r.lastSize) {
      this.c.lost.inc();
      this.ctx.logger.warn({ path: r.path, file_id: r.id, offset: r.pos }, 'file removed while it had no open handle; lines after offset are lost');
    }
    this.forget(r);
  }

  private async initialise(r: Reader, fh: FileHandle, size: number): Promise<void> {
    const fp = this.cfg.fingerprint_bytes;
    const want = Math.min(size, fp);
    const { bytesRead } = want > 0 ? await fh.read(r.head, 0, want, 0) : { bytesRead: 0 };
    r.headLen = bytesRead;
    const cp = this.checkpoint.files[r.id];
    let pos = 0;
    let resumed = false;
    if (cp && cp.head_len <= bytesRead && sha1(r.head, cp.head_len) === cp.head_hash) {
      if (cp.done) {
        // A .gz read and acknowledged before: nothing to do while it stays as it is.
        this.quiet.set(r.id, { size: r.lastSize, mtime: r.lastMtime });
        await this.release(r);
        this.drop(r);
        return;
      }
      pos = r.gz || cp.offset <= size ? cp.offset : 0;
      resumed = true;
    } else if (cp && r.gz === undefined && cp.head_len > 0) {
      // Same inode, other content: truncated (copy-and-truncate) while we were stopped, or the inode
      // was reused. In the first case the copy holds the rest of what we had not read.
      const copy = await this.findCopy(dirname(r.path), r.id, cp.head_len, cp.head_hash, cp.offset);
      if (copy) {
        this.c.truncations.inc();
        this.ctx.logger.warn({ path: r.path, offset: cp.offset, copy: copy[0] }, 'file truncated while not followed; reading the rest of its old content from the copy, then the file from its start');
        const head = Buffer.allocUnsafe(cp.head_len);
        await copy[2].read(head, 0, cp.head_len, 0);
        this.readCopy(copy, head, cp.head_len, cp.offset);
      }
    } else if (r.gz === undefined) {
      if (r.atStart && this.cfg.read_from === 'end') pos = size;
      else if (r.startHint > 0 && r.startHint <= size) pos = r.startHint;
    }
    r.pos = pos;
    r.tracker = new AckTracker(pos);
    r.stream = this.intake.lines(r.origin, pos);
    this.c.files.inc();
    this.ctx.logger.info({ path: r.path, file_id: r.id, offset: pos, resumed }, 'reading file');
    this.updateCheckpoint(r);
    // Record a new file soon: after a crash, a file rotated out of the globs is found again only through its checkpoint.
    if (!resumed) this.lastCheckpoint = 0;
  }

  private async headStill(r: Reader): Promise<boolean> {
    const fh = r.fh as FileHandle;
    const { bytesRead } = await fh.read(this.scratch, 0, r.headLen, 0);
    return bytesRead === r.headLen && this.scratch.compare(r.head, 0, r.headLen, 0, r.headLen) === 0;
  }

  /** Closes the handle but keeps the reader (position, pending partial line, in-flight batches). */
  private async park(r: Reader): Promise<void> {
    await this.release(r);
    r.idleSince = 0;
    r.slice = 0;
  }

  private async release(r: Reader): Promise<void> {
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

  /** Done with a file for good (read to its end after rotation or deletion, or closed by `close_removed`). */
  private async finish(r: Reader): Promise<void> {
    this.updateCheckpoint(r);
    await this.release(r);
    this.drop(r);
  }

  private drop(r: Reader): void {
    this.readers.delete(r.id);
    if (this.byPath.get(r.path) === r) this.byPath.delete(r.path);
    if (r.realPath !== undefined && this.byPath.get(r.realPath) === r) this.byPath.delete(r.realPath);
  }

  private forget(r: Reader): void {
    this.outstanding -= r.tracker.reset(r.tracker.committed);
    this.drop(r);
    void this.release(r);
  }

  /** Forgets everything read after `offset` (truncation): old in-flight batches no longer move the checkpoint. */
  private restartAt(r: Reader, offset: number): void {
    this.outstanding -= r.tracker.reset(offset);
    r.pos = offset;
    r.stream.reset(offset);
    if (offset === 0) {
      r.headLen = 0;
      r.hashedLen = -1;
    }
    this.checkpointDirty = true;
  }

  // ------------------------------------------------------------------ reading

  /** One read on one file; returns whether it made progress. */
  private async readOnce(r: Reader): Promise<boolean> {
    // A multiline event held past its timeout goes out even when no new line comes.
    if (r.stream.expire()) await this.emitBatch(r, 0);
    if (r.gz) return this.readGz(r);
    const fh = r.fh as FileHandle;
    if (r.idleSince > 0) {
      // Idle: one fstat tells whether there is anything to read, a read is only made when there is.
      const now = Date.now();
      if (!r.due && now < r.nextPoll) return false;
      r.due = false;
      r.nextPoll = now + this.cfg.poll_interval_ms;
      const seen = await this.atEof(r);
      if (seen !== 'grown') return seen === 'changed';
    }
    const start = r.pos;
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(this.readBuf, 0, this.readBuf.length, start));
    } catch (e) {
      this.ctx.logger.warn({ path: r.path, err: e }, 'read failed; closing the file');
      await this.finish(r);
      return false;
    }
    if (bytesRead === 0) {
      r.nextPoll = Date.now() + this.cfg.poll_interval_ms;
      return (await this.atEof(r)) !== 'idle';
    }
    // Copy-and-truncate that refilled the file past our position between two reads: the head changed.
    // Checked after the read, so data read before the truncation is kept and data after it is not.
    if (r.headLen > 0) {
      // A read that overlaps the known head is compared in memory; one beyond it re-reads the head.
      const n = Math.min(r.headLen, start + bytesRead) - start;
      const same = n > 0 ? this.readBuf.compare(r.head, start, start + n, 0, n) === 0 : await this.headStill(r);
      if (!same) {
        await this.truncated(r, -1);
        return true;
      }
    }
    if (r.headLen < this.cfg.fingerprint_bytes && start <= r.headLen) {
      const to = Math.min(this.cfg.fingerprint_bytes, start + bytesRead);
      this.readBuf.copy(r.head, r.headLen, r.headLen - start, to - start);
      r.headLen = to;
    }
    r.idleSince = 0;
    r.goneSince = 0;
    r.slice++;
    r.pos = start + bytesRead;
    this.c.bytes.inc(bytesRead);
    r.stream.push(this.readBuf.subarray(0, bytesRead));
    await this.emitBatch(r, r.stream.committedOffset - start);
    return true;
  }

  private async emitBatch(r: Reader, bytes: number): Promise<void> {
    const events = r.stream.take();
    const end = r.stream.committedOffset;
    if (events.length === 0) {
      // Only bad or partial lines: nothing to deliver, but bad lines are done with.
      if (end > r.tracker.committed) {
        if (r.tracker.inFlight === 0) r.tracker.committed = end;
        else r.tracker.track(end)();
        this.checkpointDirty = true;
      }
      return;
    }
    this.outstanding += events.length;
    const done = r.tracker.track(end, events.length);
    try {
      await this.intake.emit(
        events,
        () => {
          const covered = done();
          this.checkpointDirty = true;
          if (covered > 0) {
            this.coveredSinceSave += covered;
            if (this.coveredSinceSave * 2 >= this.maxUnsaved && !this.saving) this.saveSoon();
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
  private async atEof(r: Reader): Promise<'grown' | 'changed' | 'idle'> {
    const st = await fstatOf(r.fh as FileHandle);
    if (st && st.size < r.pos) {
      await this.truncated(r, st.size);
      return 'changed';
    }
    if (st && st.size > r.pos) return 'grown';
    if (st) {
      // Truncated and refilled to exactly our position: only the head (and mtime) tell.
      if (st.mtimeMs !== r.lastMtime && r.headLen > 0 && r.gone === '' && !(await this.headStill(r))) {
        await this.truncated(r, st.size);
        return 'changed';
      }
      r.lastSize = st.size;
      r.lastMtime = st.mtimeMs;
    }
    const now = Date.now();
    if (r.idleSince === 0) r.idleSince = now;
    if (r.gone !== '' && r.goneSince === 0) r.goneSince = now;
    // No more can come: with --once, or rotate_wait_ms after a rotated or deleted file last grew.
    const final = this.ctx.once || (r.gone !== '' && now - r.goneSince >= this.cfg.rotate_wait_ms);
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
        this.ctx.logger.info({ path: r.path, file_id: r.id }, r.gone === 'deleted' ? 'file deleted and read to its end; closed' : 'file rotated away and read to its end; closed');
        await this.finish(r);
      }
      return changed ? 'changed' : 'idle';
    }
    const inactive = this.cfg.close_inactive_ms ?? 0;
    if (inactive > 0 && !this.ctx.once && now - r.idleSince >= inactive) {
      await this.park(r);
    }
    return changed ? 'changed' : 'idle';
  }

  /** Copy-and-truncate: finish the old content from the copy if there is one next to the file, then read the file from 0. */
  private async truncated(r: Reader, size: number): Promise<void> {
    this.c.truncations.inc();
    const from = r.stream.committedOffset;
    const copy = r.headLen > 0 ? await this.findCopy(dirname(r.path), r.id, r.headLen, r.head, from) : undefined;
    this.ctx.logger.warn({ path: r.path, offset: from, size: size >= 0 ? size : undefined, copy: copy?.[0] }, copy ? 'file truncated; reading the rest of its old content from the copy, then the file from its start' : 'file truncated; reading it again from the start');
    if (copy) this.readCopy(copy, r.head, r.headLen, from);
    this.restartAt(r, 0);
    // Record the new content soon: after a crash, its copy (if it is truncated again) is found by this head.
    this.lastCheckpoint = 0;
  }

  /**
   * A file in `dir` other than `id` whose first `headLen` bytes are the given head (bytes, or their
   * sha1), at least `from` bytes long and not being read: the copy logrotate made before truncating.
   */
  private async findCopy(dir: string, id: string, headLen: number, head: Buffer | string, from: number): Promise<[string, string, FileHandle] | undefined> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return undefined;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (isGz(p)) continue;
      try {
        const st = await stat(p);
        const cid = `${st.dev}:${st.ino}`;
        if (!st.isFile() || cid === id || st.size < from || st.size < headLen || this.readers.has(cid)) continue;
        const fh = await open(p, 'r');
        const { bytesRead } = await fh.read(this.scratch, 0, headLen, 0);
        const same = bytesRead === headLen && (typeof head === 'string' ? sha1(this.scratch, headLen) === head : this.scratch.compare(head, 0, headLen, 0, headLen) === 0);
        if (same) return [p, cid, fh];
        await fh.close();
      } catch {
        /* raced with a delete */
      }
    }
    return undefined;
  }

  /** Reads `[from, end)` of a copy found by `findCopy`, then closes it. */
  private readCopy(copy: [string, string, FileHandle], head: Buffer, headLen: number, from: number): void {
    const [path, id, fh] = copy;
    const c = this.newReader(id, path, false, 0);
    this.waitQueue.pop();
    c.queued = false;
    c.fresh = false;
    c.fh = fh;
    this.openCount++;
    head.copy(c.head, 0, 0, headLen);
    c.headLen = headLen;
    c.pos = from;
    c.tracker = new AckTracker(from);
    c.stream = this.intake.lines(c.origin, from);
    c.gone = 'renamed';
    this.c.recovered.inc();
    this.updateCheckpoint(c);
  }

  /** One turn on a `.gz`: up to `read_buffer_bytes` of decompressed data. */
  private async readGz(r: Reader): Promise<boolean> {
    const g = r.gz as GzState;
    if (g.ended) {
      if (r.tracker.inFlight === 0) {
        this.updateCheckpoint(r);
        const cp = this.checkpoint.files[r.id];
        if (cp) cp.done = true;
        this.checkpointDirty = true;
        this.quiet.set(r.id, { size: r.lastSize, mtime: r.lastMtime });
        this.ctx.logger.info({ path: r.path, file_id: r.id, bytes: r.pos }, 'compressed file read to its end; done');
        await this.finish(r);
      }
      return false;
    }
    const now = Date.now();
    if (g.failedAt > 0 && now - g.failedAt < this.cfg.poll_interval_ms) return false;
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
      while (got < this.cfg.read_buffer_bytes) {
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
      if (incomplete && !this.ctx.once && (size !== g.failedSize || now - g.failedAt < this.cfg.rotate_wait_ms)) {
        // Probably still being written by the compressor: try again from here once it changed or settled.
        if (size !== g.failedSize) {
          g.failedSize = size;
          g.failedAt = now;
        }
      } else {
        this.ctx.logger.warn({ path: r.path, offset: r.pos, err: e }, 'compressed file is damaged or incomplete; keeping the lines read so far');
        g.ended = true;
      }
    }
    if (g.ended) r.stream.flush();
    this.c.bytes.inc(got);
    await this.emitBatch(r, r.stream.committedOffset - start);
    return got > 0 || g.ended;
  }

  // ------------------------------------------------------------------ checkpoints

  private updateCheckpoint(r: Reader): void {
    if (r.fresh) return;
    const prev = this.checkpoint.files[r.id];
    const offset = r.tracker.committed;
    // A checkpoint claims no more than its head: a short head that matches by chance skips nothing unread.
    const headLen = r.headLen;
    if (prev && prev.offset === offset && prev.path === r.path && prev.head_len === headLen) return;
    if (r.hashedLen !== headLen) {
      r.headHash = sha1(r.head, headLen);
      r.hashedLen = headLen;
    }
    this.checkpoint.files[r.id] = { path: r.path, offset, head_hash: r.headHash, head_len: headLen, updated: Date.now(), ...(prev?.done ? { done: true } : {}) };
    this.checkpointDirty = true;
  }

  private maybeCheckpoint(): void {
    if (this.saving || !this.checkpointDirty) return;
    if (Date.now() - this.lastCheckpoint < this.cfg.checkpoint_interval_ms) return;
    this.saveSoon();
  }

  /** Starts an asynchronous checkpoint write of the state as it is now. */
  private saveSoon(): void {
    for (const r of this.readers.values()) this.updateCheckpoint(r);
    const covered = this.coveredSinceSave;
    this.coveredSinceSave = 0;
    this.checkpointDirty = false;
    this.lastCheckpoint = Date.now();
    const text = JSON.stringify(this.checkpoint);
    this.c.saves.inc();
    this.saving = this.store.saveAsync(text).then(
      () => {
        this.outstanding -= covered;
        this.saving = undefined;
        this.poke();
      },
      (e: unknown) => {
        this.coveredSinceSave += covered;
        this.checkpointDirty = true;
        this.saving = undefined;
        this.checkpointFailed('write', e);
      },
    );
  }

  /** Counted in `checkpoint_errors` (the engine reads it: a run with one does not claim success) and logged per errno every 10 s. */
  private checkpointFailed(op: 'read' | 'write', e: unknown): void {
    this.c.saveErrors.inc();
    const errno = (e as NodeJS.ErrnoException).code ?? 'unknown';
    this.cpLog.log('error', `${op}:${errno}`, { err: e, path: this.store.path, errno }, checkpointFix(op, e));
  }
}

/** What a failed checkpoint read or write means, and what to do about it. */
function checkpointFix(op: 'read' | 'write', e: unknown): string {
  const errno = (e as NodeJS.ErrnoException).code ?? 'unknown error';
  const what =
    op === 'read'
      ? `cannot read checkpoint (${errno}); starting without it, so files are read again from their start (duplicates, not loss)`
      : `cannot write checkpoint (${errno}); acknowledged progress is kept in memory and written again at the next interval, but a restart now re-sends what was delivered since the last good write`;
  const fix =
    errno === 'ENOSPC' || errno === 'EDQUOT'
      ? 'free space on the volume of data_dir'
      : errno === 'EROFS'
        ? 'mount data_dir read-write'
        : errno === 'EACCES' || errno === 'EPERM'
          ? "make data_dir readable and writable by tern's user"
          : 'check data_dir';
  return `${what}. Fix: ${fix}`;
}

const isDenied = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
};

/** `add_metadata: ecs`: the origin written into each event, as Filebeat does. Opt-in: it makes sinks serialise the event instead of forwarding its line. */
const LOG_FILE_PATH: FieldPath = ['log', 'file', 'path'];
const LOG_OFFSET: FieldPath = ['log', 'offset'];
const HOST_NAME: FieldPath = ['host', 'name'];

function ecsMetadata(ev: LogEvent): void {
  const d = ev.mutate();
  setPath(d, LOG_FILE_PATH, ev.origin.path);
  setPath(d, LOG_OFFSET, ev.offset);
  const host = d.host;
  // A `host` the event already has as a value (Zeek http's Host header) is its own data: left alone.
  if (host === undefined || host === null) setPath(d, HOST_NAME, ev.origin.host);
  else if (typeof host === 'object' && !Array.isArray(host) && !('name' in host)) (host as Record<string, unknown>).name = ev.origin.host;
  const f = ev.origin.fields;
  // A path_fields name is dotted ECS (`k8s.pod.name`): each dot is a level.
  if (f) for (const k in f) setPath(d, k.split('.'), f[k]);
}
