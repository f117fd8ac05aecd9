/**
 * The disk buffer: an append-only, checksummed segment log under `data_dir/buffers/<sink id>/`.
 *
 * Write side. Closed batches are encoded as records (record.ts) and appended to the active segment by
 * one writer loop; everything pushed while a write runs goes out in the next write (group commit).
 * With `sync: batch` the loop fsyncs before it settles the batches, so the sources' checkpoints move
 * only past events that would survive a power loss; with `sync: none` they move once the bytes are
 * in the page cache (they survive a crash of tern). A failed write (disk full, file too large) is
 * truncated back to the last whole record, reported, and retried with backoff on a fresh segment,
 * one record at a time until writes succeed again (so a disk that frees some space takes the records
 * that fit); a segment that cannot be created (no inodes left, EMFILE) takes the same path. Batches
 * leave the write queue only once written: nothing spins, nothing is lost or acknowledged early, and
 * staging memory fills so admission blocks (backpressure).
 *
 * Read side. The dispatcher takes records in order. Each record's events are acknowledged through a
 * `RecordRef`; a segment is deleted once the reader moved past it and every record read from it was
 * acknowledged. The position of the first unacknowledged record is saved in `ledger.json` every
 * second and at close, so a restart replays from there (what was acknowledged out of order after it
 * is sent again: duplicates, never loss).
 *
 * Recovery. At open, every segment is scanned: a torn tail (a record cut by SIGKILL or a power loss)
 * is reported with its byte range and ignored. While reading, a record whose magic, length or CRC is
 * wrong is reported with its byte range, and the reader resynchronises on the next valid record, so
 * the valid records around the damage are all delivered. A new segment is started at every open:
 * old segments are never appended to.
 *
 * Over 400 lines: writing, reading, acknowledging and deleting share one segment table. (Reading
 * files without that state is in segment-file.ts, the record format in record.ts.)
 */
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { ensureDataDir } from '../topology/data-dir.ts';
import type { LogEvent } from '../event/event.ts';
import type { ClosedBatch } from '../sink-kit/batcher.ts';
import { settleSpans, type Job, type Outcome, type Settler, type Span } from '../sink-kit/job.ts';
import type { ComponentTelemetry, Counter } from '../telemetry/telemetry.ts';
import { LogLimiter } from '../telemetry/log-limit.ts';
import type { Clock } from '../time/clock.ts';
import { decodePayload, encodeRecord, HEADER_BYTES, MAX_PAYLOAD, OriginCache, readHeader, recordCrc, type StoredEvent } from './record.ts';
import { countEvents, findNext, readLedger, scanSegment } from './segment-file.ts';
import type { SinkBuffer } from './types.ts';

interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Bytes of whole records (the valid end; a torn tail after it is ignored). */
  size: number;
  /** Bytes the file takes on disk (size plus any torn tail), for `max_bytes`. */
  diskBytes: number;
  /** Events not yet acknowledged. */
  unacked: number;
  /** Records read from it and records of those acknowledged. */
  read: number;
  acked: number;
  /** The reader moved past it (or it was never written to). */
  done: boolean;
}

interface PendingWrite {
  readonly buf: Buffer;
  readonly spans: Span[];
  readonly events: number;
}

/** A record being delivered: its events settle here; the last one acknowledges the record. */
class RecordRef implements Settler {
  remaining: number;
  private readonly buffer: DiskBuffer;
  readonly seg: Segment;
  readonly offset: number;
  constructor(buffer: DiskBuffer, seg: Segment, offset: number, events: number) {
    this.buffer = buffer;
    this.seg = seg;
    this.offset = offset;
    this.remaining = events;
  }
  settle(count: number, _outcome: Outcome): void {
    this.remaining -= count;
    this.buffer.settled(this, count);
  }
}

/** Timers of the buffer never keep the process alive on their own. */
function unref(h: unknown): unknown {
  (h as { unref?: () => void } | undefined)?.unref?.();
  return h;
}

