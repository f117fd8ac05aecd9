/**
 * Splits a byte stream into lines, tracking the byte offset of each line. Shared by every source
 * that reads newline-delimited input (file, stdin, later the HTTP receiver).
 *
 * Lines end at `\n`; a `\r` before it is dropped. A line longer than `maxLineBytes` is not kept in
 * memory: its bytes are skipped up to the next newline and reported once through `onOversize`, and
 * the lines around it are unaffected. A final line without a newline stays pending (a writer may
 * still be appending to it) until `flush()` is called at end of input.
 */

export interface LineHandler {
  /** One complete line; `offset` is the byte position of its first byte, `end` the position after its newline. */
  line(text: string, offset: number, end: number): void;
  /** A line that exceeded the limit was skipped (`length` bytes so far, or in total when known). */
  oversize(offset: number, length: number): void;
}

export class LineSplitter {
  private pending: Buffer | undefined;
  /** Byte offset of `pending[0]` (or of the next byte when nothing is pending). */
  private pendingOffset: number;
  private skipping = false;
  private skipStart = 0;
  private readonly maxLineBytes: number;
  private readonly handler: LineHandler;

  constructor(handler: LineHandler, maxLineBytes: number, startOffset = 0) {
    this.handler = handler;
    this.maxLineBytes = maxLineBytes;
    this.pendingOffset = startOffset;
  }

  /** Offset just after the last complete line delivered (where a reader may safely resume). */
  get committedOffset(): number {
    return this.skipping ? this.skipStart : this.pendingOffset;
  }

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.pending?.length ?? 0;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    let base = this.pendingOffset;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    } else if (this.skipping) {
      base = this.pendingOffset;
    }
    let pos = 0;
    const len = buf.length;
    const h = this.handler;
    if (this.skipping) {
      const nl = buf.indexOf(10, 0);
      if (nl === -1) {
        this.pendingOffset = base + len;
        return;
      }
      h.oversize(this.skipStart, base + nl - this.skipStart);
      this.skipping = false;
      pos = nl + 1;
    }
    while (pos < len) {
      const nl = buf.indexOf(10, pos);
      if (nl === -1) break;
      const lineLen = nl - pos;
      if (lineLen > this.maxLineBytes) {
        h.oversize(base + pos, lineLen);
      } else {
        const end = lineLen > 0 && buf[nl - 1] === 13 ? nl - 1 : nl;
        h.line(buf.toString('utf8', pos, end), base + pos, base + nl + 1);
      }
      pos = nl + 1;
    }
    const rest = len - pos;
    if (rest > this.maxLineBytes) {
      this.skipping = true;
      this.skipStart = base + pos;
      this.pendingOffset = base + len;
    } else {
      this.pendingOffset = base + pos;
      // Copied: the caller may reuse its read buffer for the next chunk.
      if (rest > 0) this.pending = Buffer.from(buf.subarray(pos));
    }
  }

  /** End of input: a last line without newline is delivered. */
  flush(): void {
    if (this.skipping) {
      this.handler.oversize(this.skipStart, this.pendingOffset - this.skipStart);
      this.skipping = false;
      return;
    }
    const p = this.pending;
    if (p && p.length) {
      const end = p[p.length - 1] === 13 ? p.length - 1 : p.length;
      this.handler.line(p.toString('utf8', 0, end), this.pendingOffset, this.pendingOffset + p.length);
      this.pendingOffset += p.length;
    }
    this.pending = undefined;
  }

  /** Forgets any partial line and restarts at `offset` (after truncation). */
  reset(offset: number): void {
    this.pending = undefined;
    this.skipping = false;
    this.pendingOffset = offset;
  }
}
