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
 * Rooms: discovery.ts (globs, scans, watchers), handles.ts (open descriptors, `max_open_files`),
 * reader.ts (a file's state and the reading of it, `.gz` included), recovery.ts (copy-and-truncate),
 * checkpoint-pacing.ts (when checkpoints are written); this file holds them together and runs the
 * loop.
 *
 * Crash bound. At most `max_unsaved_events` events are read beyond the last written checkpoint
 * (plus one read): the loop writes a checkpoint early and, if need be, waits for acknowledgements,
 * so a `kill -9` re-sends at most that many.
 */
import { fstatSync } from 'node:fs';
import {
  Intake,
  setPath,
  type Counter,
  type Decoding,
  type EventOrigin,
  type FieldPath,
  type LogEvent,
  type MultilineOptions,
  type Source,
  type SourceContext,
} from '@tern/core';
import { AckTracker } from './checkpoint.ts';
import { CheckpointPacer } from './checkpoint-pacing.ts';
import { Discovery } from './discovery.ts';
import { Handles } from './handles.ts';
import { compilePathTemplate, pathFields, type PathFieldTemplate } from './path-fields.ts';
import { FileReading, isGz } from './reader.ts';
import { Recovery } from './recovery.ts';
import type { FileCounters, FileSourceConfig, Reader, Tail } from './tail.ts';

export type { FileSourceConfig } from './tail.ts';

/**
 * The source: the rooms, the state they share (the followed files, the read buffers, the counters)
 * and the loop. Its fields are the package's internal surface between the rooms.
 */
export class FileSource implements Source, Tail {
  readonly cfg: FileSourceConfig;
  readonly ctx: SourceContext;
  private readonly templates: PathFieldTemplate[];
  /** Followed files by `dev:ino`. */
  readonly readers = new Map<string, Reader>();
  /** The same readers by current path, for notifications that name a file. */
  readonly byPath = new Map<string, Reader>();
  readonly readBuf: Buffer;
  /** For head comparisons (reopened files, copies). */
  readonly scratch: Buffer;
  private wake: (() => void) | undefined;
  wakePending = false;
  rescanSoon = false;
  firstScan = true;
  readonly intake: Intake;
  readonly c: FileCounters;
  readonly checkpoints: CheckpointPacer;
  readonly discovery: Discovery;
  readonly handles: Handles;
  readonly recovery: Recovery;
  readonly reading: FileReading;

  constructor(cfg: FileSourceConfig, ctx: SourceContext) {
    this.cfg = cfg;
    this.ctx = ctx;
    const tpl = cfg.path_fields === undefined ? [] : typeof cfg.path_fields === 'string' ? [cfg.path_fields] : cfg.path_fields;
    this.templates = tpl.map((t) => compilePathTemplate(t, ctx.configDir));
    this.intake = new Intake(ctx, {
      decoding: cfg.decoding,
      max_line_bytes: cfg.max_line_bytes,
      ...(cfg.multiline ? { multiline: cfg.multiline } : {}),
      ...(cfg.add_metadata === 'ecs' ? { enrich: ecsMetadata } : {}),
    });
    this.readBuf = Buffer.allocUnsafe(cfg.read_buffer_bytes);
    this.scratch = Buffer.allocUnsafe(cfg.fingerprint_bytes);
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
    this.checkpoints = new CheckpointPacer(this);
    this.discovery = new Discovery(this);
    this.handles = new Handles(this);
    this.recovery = new Recovery(this);
    this.reading = new FileReading(this);
    // Read at scrape time only: one fstat per open file.
    t.gauge('file_lag_bytes', () => this.lag());
    t.gauge('checkpoint_age_seconds', () => (Date.now() - this.checkpoints.lastSaved) / 1000);
  }

  /** Per followed file: bytes between the read position and the end of the file (`.gz`: not known, left out). */
  private lag(): Array<readonly [{ path: string }, number]> {
    const out: Array<readonly [{ path: string }, number]> = [];
    for (const r of this.readers.values()) {
      if (r.gz) continue;
      let size = r.lastSize;
      if (r.fh !== undefined) {
        try {
          size = fstatSync(r.fh.fd).size;
        } catch {
          // closed meanwhile: the last size seen stands
        }
      }
      out.push([{ path: r.path }, Math.max(0, size - r.pos)]);
    }
    return out;
  }

  async run(): Promise<void> {
    this.checkpoints.load();
    const { signal } = this.ctx;
    const onAbort = (): void => this.poke();
    signal.addEventListener('abort', onAbort, { once: true });
    let lastScan = 0;
    try {
      while (!signal.aborted) {
        const now = Date.now();
        if (this.firstScan || this.rescanSoon || now - lastScan >= this.cfg.glob_interval_ms) {
          if (!(this.ctx.once && !this.firstScan)) await this.discovery.scan();
          lastScan = now;
          this.rescanSoon = false;
          this.firstScan = false;
        }
        await this.handles.schedule();
        let progressed = false;
        for (const r of [...this.readers.values()]) {
          if (signal.aborted) break;
          if (r.fh === undefined) continue;
          if (this.checkpoints.outstanding >= this.checkpoints.maxUnsaved) await this.checkpoints.gate();
          if (signal.aborted) break;
          if (await this.reading.readOnce(r)) progressed = true;
        }
        this.checkpoints.maybeSave();
        if (this.ctx.once && !progressed && this.handles.waiting === 0) break;
        if (!progressed && this.handles.waiting === 0) await this.sleep(this.cfg.poll_interval_ms);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.discovery.close();
    this.intake.flush();
    await this.checkpoints.saving;
    for (const r of this.readers.values()) {
      // A deleted file read to its end and acknowledged (waiting out rotate_wait_ms) has nothing to
      // resume, and by the next start its inode may hold another file: no entry, as if it had finished.
      if (r.gone === 'deleted' && r.tracker.inFlight === 0 && r.pos >= r.lastSize && !r.stream.held) {
        this.checkpoints.forget(r.id);
        continue;
      }
      this.checkpoints.update(r);
      const cp = this.checkpoints.checkpoint.files[r.id];
      // A .gz whose every line was acknowledged during the drain is done.
      if (cp && r.gz?.ended && r.tracker.inFlight === 0 && !r.stream.held) cp.done = true;
    }
    this.checkpoints.saveNow();
    for (const r of this.readers.values()) await this.handles.release(r);
    this.readers.clear();
  }

  poke(): void {
    this.wakePending = true;
    const w = this.wake;
    if (w) {
      this.wake = undefined;
      w();
    }
  }

  sleep(ms: number): Promise<void> {
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

  newReader(id: string, path: string, atStart: boolean, startHint: number): Reader {
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
      stream: undefined as unknown as Reader['stream'],
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
    this.handles.enqueue(r);
    return r;
  }

  originFor(path: string, id: string): EventOrigin {
    const fields = this.templates.length ? pathFields(this.templates, path) : undefined;
    return fields ? { sourceId: this.ctx.id, path, host: this.ctx.host, fileId: id, fields } : { sourceId: this.ctx.id, path, host: this.ctx.host, fileId: id };
  }

  /** Renamed but still followed: events from now on carry the new path (path fields stay those of the file's first path). */
  moved(r: Reader, path: string): void {
    if (this.byPath.get(r.path) === r) this.byPath.delete(r.path);
    this.byPath.set(path, r);
    r.path = path;
    r.origin = r.origin.fields ? { ...r.origin, path } : { sourceId: this.ctx.id, path, host: this.ctx.host, fileId: r.id };
    r.stream.origin = r.origin;
  }
}

const LOG_FILE_PATH: FieldPath = ['log', 'file', 'path'];
const LOG_OFFSET: FieldPath = ['log', 'offset'];
const HOST_NAME: FieldPath = ['host', 'name'];

/** `add_metadata: ecs`: the origin written into each event, as Filebeat does. Opt-in: it makes sinks serialise the event instead of forwarding its line. */
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
