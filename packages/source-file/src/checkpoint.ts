/**
 * Checkpoints: for every file a source reads, the byte offset up to which every line has been
 * acknowledged by every sink that received it. Stored per source in
 * `<data_dir>/checkpoints/<source id>.json`, written atomically (write a temporary file, fsync it,
 * rename it over the old one, fsync the directory), so a crash at any moment leaves either the old
 * or the new checkpoint, never a torn one. The running source writes asynchronously (the thread
 * pool does the fsyncs, the event loop keeps reading); the last write at shutdown is synchronous.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDataDir, TernError, type WhenFull } from '@tern/core';

export interface FileCheckpoint {
  /** Last path the file was seen at. */
  path: string;
  /** Next byte to read (of the decompressed stream for `.gz`): every line before it was acknowledged. */
  offset: number;
  /** sha1 of the first `head_len` bytes: tells a reused inode from the same file. */
  head_hash: string;
  head_len: number;
  /** Epoch ms of the last update. */
  updated: number;
  /** A `.gz` file read to its end and fully acknowledged: never read again. */
  done?: boolean;
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

  /**
   * Proves, at start-up, that checkpoints can be written here (the directory is created 0750 and a
   * file written and synced in it): throws `TERN_ERR_DATA_DIR` naming the directory, the errno and
   * the fix. Without it a `checkpoints/` tern may not write (another user's, read-only) is found only
   * at the first checkpoint, after every file was read and sent again from its start. A full file
   * system with disk buffers to drain goes to `whenFull` instead (see ensureDataDir): checkpoint
   * writes are then retried while running.
   */
  probe(whenFull?: WhenFull): void {
    ensureDataDir(this.dir, 'checkpoint directory', 'checkpoints cannot be saved and a restart would send again what was read since the last one', whenFull);
  }

  /**
   * The stored checkpoint, or an empty one when there is none yet. A checkpoint file that exists but
   * cannot be read (permissions, I/O) is `TERN_ERR_DATA_DIR`: starting without it would send every
   * file again from its start. One that is read but not a checkpoint (damaged) is reported through
   * `onError` before starting empty (duplicates, never loss), which must not go unsaid.
   */
  load(onError?: (e: unknown) => void): CheckpointFile {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { version: 1, files: {} };
      throw new TernError(
        'TERN_ERR_DATA_DIR',
        `cannot read checkpoint ${this.path} (${code ?? (e as Error).message}); starting without it would send every file again from its start. Fix: make data_dir readable and writable by tern's user`,
        { cause: e },
      );
    }
    try {
      const parsed = JSON.parse(text) as CheckpointFile;
      if (parsed && parsed.version === 1 && parsed.files && typeof parsed.files === 'object') return parsed;
      onError?.(new Error('not a checkpoint file'));
    } catch (e) {
      onError?.(e);
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

  /** Same as `save`, off the event loop. `text` is serialised by the caller at the moment it describes. Callers never run two at once. */
  async saveAsync(text: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    try {
      const dh = await open(this.dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      /* directories cannot be fsynced on every platform */
    }
  }
}

interface Entry {
  end: number;
  events: number;
  done: boolean;
  gen: number;
}

/**
 * Tracks batches of one file that are in flight, in read order, and computes the checkpoint: the
 * end of the longest prefix of batches that are all acknowledged. Batches complete out of order
 * (several sinks, concurrent requests); the checkpoint never passes an unacknowledged batch.
 * It also counts events, so the source knows how many a crash would make it send again.
 */
export class AckTracker {
  private readonly queue: Entry[] = [];
  private head = 0;
  private gen = 0;
  committed: number;

  constructor(offset: number) {
    this.committed = offset;
  }

  get inFlight(): number {
    return this.queue.length - this.head;
  }

  /**
   * Registers a batch of `events` events ending at `end`; returns the callback to run when it is
   * acknowledged, which returns how many events the checkpoint moved over (0 while an earlier batch
   * is still out, or for a batch from before a `reset`).
   */
  track(end: number, events = 0): () => number {
    const entry: Entry = { end, events, done: false, gen: this.gen };
    this.queue.push(entry);
    return () => {
      if (entry.gen !== this.gen || entry.done) return 0;
      entry.done = true;
      let covered = 0;
      while (this.head < this.queue.length && (this.queue[this.head] as Entry).done) {
        const e = this.queue[this.head] as Entry;
        this.committed = e.end;
        covered += e.events;
        this.head++;
      }
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      return covered;
    };
  }

  /** The file was truncated: forget batches of the old content and restart at `offset`. Returns the events those batches held. */
  reset(offset: number): number {
    let dropped = 0;
    for (let i = this.head; i < this.queue.length; i++) dropped += (this.queue[i] as Entry).events;
    this.gen++;
    this.queue.length = 0;
    this.head = 0;
    this.committed = offset;
    return dropped;
  }
}