const SEGMENT_NAME = /^(\d{12})\.seg$/;
const segName = (seq: number): string => `${String(seq).padStart(12, '0')}.seg`;

/** A file opened after `close()`: closed at once, and the operation that wanted it ends quietly. */
class BufferClosedError extends Error {
  constructor() {
    super('the disk buffer is closed');
    this.name = 'BufferClosedError';
  }
}

export interface DiskBufferOptions {
  readonly dir: string;
  readonly maxBytes: number;
  /** Memory for open batches and writes in progress. */
  readonly stagingBytes: number;
  readonly sync: 'batch' | 'none';
  readonly logger: Logger;
  readonly telemetry: ComponentTelemetry;
  readonly clock: Clock;
  /** The data_dir holding the buffer (default: two levels up, `<data_dir>/buffers/<sink id>`). */
  readonly dataDir?: string;
  /** Segment size at which the writer starts a new one (default: max_bytes / 8, between 1 and 32 MiB). */
  readonly segmentBytes?: number;
}

export class DiskBuffer implements SinkBuffer {
  readonly type = 'disk';
  onRoom: () => void = () => undefined;
  onReady: () => void = () => undefined;

  private readonly o: DiskBufferOptions;
  private readonly segmentBytes: number;
  private readonly limiter: LogLimiter;
  private readonly c: Record<'written' | 'writeErrors' | 'corruptBytes' | 'corruptRegions' | 'replayed', Counter>;
  private readonly origins = new OriginCache();

  private readonly segments: Segment[] = [];
  private active: Segment | undefined;
  private activeFh: FileHandle | undefined;
  /**
   * The highest segment number used or named by the ledger: numbers only go up. Restarting them
   * (every segment deleted, none could be created) would name new segments below the ledger's,
   * and the next start deletes those as delivered.
   */
  private lastSeq = 0;
  /**
   * Recovery at open is done: the segments found are all listed and the read position is the
   * ledger's. Until then nothing is read: a take during recovery read a record that the ledger
   * position then pointed back to, and it was sent twice (and settled twice: a negative backlog,
   * and `--once` waiting on it until its deadline).
   */
  private recovered = false;
  private diskTotal = 0;
  private staged = 0;
  private stagedBytes = 0;
  private durable = 0;

  private pending: PendingWrite[] = [];
  private writing: Promise<void> | undefined;
  private writeFailures = 0;
  /**
   * Bytes one write may take beyond its first record. After a failed write it drops to one record and
   * doubles with each write that succeeds: everything staged (up to `stagingBytes`) retried as one
   * group would never fit on a disk that freed less than that, while record by record the buffer takes
   * what fits as soon as space comes back.
   */
  private writeCap = Infinity;
  /** The last write failed on a segment holding records: the next write starts a new one. */
  private rotateNext = false;
  private closed = false;

  /** Events that cannot be written (they cannot be serialised): handed to the dispatcher, which refuses them. */
  private readonly memJobs: Job[] = [];
  private readSeg = 0; // index into segments
  private readOff = 0;
  private readFh: FileHandle | undefined;
  private readFhSeq = -1;
  private takeBusy = false;
  /** Records handed out and not yet acknowledged, in read order (for the ledger). */
  private readonly outstanding: RecordRef[] = [];
  private ledgerDirty = false;
  private ledgerTimer: unknown;
  private opened: Promise<void> | undefined;

  constructor(o: DiskBufferOptions) {
    this.o = o;
    this.segmentBytes = o.segmentBytes ?? Math.min(32 << 20, Math.max(1 << 20, Math.floor(o.maxBytes / 8)));
    this.limiter = new LogLimiter(o.logger, 10_000, o.clock);
    const t = o.telemetry;
    this.c = {
      written: t.counter('buffer_events_written'),
      writeErrors: t.counter('buffer_write_errors'),
      corruptBytes: t.counter('buffer_corrupt_bytes'),
      corruptRegions: t.counter('buffer_corrupt_regions'),
      replayed: t.counter('buffer_events_replayed'),
    };
  }

