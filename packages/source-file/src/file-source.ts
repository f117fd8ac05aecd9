/**
 * The `file` source: tails files matched by globs, one event per line, and remembers per file how
 * far every sink has acknowledged (see checkpoint.ts).
 *
 * Identity. A file is known by device and inode plus a hash of its first bytes (`fingerprint_bytes`,
 * or all of it while it is shorter). The inode follows a file through renames (rotation keeps its
 * checkpoint); the head hash tells a reused inode (delete, then create) from the old file, whose
 * checkpoint must not be applied to the new one. A short file's head hash covers what it had when
 * checkpointed and is compared over that same length.
 *
 * Reading. One loop serves every open file in turn, one read of up to `read_buffer_bytes` per file
 * per round, so one busy file cannot starve the others. Lines become events, the events of one read
 * become one batch, and the batch's end offset is tracked until every sink acknowledged it. When no
 * file has new data the loop sleeps until a filesystem notification (fs.watch on the directories) or
 * the poll interval, whichever comes first; the poll is the fallback where notifications do not
 * work (NFS, some overlay filesystems).
 *
 * Rotation. A renamed file keeps being read through its open descriptor until its end; the new file
 * at the old path is picked up by the next scan and read from its start. A file whose size drops
 * below the read position was truncated (copy-and-truncate rotation) and is read again from 0.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import {
  decodeLine,
  LineSplitter,
  RateLimitedWarn,
  DecodeError,
  type Counter,
  type Decoding,
  type EventOrigin,
  type LogEvent,
  type Source,
  type SourceContext,
} from '@tern/core';
import { AckTracker, CheckpointStore, type CheckpointFile, type FileCheckpoint } from './checkpoint.ts';
import { compileGlob, expandGlobs, type CompiledGlob } from './glob.ts';

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
}

interface Reader {
  path: string;
  origin: EventOrigin;
  fh: FileHandle;
  fileId: string;
  dev: number;
  ino: number;
  /** Next byte to read. */
  pos: number;
  headHash: string;
  headLen: number;
  splitter: LineSplitter;
  tracker: AckTracker;
  /** Events of the current read, filled by the splitter. */
  batch: LogEvent[];
  /** Epoch ms when the file was last found at EOF with its path pointing elsewhere (rotated away / deleted). */
  goneSince: number;
  atEof: boolean;
  seenInScan: boolean;
}

function hashHead(buf: Buffer, len: number): string {
  return createHash('sha1').update(buf.subarray(0, len)).digest('hex');
}

export class FileSource implements Source {
  private readonly cfg: FileSourceConfig;
  private readonly ctx: SourceContext;
  private readonly includes: CompiledGlob[];
  private readonly excludes: RegExp[];
  private readonly store: CheckpointStore;
  private readonly checkpoint: CheckpointFile;
  private readonly readers = new Map<string, Reader>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly readBuf: Buffer;
  private wake: (() => void) | undefined;
  private wakePending = false;
  private rescanSoon = false;
  private firstScan = true;
  private checkpointDirty = false;
  private lastCheckpoint = 0;
  private readonly warn = new RateLimitedWarn();
  private readonly c: { lines: Counter; decodeErrors: Counter; oversize: Counter; truncations: Counter; files: Counter; bytes: Counter };

  constructor(cfg: FileSourceConfig, ctx: SourceContext) {
    this.cfg = cfg;
    this.ctx = ctx;
    this.includes = cfg.include.map((p) => compileGlob(p, ctx.configDir));
    this.excludes = (cfg.exclude ?? []).map((p) => compileGlob(p, ctx.configDir).re);
    this.store = new CheckpointStore(ctx.dataDir, ctx.id);
    this.checkpoint = this.store.load();
    this.readBuf = Buffer.allocUnsafe(cfg.read_buffer_bytes);
    const t = ctx.telemetry;
    this.c = {
      lines: t.counter('events_read'),
      decodeErrors: t.counter('decode_errors'),
      oversize: t.counter('lines_too_long'),
      truncations: t.counter('truncations'),
      files: t.counter('files_opened'),
      bytes: t.counter('bytes_read'),
    };
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
        let progressed = false;
        for (const r of [...this.readers.values()]) {
          if (signal.aborted) break;
          if (await this.readOnce(r)) progressed = true;
        }
        this.maybeCheckpoint(false);
        if (this.ctx.once && !progressed) break;
        if (!progressed) await this.sleep(this.cfg.poll_interval_ms);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.maybeCheckpoint(true);
    for (const r of this.readers.values()) await r.fh.close().catch(() => undefined);
    this.readers.clear();
  }

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

