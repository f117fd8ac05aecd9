/**
 * What the rooms of the file source see of each other: the options, the state of one followed file
 * (`Reader`), and each room's surface as an interface. Rooms depend on this file, never on one
 * another's modules, so the file source has no import circle; file-source.ts wires the classes.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Counter, Decoding, EventOrigin, Intake, LineStream, MultilineOptions, SourceContext } from '@tern/core';
import type { AckTracker, CheckpointFile } from './checkpoint.ts';

/** Options as the schema completes them (YAML keys). */
export interface FileSourceConfig {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly read_from: 'beginning' | 'end';
  readonly decoding: Decoding;
  readonly max_line_bytes: number;
  readonly read_buffer_bytes: number;
  readonly glob_interval_ms: number;
  readonly poll_interval_ms: number;
  readonly checkpoint_interval_ms: number;
  readonly fingerprint_bytes: number;
  readonly rotate_wait_ms: number;
  readonly ignore_older_ms: number;
  readonly close_inactive_ms: number;
  readonly close_removed: boolean;
  readonly max_open_files: number;
  readonly max_unsaved_events: number;
  readonly path_fields?: string | readonly string[];
  readonly add_metadata: 'none' | 'ecs';
  readonly multiline?: MultilineOptions;
}

export interface GzState {
  iter: AsyncIterator<Buffer> | undefined;
  destroy: (() => void) | undefined;
  /** Decompressed bytes produced by the current stream (bytes below `pos` are dropped after a retry). */
  produced: number;
  ended: boolean;
  /** Set after the stream failed on an incomplete file: when, and the file size then. */
  failedAt: number;
  failedSize: number;
}

export interface Reader {
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


/** The loop and the state every room shares (file-source.ts). */
export interface Tail {
  readonly cfg: FileSourceConfig;
  readonly ctx: SourceContext;
  /** Followed files by `dev:ino`. */
  readonly readers: Map<string, Reader>;
  /** The same readers by current path, for notifications that name a file. */
  readonly byPath: Map<string, Reader>;
  readonly readBuf: Buffer;
  /** For head comparisons (reopened files, copies). */
  readonly scratch: Buffer;
  readonly intake: Intake;
  readonly c: FileCounters;
  wakePending: boolean;
  rescanSoon: boolean;
  firstScan: boolean;
  readonly checkpoints: CheckpointRoom;
  readonly discovery: DiscoveryRoom;
  readonly handles: HandleRoom;
  readonly recovery: RecoveryRoom;
  readonly reading: ReadingRoom;
  /** Wakes the loop (new data, an acknowledgement that lets a checkpoint be written). */
  poke(): void;
  sleep(ms: number): Promise<void>;
  newReader(id: string, path: string, atStart: boolean, startHint: number): Reader;
  moved(r: Reader, path: string): void;
}

export interface FileCounters {
  readonly truncations: Counter;
  readonly files: Counter;
  readonly bytes: Counter;
  readonly lost: Counter;
  readonly recovered: Counter;
  readonly saves: Counter;
  readonly saveErrors: Counter;
  readonly denied: Counter;
}

/** checkpoint-pacing.ts */
export interface CheckpointRoom {
  readonly checkpoint: CheckpointFile;
  dirty: boolean;
  lastWrite: number;
  outstanding: number;
  coveredSinceSave: number;
  readonly saving: Promise<void> | undefined;
  readonly maxUnsaved: number;
  update(r: Reader): void;
  forget(id: string): void;
  maybeSave(): void;
  saveSoon(): void;
  saveNow(): void;
  gate(): Promise<void>;
  failed(op: 'read' | 'write', e: unknown): void;
}

/** discovery.ts */
export interface DiscoveryRoom {
  readonly quiet: Map<string, { size: number; mtime: number }>;
  scan(): Promise<void>;
  findById(dir: string, id: string): Promise<string | undefined>;
  watchDir(dir: string): void;
  close(): void;
}

/** handles.ts */
export interface HandleRoom {
  openCount: number;
  readonly waiting: number;
  enqueue(r: Reader): void;
  unqueueLast(): void;
  schedule(): Promise<void>;
  park(r: Reader): Promise<void>;
  release(r: Reader): Promise<void>;
  finish(r: Reader, forget?: boolean): Promise<void>;
  drop(r: Reader): void;
  forget(r: Reader): void;
  lostWhileClosed(r: Reader): void;
}

/** recovery.ts */
export interface RecoveryRoom {
  restartAt(r: Reader, offset: number): void;
  truncated(r: Reader, size: number): Promise<void>;
  findCopy(dir: string, id: string, headLen: number, head: Buffer | string, from: number): Promise<[string, string, FileHandle] | undefined>;
  readCopy(copy: [string, string, FileHandle], head: Buffer, headLen: number, from: number): void;
  readCopyAt(copy: [string, string, FileHandle], headLen: number, from: number): Promise<void>;
}

/** reader.ts */
export interface ReadingRoom {
  readOnce(r: Reader): Promise<boolean>;
  headStill(r: Reader): Promise<boolean>;
}
