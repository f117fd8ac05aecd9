/**
 * Checkpoint pacing: when the acknowledged offsets of the followed files are written to
 * `<data_dir>/checkpoints/<source id>.json`. Every `checkpoint_interval_ms` while something changed,
 * early once half of `max_unsaved_events` were acknowledged since the last write, and never more
 * than `max_unsaved_events` read beyond the last written checkpoint: at that bound reading waits
 * (`gate`), so a crash re-sends at most that many events (plus one read per file). A failed write
 * is counted, logged once per errno and interval, and tried again at the next one.
 */
import { LogLimiter } from '@tern/core';
import { CheckpointStore, type CheckpointFile } from './checkpoint.ts';
import { sha1 } from './reader.ts';
import type { Reader, CheckpointRoom, Tail } from './tail.ts';

export class CheckpointPacer implements CheckpointRoom {
  private readonly s: Tail;
  readonly store: CheckpointStore;
  /** The checkpoint as it is in memory (written by `saveSoon`); read from disk by `load` when the source runs. */
  checkpoint: CheckpointFile = { version: 1, files: {} };
  /** `load` ran: until then there is nothing of this instance's to save. */
  private loaded = false;
  /** The checkpoint in memory differs from the last one written. */
  dirty = false;
  /** When the last write began. */
  lastWrite = 0;
  /** Events read whose lines no written checkpoint covers yet: what a crash now would send again. */
  outstanding = 0;
  /** Events the checkpoint in memory moved over since the last write began. */
  coveredSinceSave = 0;
  saving: Promise<void> | undefined;
  /** When a checkpoint write last succeeded (start-up until the first): `checkpoint_age_seconds`. */
  lastSaved = Date.now();
  readonly maxUnsaved: number;
  /** Checkpoint write failures repeat every interval while the disk is full: one line per errno and 10 s. */
  private readonly cpLog: LogLimiter;

  constructor(s: Tail) {
    this.s = s;
    this.store = new CheckpointStore(s.ctx.dataDir, s.ctx.id);
    this.cpLog = new LogLimiter(s.ctx.logger);
    this.maxUnsaved = s.cfg.max_unsaved_events;
    // A state error is a build error (TERN_ERR_DATA_DIR), before anything is read: at start-up, and on
    // a reload while the instance this one replaces still reads (it is then kept). A full file system
    // that disk buffers can drain is logged, and the writes are retried as they are while running.
    this.store.probe({ dataDir: s.ctx.dataDir, log: (e) => s.ctx.logger.error({ code: e.code, path: this.store.path }, e.message) });
    this.store.load();
  }

  /**
   * Reads the checkpoint to resume from, when the source runs: on a reload the instance this one
   * replaces wrote its last checkpoint after this one was built.
   */
  load(): void {
    this.checkpoint = this.store.load((e) => this.failed('read', e));
    this.loaded = true;
  }

  /** Written once more at shutdown, whatever the pacing says; a failure is logged whatever the rate limit says. */
  saveNow(): void {
    // Closed without having run (a reload that was refused): the checkpoint on disk is not this instance's to write.
    if (!this.loaded) return;
    try {
      this.store.save(this.checkpoint);
    } catch (e) {
      this.s.c.saveErrors.inc();
      this.s.ctx.logger.error({ err: e, path: this.store.path, errno: (e as NodeJS.ErrnoException).code }, checkpointFix('write', e));
    }
  }

  /** Waits while too much is read but not checkpointed: writes a checkpoint as soon as acks allow. */
  async gate(): Promise<void> {
    while (this.outstanding >= this.maxUnsaved && !this.s.ctx.signal.aborted) {
      if (this.coveredSinceSave > 0 && !this.saving) this.saveSoon();
      this.s.wakePending = false;
      await this.s.sleep(this.s.cfg.poll_interval_ms);
    }
  }

  update(r: Reader): void {
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
    this.dirty = true;
  }

  /** A file with nothing left to resume: its entry goes with the next write. */
  forget(id: string): void {
    if (this.checkpoint.files[id] === undefined) return;
    delete this.checkpoint.files[id];
    this.dirty = true;
  }

  maybeSave(): void {
    if (this.saving || !this.dirty) return;
    if (Date.now() - this.lastWrite < this.s.cfg.checkpoint_interval_ms) return;
    this.saveSoon();
  }

  /** Starts an asynchronous checkpoint write of the state as it is now. */
  saveSoon(): void {
    for (const r of this.s.readers.values()) this.update(r);
    const covered = this.coveredSinceSave;
    this.coveredSinceSave = 0;
    this.dirty = false;
    this.lastWrite = Date.now();
    const text = JSON.stringify(this.checkpoint);
    this.s.c.saves.inc();
    this.saving = this.store.saveAsync(text).then(
      () => {
        this.outstanding -= covered;
        this.lastSaved = Date.now();
        this.saving = undefined;
        this.s.poke();
      },
      (e: unknown) => {
        this.coveredSinceSave += covered;
        this.dirty = true;
        this.saving = undefined;
        this.failed('write', e);
      },
    );
  }

  /** Counted in `checkpoint_errors` (the engine reads it: a run with one does not claim success) and logged per errno every 10 s. */
  failed(op: 'read' | 'write', e: unknown): void {
    this.s.c.saveErrors.inc();
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
