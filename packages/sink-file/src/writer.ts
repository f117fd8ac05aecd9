/**
 * Writes batches to a file descriptor in order and acknowledges each batch once its bytes were
 * handed to the kernel. Everything queued while a write is running goes out in the next write, so
 * a busy pipeline makes few, large writes. Writes go through libuv's thread pool (`fs.write`), so a
 * slow reader on the other end of a pipe blocks a pool thread, never the event loop; the queue stays
 * bounded because the pipeline's in-flight budget stops the sources meanwhile.
 */
import { fsync, write } from 'node:fs';
import type { Batch, Counter, LogEvent } from '@tern/core';

export type Encoding = 'json' | 'text' | 'pretty';

export function encodeEvent(ev: LogEvent, encoding: Encoding): string {
  switch (encoding) {
    case 'json':
      return ev.toJson();
    case 'text':
      if (!ev.modified && ev.raw !== undefined) return ev.raw;
      return typeof ev.data.message === 'string' ? ev.data.message : ev.toJson();
    case 'pretty':
      return JSON.stringify(ev.data, null, 2);
  }
}

function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let off = 0;
    const step = (): void => {
      write(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
            setTimeout(step, 5);
            return;
          }
          reject(err);
          return;
        }
        off += n;
        if (off < buf.length) step();
        else resolve();
      });
    };
    step();
  });
}

export interface WriterCounters {
  eventsIn: Counter;
  delivered: Counter;
  bytes: Counter;
  errors: Counter;
}

export class BatchWriter {
  private queue: Batch[] = [];
  private running: Promise<void> | undefined;
  private readonly fd: () => number;
  private readonly encoding: Encoding;
  private readonly doFsync: boolean;
  private readonly counters: WriterCounters;
  private readonly onError: (err: unknown) => void;
  private failed = false;

  constructor(opts: { fd: () => number; encoding: Encoding; fsync: boolean; counters: WriterCounters; onError: (err: unknown) => void }) {
    this.fd = opts.fd;
    this.encoding = opts.encoding;
    this.doFsync = opts.fsync;
    this.counters = opts.counters;
    this.onError = opts.onError;
  }

  push(batch: Batch): void {
    this.counters.eventsIn.inc(batch.events.length);
    this.queue.push(batch);
    this.running ??= this.drain();
  }

  /** Resolves once everything pushed so far is written (or the deadline passed). */
  async flush(deadline: AbortSignal): Promise<void> {
    while (this.running && !deadline.aborted) {
      await Promise.race([this.running, new Promise((r) => deadline.addEventListener('abort', r, { once: true }))]);
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.failed) {
      const batches = this.queue;
      this.queue = [];
      const parts: string[] = [];
      let n = 0;
      for (const b of batches) {
        for (const ev of b.events) parts.push(encodeEvent(ev, this.encoding));
        n += b.events.length;
      }
      parts.push('');
      const buf = Buffer.from(parts.join('\n'), 'utf8');
      try {
        await writeAll(this.fd(), buf);
        if (this.doFsync) await new Promise<void>((res, rej) => fsync(this.fd(), (e) => (e ? rej(e) : res())));
      } catch (e) {
        // The destination is broken (disk full, closed pipe): keep the acks unreleased so the
        // events are read again after a restart, and say so once.
        this.failed = true;
        this.counters.errors.inc();
        this.onError(e);
        break;
      }
      this.counters.bytes.inc(buf.length);
      this.counters.delivered.inc(n);
      for (const b of batches) b.ack.release('delivered');
    }
    this.running = undefined;
  }
}
