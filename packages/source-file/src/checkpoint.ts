/**
 * Checkpoints: for every file a source reads, the byte offset up to which every line has been
 * acknowledged by every sink that received it. Stored per source in
 * `<data_dir>/checkpoints/<source id>.json`, written atomically (write a temporary file, fsync it,
 * rename it over the old one, fsync the directory), so a crash at any moment leaves either the old
 * or the new checkpoint, never a torn one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface FileCheckpoint {
  /** Last path the file was seen at. */
  path: string;
  /** Next byte to read: every line before it was acknowledged. */
  offset: number;
  /** Hash of the first `head_len` bytes: tells a reused inode from the same file. */
  head_hash: string;
  head_len: number;
  /** Epoch ms of the last update. */
  updated: number;
}

export interface CheckpointFile {
  version: 1;
  files: Record<string, FileCheckpoint>;
}

export class CheckpointStore {
  readonly path: string;
  private readonly dir: string;

  constructor(dataDir: string, sourceId: string) {
    this.dir = join(dataDir, 'checkpoints');
    this.path = join(this.dir, `${sourceId}.json`);
  }

  load(): CheckpointFile {
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as CheckpointFile;
      if (parsed && parsed.version === 1 && parsed.files && typeof parsed.files === 'object') return parsed;
    } catch {
      /* none yet, or unreadable: start fresh */
    }
    return { version: 1, files: {} };
  }

  save(cp: CheckpointFile): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(cp));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    try {
      const dfd = openSync(this.dir, 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch {
      /* directories cannot be fsynced on every platform */
    }
  }
}

/**
 * Tracks batches of one file that are in flight, in read order, and computes the checkpoint: the
 * end of the longest prefix of batches that are all acknowledged. Batches complete out of order
 * (several sinks, concurrent requests); the checkpoint never passes an unacknowledged batch.
 */
export class AckTracker {
  private readonly queue: Array<{ end: number; done: boolean; gen: number }> = [];
  private head = 0;
  private gen = 0;
  committed: number;

  constructor(offset: number) {
    this.committed = offset;
  }

  get inFlight(): number {
    return this.queue.length - this.head;
  }

  /** Registers a batch ending at `end`; returns the callback to run when it is acknowledged. */
  track(end: number): () => void {
    const entry = { end, done: false, gen: this.gen };
    this.queue.push(entry);
    return () => {
      if (entry.gen !== this.gen) return;
      entry.done = true;
      while (this.head < this.queue.length && (this.queue[this.head] as { done: boolean }).done) {
        this.committed = (this.queue[this.head] as { end: number }).end;
        this.head++;
      }
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
    };
  }

  /** The file was truncated: forget batches of the old content and restart at `offset`. */
  reset(offset: number): void {
    this.gen++;
    this.queue.length = 0;
    this.head = 0;
    this.committed = offset;
  }
}
