/**
 * The protocol of the local sinks: encode a batch as lines, append them to a file descriptor in one
 * write. Everything else (batching, the buffer, retries with backoff, dead letters, stop deadline) is
 * the delivery kit's, as for every sink.
 *
 * A write that fails (disk full, file too large, closed pipe) is cut back to the last whole line with
 * `ftruncate` on a regular file, reported (rate-limited, with the path and errno) and retried by the
 * kit with backoff: the events stay unacknowledged, nothing spins, and no torn half line is left for
 * the retry to glue onto. At open, a torn last line left by a crash is truncated the same way. Writes
 * go through libuv's thread pool (`fs.write`), so a slow reader on the other end of a pipe blocks a
 * pool thread, never the event loop; the request timeout never abandons a write that is still
 * running (a write cannot be undone), the stop deadline does.
 */
import { closeSync, fstatSync, fsync, ftruncate, readSync, ftruncateSync, write } from 'node:fs';
import type { Counter, EncodedRequest, LogEvent, LogLimiter, Payload, SendResult, SinkProtocol } from '@tern/core';
import { BodyWriter } from '@tern/core';

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

const promisified = <A extends unknown[]>(f: (...a: [...A, (e: NodeJS.ErrnoException | null) => void]) => void) => (...a: A): Promise<void> =>
  new Promise<void>((res, rej) => f(...a, (e) => (e ? rej(e) : res())));
const fsyncP = promisified<[number]>(fsync);
const ftruncateP = promisified<[number, number]>(ftruncate);

export interface LinesRequest extends EncodedRequest {
  readonly body: Buffer;
}

export interface FdProtocolOptions {
  readonly fd: number;
  /** For messages: the path, or `stdout`/`stderr`. */
  readonly name: string;
  readonly encoding: Encoding;
  readonly fsync: boolean;
  /** True for a regular file: failed writes are cut back with ftruncate. */
  readonly truncatable: boolean;
  readonly limiter: LogLimiter;
  readonly writeErrors: Counter;
  readonly close?: boolean;
}

/** Appends batches as lines to a file descriptor. */
export class FdProtocol implements SinkProtocol<LinesRequest> {
  private readonly o: FdProtocolOptions;
  /** Bytes of whole lines in a regular file (where the next write starts). */
  private size: number;

  constructor(o: FdProtocolOptions) {
    this.o = o;
    this.size = o.truncatable ? fstatSync(o.fd).size : 0;
  }

  encode(events: readonly LogEvent[]): LinesRequest {
    let hint = 0;
    for (const ev of events) hint += ev.size + 1;
    const w = new BodyWriter(hint);
    for (const ev of events) {
      w.write(encodeEvent(ev, this.o.encoding));
      w.write('\n');
    }
    return { body: w.toBuffer() };
  }

  async send(req: LinesRequest, _payload: Payload): Promise<SendResult> {
    const before = this.size;
    try {
      await writeAll(this.o.fd, req.body);
      if (this.o.fsync) await fsyncP(this.o.fd);
      this.size = before + req.body.length;
      return { kind: 'ok' };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.o.writeErrors.inc();
      let cut = '';
      if (this.o.truncatable) {
        try {
          await ftruncateP(this.o.fd, before);
          cut = `; cut back to the last whole line at byte ${before}`;
        } catch (te) {
          cut = `; could not cut back the partial write (${(te as NodeJS.ErrnoException).code ?? (te as Error).message})`;
        }
      }
      this.o.limiter.log(
        'error',
        `write:${e.code ?? 'error'}`,
        { code: 'TERN_ERR_WRITE', errno: e.code, file: this.o.name, err },
        `cannot write to ${this.o.name} (${e.code ?? e.message})${cut}; the events are kept and the write is retried with backoff`,
      );
      return { kind: 'retry', reason: `${e.code ?? 'write error'}: ${e.message}` };
    }
  }

  close(): Promise<void> {
    if (this.o.close) closeSync(this.o.fd);
    return Promise.resolve();
  }
}

/**
 * A regular file that does not end with a newline was cut mid-line (a crash or a full disk during a
 * write): truncate it back to the last whole line, so the replay does not glue onto half a line.
 * Returns the removed byte range, if any.
 */
export function truncateTornTail(fd: number): { from: number; to: number } | undefined {
  const size = fstatSync(fd).size;
  if (size === 0) return undefined;
  const one = Buffer.alloc(1);
  readSync(fd, one, 0, 1, size - 1);
  if (one[0] === 0x0a) return undefined;
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const i = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (i >= 0) {
      const keep = start + i + 1;
      ftruncateSync(fd, keep);
      return { from: keep, to: size };
    }
    end = start;
  }
  ftruncateSync(fd, 0);
  return { from: 0, to: size };
}
