/**
 * Builds a request body straight into one Buffer. Concatenating strings looks free but costs three
 * passes over every byte later: flattening the rope, measuring its UTF-8 length, and converting it to
 * bytes for the socket. Writing each piece once into a growing Buffer is one pass, and the kit and
 * the HTTP client send the Buffer as it is.
 */

export class BodyWriter {
  private buf: Buffer;
  private len = 0;

  /** `sizeHint`: expected body bytes (for example the sum of the events' raw sizes plus framing). */
  constructor(sizeHint = 65_536) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, sizeHint));
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
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** The body written so far (a view: do not write after taking it). */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