  // ---------------------------------------------------------------- accounting

  /** Unacknowledged events on disk plus events staged for writing. */
  get events(): number {
    return this.durable + this.staged + this.memJobEvents();
  }

  get bytes(): number {
    return this.diskTotal + this.stagedBytes;
  }

  /** Events durably in the buffer, not yet acknowledged by the destination. */
  get durableEvents(): number {
    return this.durable;
  }

  /** Events accepted and not yet written (they hold their sources' acknowledgements). */
  get stagedEvents(): number {
    return this.staged + this.memJobEvents();
  }

  private memJobEvents(): number {
    let n = 0;
    for (const j of this.memJobs) n += j.events.length;
    return n;
  }

  hasRoom(_events: number, bytes: number): boolean {
    if (this.diskTotal + this.stagedBytes + bytes > this.o.maxBytes && this.diskTotal + this.stagedBytes > 0) return false;
    return this.staged === 0 || this.stagedBytes + bytes <= this.o.stagingBytes;
  }

  reserve(events: number, bytes: number): void {
    this.staged += events;
    this.stagedBytes += bytes;
  }

  /** Staged events settled (written, or refused before writing). */
  free(events: number, bytes: number): void {
    this.staged -= events;
    this.stagedBytes -= bytes;
    this.onRoom();
  }

  // ---------------------------------------------------------------- open and recovery

  /** Creates the directory, recovers existing segments, starts a new active segment. Idempotent. */
  open(): Promise<void> {
    this.opened ??= this.doOpen();
    return this.opened;
  }

