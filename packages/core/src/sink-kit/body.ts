/**
 * Builds a request body straight into one Buffer. Concatenating strings looks free but costs three
 * passes over every byte later: flattening the rope, measuring its UTF-8 length, and converting it to
 * bytes for the socket. Writing each piece once into a growing Buffer is one pass, and the kit and
 * the HTTP client send the Buffer as it is.
 */

// Bodies are about a batch's size (a megabyte or more) and live for one request. Left to the garbage
// collector, their memory is freed only at V8's next full collection, and in between malloc holds
// tens of megabytes of dead bodies. The kit hands a body back once it is done with it (`recycleBody`)
// and the next writer reuses it. The pool holds at most POOL_MAX_BYTES in all, and a writer gets a
// pooled buffer only if it is at most four times what it asked for.
const POOL_MAX_BYTES = 16 * 1024 * 1024;
const pool: ArrayBuffer[] = [];
let pooledBytes = 0;
const ours = new WeakSet<ArrayBuffer>();

function take(min: number): Buffer {
  for (let i = pool.length - 1; i >= 0; i--) {
    const ab = pool[i] as ArrayBuffer;
    if (ab.byteLength >= min && ab.byteLength <= min * 4) {
      pool.splice(i, 1);
      pooledBytes -= ab.byteLength;
      return Buffer.from(ab);
    }
  }
  const b = Buffer.allocUnsafeSlow(min); // its own ArrayBuffer (not a slice of Node's shared pool)
  ours.add(b.buffer as ArrayBuffer);
  return b;
}

/**
 * Returns a body a `BodyWriter` made, once nothing reads it any more (compressed, or sent and answered),
 * so the next writer reuses its memory. Anything else is ignored.
 */
export function recycleBody(body: Buffer | string): void {
  if (typeof body === 'string' || body.byteOffset !== 0) return;
  const ab = body.buffer as ArrayBuffer;
  if (!ours.has(ab) || ab.byteLength > POOL_MAX_BYTES || pool.includes(ab)) return;
  while (pooledBytes + ab.byteLength > POOL_MAX_BYTES) pooledBytes -= (pool.shift() as ArrayBuffer).byteLength;
  pool.push(ab);
  pooledBytes += ab.byteLength;
}

export class BodyWriter {
  private buf: Buffer;
  private len = 0;

  /** `sizeHint`: expected body bytes (for example the sum of the events' raw sizes plus framing). */
  constructor(sizeHint = 65_536) {
    this.buf = take(Math.max(1024, sizeHint));
  }

  get length(): number {
    return this.len;
  }

  write(s: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8; reserve that so `write` never truncates.
    const worst = s.length * 3;
    if (this.len + worst > this.buf.length) this.grow(this.len + worst);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  private grow(need: number): void {
    const next = take(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.len);
    recycleBody(this.buf);
    this.buf = next;
  }

  /** The body written so far (a view: do not write after taking it). */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
