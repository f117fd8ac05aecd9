/**
 * Reading a request body within limits: the bytes on the wire are counted as they arrive and
 * reading stops past `max_body_bytes` (nothing larger is ever held); a gzip or deflate body is
 * decompressed on the thread pool with the same limit on its output, so a small compressed body
 * cannot expand into gigabytes.
 */
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

export type BodyResult =
  | { readonly ok: true; readonly body: Buffer; readonly wireBytes: number }
  | { readonly ok: false; readonly status: 400 | 413 | 415; readonly message: string }
  /** The client went away (or the request was aborted) before the body was read. */
  | { readonly ok: false; readonly status: 0; readonly message: string };

/** Content-Encodings the source decodes. */
export const ENCODINGS = new Set(['identity', 'gzip', 'x-gzip', 'deflate']);

export async function readBody(req: IncomingMessage, maxBytes: number, encoding: string): Promise<BodyResult> {
  const raw = await new Promise<Buffer | BodyResult>((resolve) => {
    const chunks: Buffer[] = [];
    let wire = 0;
    const finish = (r: Buffer | BodyResult): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      wire += chunk.length;
      if (wire <= maxBytes) chunks.push(chunk);
      else {
        // Stop reading (not destroy: the 413 still has to be written); the connection is closed after it.
        req.pause();
        finish({ ok: false, status: 413, message: `body larger than max_body_bytes (${maxBytes} bytes)` });
      }
    };
    const onEnd = (): void => finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, wire));
    const onError = (e: Error): void => finish({ ok: false, status: 0, message: e.message });
    const onClose = (): void => {
      if (!req.complete) finish({ ok: false, status: 0, message: 'client closed the connection before the body was sent' });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
  if (!Buffer.isBuffer(raw)) return raw;
  if (encoding === 'identity') return { ok: true, body: raw, wireBytes: raw.length };
  try {
    // One byte over the limit is enough to know the body is too large.
    const opts = { maxOutputLength: maxBytes + 1 };
    const body = encoding === 'deflate' ? await inflate(raw, opts) : await gunzip(raw, opts);
    if (body.length > maxBytes) return { ok: false, status: 413, message: `body larger than max_body_bytes (${maxBytes} bytes) once decompressed` };
    return { ok: true, body, wireBytes: raw.length };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, status: 413, message: `body larger than max_body_bytes (${maxBytes} bytes) once decompressed` };
    return { ok: false, status: 400, message: `body is not valid ${encoding}: ${(e as Error).message}` };
  }
}