  private async doOpen(): Promise<void> {
    const dir = this.o.dir;
    // At start-up (the sink's start): a directory tern cannot write is TERN_ERR_DATA_DIR before anything is
    // read. A full one holding buffered events is not: the buffer sends what it holds (deleting sent
    // segments frees space) and writes new events once there is room, as when the disk fills while running.
    ensureDataDir(dir, 'disk buffer directory', 'new events cannot be written to the disk buffer, so its sources wait', { dataDir: this.o.dataDir ?? dirname(dirname(dir)), log: (e) => this.o.logger.error({ code: e.code, dir }, e.message) });
    const ledger = readLedger(this.o.dir);
    // The directory may not exist: a file system too full to create it (see above).
    const seqs = (existsSync(dir) ? readdirSync(dir) : [])
      .map((n) => SEGMENT_NAME.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    this.lastSeq = Math.max(ledger?.seq ?? 0, seqs[seqs.length - 1] ?? 0);
    let replay = 0;
    for (const seq of seqs) {
      const path = join(dir, segName(seq));
      if (ledger !== undefined && seq < ledger.seq) {
        rmSync(path, { force: true });
        continue;
      }
      const scan = await scanSegment(path);
      if (scan.tornAt !== undefined) this.reportCorrupt(path, scan.tornAt, scan.fileBytes, 'torn tail (a write cut short, e.g. by SIGKILL or power loss)');
      const seg: Segment = { seq, path, size: scan.validEnd, diskBytes: scan.fileBytes, unacked: scan.events, read: 0, acked: 0, done: false };
      this.segments.push(seg);
      this.diskTotal += seg.diskBytes;
      this.durable += seg.unacked;
      replay += seg.unacked;
    }
    // Start reading at the ledger's position (records before it were acknowledged).
    if (ledger !== undefined && this.segments[0]?.seq === ledger.seq && ledger.offset <= (this.segments[0] as Segment).size) {
      this.readOff = ledger.offset;
      const skipped = await countEvents((this.segments[0] as Segment).path, 0, ledger.offset);
      (this.segments[0] as Segment).unacked -= skipped;
      this.durable -= skipped;
      replay -= skipped;
    }
    this.recovered = true;
    if (replay > 0) {
      this.c.replayed.inc(replay);
      this.o.logger.info({ dir, events: replay, segments: this.segments.length }, 'disk buffer holds events from before the restart; sending them first');
    }
    try {
      await this.startSegment();
    } catch {
      // No room for a new file now (a full disk): the writer creates it before its first write.
    }
    this.ledgerTimer = unref(this.o.clock.setTimeout(() => this.ledgerTick(), 1000));
    if (this.queued > 0) this.onReady();
  }

  private reportCorrupt(path: string, from: number, to: number, what: string): void {
    this.c.corruptBytes.inc(to - from);
    this.c.corruptRegions.inc();
    this.o.logger.error({ code: 'TERN_ERR_BUFFER', file: path, bytes: `${from}-${to}`, length: to - from }, `disk buffer: ${what} in ${path} at bytes ${from}-${to}; skipped, the records around it are kept`);
  }

  private writeLedger(): void {
    if (!this.ledgerDirty) return;
    const head = this.outstanding[0];
    const pos = head !== undefined ? { seq: head.seg.seq, offset: head.offset } : { seq: this.segments[this.readSeg]?.seq ?? this.active?.seq ?? this.lastSeq + 1, offset: this.readOff };
    const path = join(this.o.dir, 'ledger.json');
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify(pos), { mode: 0o640 }); // as the segments, whatever the umask
      renameSync(`${path}.tmp`, path);
      this.ledgerDirty = false;
    } catch (err) {
      this.limiter.log('warn', 'ledger', { err, file: path }, 'disk buffer: cannot save the read position; a restart will send some events twice');
    }
  }

  private ledgerTick(): void {
    this.ledgerTimer = undefined;
    if (this.closed) return;
    this.writeLedger();
    this.ledgerTimer = unref(this.o.clock.setTimeout(() => this.ledgerTick(), 1000));
  }

  // ---------------------------------------------------------------- writing

  /**
   * Closes the active file and creates the next segment. When the creation fails (no inodes left,
   * EMFILE), no segment is added and there is no active file: the writer starts one before its next write.
   * A file that already has the next name (put there by something else) is moved aside to
   * `<name>.<ms>.stray`, where no start reads or deletes it, and the name is used: retrying it would hold
   * the buffer until someone removed the file. If it cannot be moved, the name after it is taken.
   */
  private async startSegment(): Promise<void> {
    let seq = this.lastSeq + 1;
    const old = this.activeFh;
    this.activeFh = undefined;
    // The writer is done with the old segment whether or not a new one can be created: the reader
    // may pass it (and its acknowledgement delete it), which is what frees room on a full disk.
    this.active = undefined;
    await old?.close().catch(() => undefined);
    // Made again if need be: at start-up, a full file system may not have let it be created.
    await mkdir(this.o.dir, { recursive: true, mode: 0o750 });
    let path = join(this.o.dir, segName(seq));
    for (let tries = 1; ; tries++) {
      try {
        const fh = await open(path, 'wx', 0o640);
        if (this.closed) {
          // close() ran while this file was being created (its deadline passed): do not leak it.
          await fh.close().catch(() => undefined);
          throw new BufferClosedError();
        }
        this.activeFh = fh;
        this.lastSeq = seq;
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 64) throw err;
        const aside = `${path}.${Date.now()}.stray`;
        try {
          await rename(path, aside);
          this.limiter.log('warn', 'stray', { file: path, moved_to: aside }, `disk buffer: ${path} exists but is not one of its segments; moved aside to ${aside} (never read or deleted by tern)`);
        } catch {
          this.limiter.log('warn', 'stray', { file: path }, `disk buffer: ${path} exists but is not one of its segments and cannot be moved aside; the next name is used (a restart reads it as a segment, and reports it if damaged)`);
          path = join(this.o.dir, segName(++seq));
        }
      }
    }
    const seg: Segment = { seq, path, size: 0, diskBytes: 0, unacked: 0, read: 0, acked: 0, done: false };
    this.segments.push(seg);
    this.active = seg;
    this.rotateNext = false;
  }

  push(b: ClosedBatch): void {
    const stored: StoredEvent[] = [];
    const bad: LogEvent[] = [];
    const badSpans: Span[] = [];
    const goodSpans: Span[] = [];
    let i = 0;
    for (const s of b.spans) {
      let good = 0;
      let nbad = 0;
      for (let k = 0; k < s.count; k++, i++) {
        const ev = b.events[i] as LogEvent;
        try {
          const unchanged = !ev.modified && ev.raw !== undefined;
          stored.push({ origin: ev.origin, offset: ev.offset, format: unchanged ? ev.rawFormat : 'json', text: unchanged ? (ev.raw as string) : ev.toJson() });
          good++;
        } catch {
          bad.push(ev);
          nbad++;
        }
      }
      if (good > 0) goodSpans.push({ to: s.to, count: good });
      if (nbad > 0) badSpans.push({ to: s.to, count: nbad });
    }
    if (bad.length > 0) {
      // The dispatcher fails to encode them too, and refuses them alone (dead letter).
      this.memJobs.push({ partition: b.partition, events: bad, spans: badSpans, attempt: 0, failingSince: -1 });
      this.onReady();
    }
    if (stored.length === 0) return;
    this.pending.push({ buf: encodeRecord(b.partition, stored), spans: goodSpans, events: stored.length });
    this.writing ??= this.writeLoop();
  }

  private async writeLoop(): Promise<void> {
    try {
      await this.open();
      while (this.pending.length > 0 && !this.closed) {
        // Group commit: everything pending goes in one write, unless a write failed lately (see writeCap).
        let n = 0;
        let bytes = 0;
        while (n < this.pending.length && (n === 0 || bytes + (this.pending[n] as PendingWrite).buf.length <= this.writeCap)) bytes += (this.pending[n++] as PendingWrite).buf.length;
        // The batches leave `pending` only once written: whatever fails below (creating a segment,
        // writing, syncing) leaves them there, in order, for the retry.
        const batch = this.pending.slice(0, n);
        const bufs = batch.map((p) => p.buf);
        const total = bytes;
        let fh: FileHandle | undefined;
        let seg: Segment | undefined;
        let before = 0;
        try {
          const active = this.active as Segment;
          if (this.activeFh === undefined || (active.size > 0 && (this.rotateNext || active.size + total > this.segmentBytes))) await this.startSegment();
          seg = this.active as Segment;
          fh = this.activeFh as FileHandle;
          before = seg.size;
          let off = 0;
          while (off < total) {
            const { bytesWritten } = await fh.writev(off === 0 ? bufs : [Buffer.concat(bufs).subarray(off)], before + off);
            off += bytesWritten;
          }
          if (this.o.sync === 'batch') await fh.datasync();
        } catch (err) {
          // Nothing of this write counts: cut the file back to its last whole record, wait, and try
          // again on a fresh segment (a full disk may free up; EFBIG needs a new file).
          if (fh !== undefined && seg !== undefined) {
            await fh.truncate(before).catch(() => undefined);
            this.rotateNext = seg.size > 0;
          }
          // Closed meanwhile: the batches stay unacknowledged, and are read again after a restart.
          if (err instanceof BufferClosedError) break;
          await this.backoff(err, fh === undefined ? 'create' : 'write', (err as NodeJS.ErrnoException).path ?? seg?.path ?? this.o.dir);
          continue;
        }
        this.pending.splice(0, n);
        this.writeFailures = 0;
        if (this.writeCap !== Infinity) this.writeCap = total * 2 >= this.o.stagingBytes ? Infinity : total * 2;
        seg.size += total;
        seg.diskBytes = seg.size;
        this.diskTotal += total;
        for (const p of batch) {
          seg.unacked += p.events;
          this.durable += p.events;
          this.c.written.inc(p.events);
          // Durably buffered: the sources' acknowledgements go (their checkpoints may move).
          settleSpans(p.spans, 'delivered');
        }
        this.onReady();
      }
    } catch (err) {
      // Not a failed write (those are retried above): the buffer could not open, or settling threw.
      // The staged batches stay unacknowledged; the loop starts again after the same backoff.
      await this.backoff(err, 'writer', this.o.dir);
    } finally {
      this.writing = undefined;
      if (this.pending.length > 0 && !this.closed) this.writing = this.writeLoop();
    }
  }

  /**
   * After a failure of the writer: counts it, logs it (once per interval; the limiter folds the
   * rest), and waits 100 ms doubling to 5 s, so nothing spins. One record per write until writes
   * succeed again (see writeCap).
   */
  private async backoff(err: unknown, what: 'create' | 'write' | 'writer', file: string): Promise<void> {
    this.writeCap = 0;
    this.c.writeErrors.inc();
    this.writeFailures++;
    const wait = Math.min(5000, 100 * 2 ** Math.min(this.writeFailures - 1, 6));
    const errno = (err as NodeJS.ErrnoException).code;
    const why = errno ?? (err as Error).message;
    const msg =
      what === 'writer'
        ? `disk buffer writer failed (${why}); the events wait in memory, unacknowledged, and sources slow down; retrying`
        : `disk buffer: cannot ${what} ${file} (${why}); the events wait in memory and sources slow down until it works again`;
    this.limiter.log('error', 'write', { code: 'TERN_ERR_BUFFER', err, file, errno, retry_in_ms: wait }, msg);
    await new Promise<void>((r) => unref(this.o.clock.setTimeout(r, wait)));
  }

  // ---------------------------------------------------------------- reading

  get queued(): number {
    return this.memJobs.length + (this.takeBusy || !this.recovered ? 0 : this.unread() ? 1 : 0);
  }

  private unread(): boolean {
    for (let i = this.readSeg; i < this.segments.length; i++) {
      const s = this.segments[i] as Segment;
      if ((i === this.readSeg ? this.readOff : 0) < s.size) return true;
    }
    return false;
  }

  take(): Job | undefined | Promise<Job | undefined> {
    const mem = this.memJobs.shift();
    if (mem !== undefined) return mem;
    if (!this.recovered) return undefined;
    if (!this.takeBusy) this.passRead();
    if (this.takeBusy || !this.unread()) return undefined;
    this.takeBusy = true;
    return this.readNext()
      .catch((e: unknown) => {
        // Closed while reading: nothing more to hand out (what was not acknowledged stays on disk).
        if (e instanceof BufferClosedError) return undefined;
        throw e;
      })
      .finally(() => {
        this.takeBusy = false;
        this.passRead();
      });
  }

  /**
   * Moves the reader past segments it read to their end that the writer is done with, so each is
   * deleted once its records are acknowledged, even when nothing after them is unread yet. On a
   * full disk that is what makes room: the writer's next segment cannot be written until the last
   * one holding data is deleted (before, the reader passed a segment only on its way to the next
   * record, so a buffer whose data sat in one segment kept it on disk for good).
   */
  private passRead(): void {
    if (this.takeBusy || !this.recovered) return;
    for (;;) {
      const seg = this.segments[this.readSeg];
      if (seg === undefined || seg === this.active || this.readOff < seg.size) return;
      seg.done = true;
      this.readSeg++;
      this.readOff = 0;
      this.ledgerDirty = true;
      this.maybeDelete(seg);
    }
  }

  private async readNext(): Promise<Job | undefined> {
    for (;;) {
      const seg = this.segments[this.readSeg];
      if (seg === undefined) return undefined;
      if (this.readOff >= seg.size) {
        if (seg === this.active) return undefined; // caught up with the writer
        seg.done = true;
        this.readSeg++;
        this.readOff = 0;
        this.ledgerDirty = true;
        this.maybeDelete(seg);
        continue;
      }
      const fh = await this.readerFor(seg);
      const head = Buffer.alloc(HEADER_BYTES);
      const start = this.readOff;
      await fh.read(head, 0, HEADER_BYTES, start);
      const h = readHeader(head, 0);
      let problem: string | undefined;
      let payload: Buffer | undefined;
      if (h === undefined) problem = 'bad record marker';
      else if (h.length > MAX_PAYLOAD || start + HEADER_BYTES + h.length > seg.size) problem = 'record length past the end of the segment';
      else {
        payload = Buffer.allocUnsafe(h.length);
        await fh.read(payload, 0, h.length, start + HEADER_BYTES);
        if (recordCrc(h.events, payload) !== h.crc) problem = 'checksum mismatch';
      }
      if (problem === undefined && h !== undefined && payload !== undefined) {
        try {
          const { partition, events } = decodePayload(payload, h.events, this.origins);
          this.readOff = start + HEADER_BYTES + h.length;
          seg.read++;
          const ref = new RecordRef(this, seg, start, events.length);
          this.outstanding.push(ref);
          return { partition, events, spans: [{ to: ref, count: events.length }], attempt: 0, failingSince: -1 };
        } catch (e) {
          problem = `undecodable record (${(e as Error).message})`;
        }
      }
      // Damage: skip to the next valid record of this segment, or to its end.
      const next = await findNext(fh, start + 1, seg.size);
      const end = next < 0 ? seg.size : next;
      const lost = h !== undefined && problem === 'checksum mismatch' ? h.events : undefined;
      this.reportCorrupt(seg.path, start, end, `corrupt record (${problem})${lost !== undefined ? `, about ${lost} events` : ''}`);
      if (lost !== undefined) {
        seg.unacked -= Math.min(lost, seg.unacked);
        this.durable -= Math.min(lost, this.durable);
      }
      this.readOff = end;
      this.ledgerDirty = true;
    }
  }

  private async readerFor(seg: Segment): Promise<FileHandle> {
    if (this.readFh !== undefined && this.readFhSeq === seg.seq) return this.readFh;
    await this.readFh?.close().catch(() => undefined);
    const fh = await open(seg.path, 'r');
    if (this.closed) {
      await fh.close().catch(() => undefined);
      throw new BufferClosedError();
    }
    this.readFh = fh;
    this.readFhSeq = seg.seq;
    return this.readFh;
  }

  /** Some events of a record settled. */
  settled(ref: RecordRef, count: number): void {
    ref.seg.unacked -= count;
    this.durable -= count;
    if (ref.remaining > 0) return;
    ref.seg.acked++;
    // The ledger position is the first record not yet acknowledged.
    while (this.outstanding.length > 0 && (this.outstanding[0] as RecordRef).remaining === 0) this.outstanding.shift();
    this.ledgerDirty = true;
    this.passRead();
    this.maybeDelete(ref.seg);
    this.onRoom();
  }

  private maybeDelete(seg: Segment): void {
    if (seg === this.active || !seg.done || seg.acked < seg.read) return;
    const i = this.segments.indexOf(seg);
    if (i < 0) return;
    this.segments.splice(i, 1);
    if (i < this.readSeg) this.readSeg--;
    this.diskTotal -= seg.diskBytes;
    if (this.readFhSeq === seg.seq) {
      void this.readFh?.close().catch(() => undefined);
      this.readFh = undefined;
      this.readFhSeq = -1;
    }
    unlink(seg.path).catch((err: unknown) => this.limiter.log('warn', 'unlink', { err, file: seg.path }, 'disk buffer: cannot delete a delivered segment'));
    this.onRoom();
  }

  // ---------------------------------------------------------------- closing

  async close(deadline: AbortSignal): Promise<void> {
    if (this.closed) return;
    // Let the write in progress finish (its batches' acknowledgements depend on it), within the deadline.
    if (this.writing !== undefined && !deadline.aborted) {
      await Promise.race([this.writing, new Promise((r) => deadline.addEventListener('abort', r, { once: true }))]);
    }
    this.closed = true;
    if (this.ledgerTimer !== undefined) this.o.clock.clearTimeout(this.ledgerTimer);
    this.ledgerDirty = true;
    if (this.opened !== undefined) this.writeLedger();
    await this.readFh?.close().catch(() => undefined);
    await this.activeFh?.close().catch(() => undefined);
    this.limiter.flush();
  }
}
