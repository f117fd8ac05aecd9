/**
 * Reading a disk buffer's files without the buffer's state: walking a segment's record headers (its
 * events, the end of its last whole record, a torn tail after it), counting the events between two
 * offsets, finding the next valid record after damage (marker, sane length, matching CRC), and reading
 * the ledger (the position of the first record not yet acknowledged).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HEADER_BYTES, MAX_PAYLOAD, readHeader, recordCrc } from './record.ts';

export interface SegmentScan {
  /** Events in the segment's whole records. */
  readonly events: number;
  /** End of the last whole record: the segment's valid end. */
  readonly validEnd: number;
  readonly fileBytes: number;
  /** Where a torn tail starts (bytes after the last whole record), if there is one. */
  readonly tornAt?: number;
}

/** Walks a segment's record headers. Damage in the middle is skipped here and reported by the reader. */
export async function scanSegment(path: string): Promise<SegmentScan> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(HEADER_BYTES);
    let off = 0;
    let events = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(head, 0, HEADER_BYTES, off);
      const h = bytesRead === HEADER_BYTES ? readHeader(head, 0) : undefined;
      if (h === undefined || h.length > MAX_PAYLOAD || off + HEADER_BYTES + h.length > size) {
        // Either a torn tail (cut mid-record) or damage: the reader resynchronises on damage it meets
        // inside the valid end; bytes after the last whole record are a torn tail.
        const resume = await findNext(fh, off + 1, size);
        if (resume < 0) return { events, validEnd: off, fileBytes: size, tornAt: off };
        off = resume;
        continue;
      }
      events += h.events;
      off += HEADER_BYTES + h.length;
    }
    return { events, validEnd: off, fileBytes: size };
  } finally {
    await fh.close();
  }
}

/** Events in the records between two offsets of a segment (headers only). */
export async function countEvents(path: string, from: number, to: number): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    let off = from;
    let n = 0;
    while (off < to) {
      const { bytesRead } = await fh.read(head, 0, HEADER_BYTES, off);
      const h = bytesRead === HEADER_BYTES ? readHeader(head, 0) : undefined;
      if (h === undefined) break;
      n += h.events;
      off += HEADER_BYTES + h.length;
    }
    return n;
  } finally {
    await fh.close();
  }
}

/** Offset of the next valid record (marker, sane length, matching CRC) at or after `from`, or -1. */
export async function findNext(fh: FileHandle, from: number, end: number): Promise<number> {
  if (from >= end) return -1;
  const rest = Buffer.alloc(end - from);
  await fh.read(rest, 0, rest.length, from);
  for (let i = rest.indexOf('TERN', 0, 'latin1'); i >= 0; i = rest.indexOf('TERN', i + 1, 'latin1')) {
    const h = readHeader(rest, i);
    if (h === undefined || h.length > MAX_PAYLOAD || i + HEADER_BYTES + h.length > rest.length) continue;
    if (recordCrc(h.events, rest.subarray(i + HEADER_BYTES, i + HEADER_BYTES + h.length)) === h.crc) return from + i;
  }
  return -1;
}

/** The saved read position, or undefined (first start, or a damaged ledger: replay all, duplicates not loss). */
export function readLedger(dir: string): { seq: number; offset: number } | undefined {
  try {
    const l = JSON.parse(readFileSync(join(dir, 'ledger.json'), 'utf8')) as { seq?: unknown; offset?: unknown };
    if (typeof l.seq === 'number' && typeof l.offset === 'number') return { seq: l.seq, offset: l.offset };
  } catch {
    // no ledger
  }
  return undefined;
}

/**
 * Whether the disk buffer in `dir` holds records not yet acknowledged, by its ledger (the first
 * record not acknowledged, written every second, so it can only overstate): a segment after the
 * ledger's with bytes, or the ledger's own with bytes past its offset. No ledger: any bytes.
 */
export function bufferHoldsEvents(dir: string): boolean {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return false;
  }
  const ledger = readLedger(dir);
  for (const n of names) {
    const m = /^(\d{12})\.seg$/.exec(n);
    if (m === null) continue;
    let size: number;
    try {
      size = statSync(join(dir, n)).size;
    } catch {
      continue; // removed meanwhile
    }
    const seq = Number(m[1]);
    if (ledger === undefined ? size > 0 : seq > ledger.seq ? size > 0 : seq === ledger.seq && size > ledger.offset) return true;
  }
  return false;
}