  private watchDir(dir: string): void {
    if (this.watchers.has(dir) || this.ctx.once) return;
    try {
      const w = watch(dir, { persistent: false }, (event) => {
        if (event === 'rename') this.rescanSoon = true;
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

  /** Finds files matching the globs, opens new ones, notices rotations and deletions. */
  private async scan(): Promise<void> {
    for (const g of this.includes) this.watchDir(g.base);
    const paths = await expandGlobs(this.includes, this.excludes);
    for (const r of this.readers.values()) r.seenInScan = false;
    const seenIds = new Set<string>();
    for (const path of paths) {
      let st;
      try {
        st = await stat(path);
      } catch {
        continue;
      }
      const fileId = `${st.dev}:${st.ino}`;
      seenIds.add(fileId);
      const known = this.readers.get(fileId);
      if (known) {
        known.seenInScan = true;
        if (known.path !== path) {
          // Renamed (rotated) but still matched: keep reading it under its new name.
          known.path = path;
          known.origin = { ...known.origin, path };
        }
        continue;
      }
      await this.openReader(path, st.dev, st.ino, st.size);
      this.watchDir(dirname(path));
    }
    // Prune checkpoints of files that are gone.
    for (const id of Object.keys(this.checkpoint.files)) {
      if (!seenIds.has(id) && !this.readers.has(id)) {
        delete this.checkpoint.files[id];
        this.checkpointDirty = true;
      }
    }
  }

  private async openReader(path: string, dev: number, ino: number, size: number): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      this.ctx.logger.warn({ path, err: e }, 'cannot open file; will retry at the next scan');
      return;
    }
    const fileId = `${dev}:${ino}`;
    const headLen = Math.min(size, this.cfg.fingerprint_bytes);
    const head = Buffer.allocUnsafe(Math.max(headLen, 1));
    const { bytesRead } = headLen > 0 ? await fh.read(head, 0, headLen, 0) : { bytesRead: 0 };
    const headHash = hashHead(head, bytesRead);
    let pos = 0;
    const cp = this.checkpoint.files[fileId];
    let resumed = false;
    if (cp && cp.head_len <= size) {
      const same = cp.head_len === bytesRead ? cp.head_hash === headHash : await this.headMatches(fh, cp);
      if (same) {
        pos = cp.offset <= size ? cp.offset : 0;
        resumed = true;
      }
    }
    if (!resumed && this.firstScan && this.cfg.read_from === 'end') pos = size;
    const origin: EventOrigin = { sourceId: this.ctx.id, path, host: this.ctx.host, fileId };
    const r: Reader = {
      path,
      origin,
      fh,
      fileId,
      dev,
      ino,
      pos,
      headHash,
      headLen: bytesRead,
      splitter: undefined as unknown as LineSplitter,
      tracker: new AckTracker(pos),
      batch: [],
      goneSince: 0,
      atEof: false,
      seenInScan: true,
    };
    r.splitter = new LineSplitter(
      {
        line: (text, offset) => {
          const ev = decodeLine(r.origin, text, offset, this.cfg.decoding);
          if (ev instanceof DecodeError) this.badLine(r, ev.offset, ev.message);
          else r.batch.push(ev);
        },
        oversize: (offset, length) => {
          this.c.oversize.inc();
          this.report(r, offset, `line longer than max_line_bytes (${length} > ${this.cfg.max_line_bytes} bytes); skipped`);
        },
      },
      this.cfg.max_line_bytes,
      pos,
    );
    this.readers.set(fileId, r);
    this.c.files.inc();
    this.ctx.logger.info({ path, file_id: fileId, offset: pos, resumed }, 'reading file');
    this.updateCheckpoint(r);
  }

  private async headMatches(fh: FileHandle, cp: FileCheckpoint): Promise<boolean> {
    const buf = Buffer.allocUnsafe(Math.max(cp.head_len, 1));
    const { bytesRead } = cp.head_len > 0 ? await fh.read(buf, 0, cp.head_len, 0) : { bytesRead: 0 };
    return bytesRead === cp.head_len && hashHead(buf, bytesRead) === cp.head_hash;
  }

  private badLine(r: Reader, offset: number, reason: string): void {
    this.c.decodeErrors.inc();
    this.report(r, offset, `malformed line skipped: ${reason}`);
  }

  private report(r: Reader, offset: number, message: string): void {
    const suppressed = this.warn.take();
    if (suppressed >= 0) this.ctx.logger.warn({ path: r.path, offset, ...(suppressed ? { suppressed_since_last: suppressed } : {}) }, message);
  }

  /** One read on one file; returns whether it made progress. */
  private async readOnce(r: Reader): Promise<boolean> {
    let bytesRead: number;
    try {
      ({ bytesRead } = await r.fh.read(this.readBuf, 0, this.readBuf.length, r.pos));
    } catch (e) {
      this.ctx.logger.warn({ path: r.path, err: e }, 'read failed; closing the file');
      await this.closeReader(r);
      return false;
    }
    if (bytesRead === 0) {
      await this.atEof(r);
      return false;
    }
    r.atEof = false;
    r.goneSince = 0;
    const start = r.pos;
    r.pos += bytesRead;
    this.c.bytes.inc(bytesRead);
    r.splitter.push(this.readBuf.subarray(0, bytesRead));
    await this.emitBatch(r, r.splitter.committedOffset - start);
    return true;
  }

  private async emitBatch(r: Reader, bytes: number): Promise<void> {
    const events = r.batch;
    const end = r.splitter.committedOffset;
    if (events.length === 0) {
      // Only bad or partial lines: nothing to deliver, but bad lines are done with.
      if (end > r.tracker.committed && r.tracker.inFlight === 0) {
        r.tracker.committed = end;
        this.checkpointDirty = true;
      } else if (end > r.tracker.committed) r.tracker.track(end)();
      return;
    }
    r.batch = [];
    this.c.lines.inc(events.length);
    const done = r.tracker.track(end);
    await this.ctx.emit(
      events,
      () => {
        done();
        this.checkpointDirty = true;
      },
      Math.max(bytes, 0),
    );
  }

  private async atEof(r: Reader): Promise<void> {
    r.atEof = true;
    const st = await r.fh.stat().catch(() => undefined);
    if (st && st.size < r.pos) {
      // Copy-and-truncate rotation: the content we read is gone; start again at 0.
      this.c.truncations.inc();
      this.ctx.logger.warn({ path: r.path, offset: r.pos, size: st.size }, 'file truncated; reading it again from the start');
      r.pos = 0;
      r.splitter.reset(0);
      r.tracker.reset(0);
      this.checkpointDirty = true;
      return;
    }
    if (this.ctx.once && r.splitter.pendingBytes > 0) {
      // With --once a last line without newline is still a line; when tailing it may still be being written.
      r.splitter.flush();
      await this.emitBatch(r, 0);
    }
    // Is the path still this file? If not (renamed away or deleted), close it after rotate_wait_ms at EOF.
    let current: string | undefined;
    try {
      const ps = await stat(r.path);
      current = `${ps.dev}:${ps.ino}`;
    } catch {
      current = undefined;
    }
    if (current === r.fileId && r.seenInScan) return;
    const now = Date.now();
    if (r.goneSince === 0) r.goneSince = now;
    if (this.ctx.once || now - r.goneSince >= this.cfg.rotate_wait_ms) {
      if (r.splitter.pendingBytes > 0) r.splitter.flush();
      await this.emitBatch(r, 0);
      if (r.tracker.inFlight === 0) {
        this.ctx.logger.info({ path: r.path, file_id: r.fileId }, current === undefined ? 'file deleted and read to its end; closed' : 'file rotated away and read to its end; closed');
        await this.closeReader(r);
      }
    }
  }

  private async closeReader(r: Reader): Promise<void> {
    this.updateCheckpoint(r);
    this.readers.delete(r.fileId);
    await r.fh.close().catch(() => undefined);
  }

  private updateCheckpoint(r: Reader): void {
    const prev = this.checkpoint.files[r.fileId];
    if (prev && prev.offset === r.tracker.committed && prev.path === r.path) return;
    this.checkpoint.files[r.fileId] = { path: r.path, offset: r.tracker.committed, head_hash: r.headHash, head_len: r.headLen, updated: Date.now() };
    this.checkpointDirty = true;
  }

  private maybeCheckpoint(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastCheckpoint < this.cfg.checkpoint_interval_ms) return;
    for (const r of this.readers.values()) this.updateCheckpoint(r);
    if (!this.checkpointDirty && !force) return;
    this.lastCheckpoint = now;
    this.checkpointDirty = false;
    try {
      this.store.save(this.checkpoint);
    } catch (e) {
      this.ctx.logger.error({ err: e, path: this.store.path }, 'cannot write checkpoint');
    }
  }
}

