/**
 * The disk buffer's record format: one record per closed batch (one future request).
 *
 *   magic u32 'TERN' │ length u32 │ crc32 u32 │ events u32 │ payload (length bytes)
 *
 * All little-endian. The CRC (zlib's crc32) covers the event count and the payload, so a torn or
 * flipped byte anywhere is caught; the magic lets a reader find the next record after a corrupt
 * one. The payload is UTF-8: one JSON header line (partition, origins, and per event its origin,
 * offset, format and text length), then the events' texts back to back. Texts are the events' JSON
 * (or original line), never re-parsed to be written, and read back as lines to parse lazily.
 */
import { crc32 } from 'node:zlib';
import { LogEvent, type EventOrigin, type RawFormat } from '../event/event.ts';

export const MAGIC = 0x4e524554; // bytes "TERN"
export const HEADER_BYTES = 16;
/** A length above this is corruption, not a record (a closed batch is a request of at most ~100 MB). */
export const MAX_PAYLOAD = 512 * 1024 * 1024;

export interface RecordHeader {
  readonly length: number;
  readonly crc: number;
  readonly events: number;
}

/** Reads a header at `off`; undefined when the magic is not there. */
export function readHeader(buf: Buffer, off: number): RecordHeader | undefined {
  if (buf.length - off < HEADER_BYTES || buf.readUInt32LE(off) !== MAGIC) return undefined;
  return { length: buf.readUInt32LE(off + 4), crc: buf.readUInt32LE(off + 8), events: buf.readUInt32LE(off + 12) };
}

/** The CRC of a record: over its event count and payload. */
export function recordCrc(events: number, payload: Buffer): number {
  const n = Buffer.allocUnsafe(4);
  n.writeUInt32LE(events, 0);
  return crc32(payload, crc32(n));
}

/** One event as stored: its text and how to read it back. */
export interface StoredEvent {
  readonly origin: EventOrigin;
  readonly offset: number;
  readonly format: RawFormat;
  readonly text: string;
}

type OriginTuple = [string, string, string, string | null, Readonly<Record<string, string>> | null];

/** Encodes a batch as one record (header + payload). */
export function encodeRecord(partition: string, events: readonly StoredEvent[]): Buffer {
  const origins: OriginTuple[] = [];
  const originIndex = new Map<EventOrigin, number>();
  const meta: number[] = new Array<number>(events.length * 4);
  let texts = '';
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as StoredEvent;
    let oi = originIndex.get(e.origin);
    if (oi === undefined) {
      oi = origins.length;
      originIndex.set(e.origin, oi);
      origins.push([e.origin.sourceId, e.origin.path, e.origin.host, e.origin.fileId ?? null, e.origin.fields ?? null]);
    }
    meta[i * 4] = oi;
    meta[i * 4 + 1] = e.offset;
    meta[i * 4 + 2] = e.format === 'json' ? 0 : 1;
    meta[i * 4 + 3] = e.text.length;
    texts += e.text;
  }
  const head = JSON.stringify({ p: partition, o: origins, e: meta });
  const payloadLen = Buffer.byteLength(head) + 1 + Buffer.byteLength(texts);
  const out = Buffer.allocUnsafe(HEADER_BYTES + payloadLen);
  let w = HEADER_BYTES;
  w += out.write(head, w, 'utf8');
  out[w++] = 0x0a;
  out.write(texts, w, 'utf8');
  const payload = out.subarray(HEADER_BYTES);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(payloadLen, 4);
  out.writeUInt32LE(recordCrc(events.length, payload), 8);
  out.writeUInt32LE(events.length, 12);
  return out;
}

/** Origins rebuilt from records, shared across records (bounded). */
export class OriginCache {
  private readonly map = new Map<string, EventOrigin>();
  get(t: OriginTuple): EventOrigin {
    const key = JSON.stringify(t);
    let o = this.map.get(key);
    if (o === undefined) {
      o = Object.freeze({ sourceId: t[0], path: t[1], host: t[2], ...(t[3] !== null ? { fileId: t[3] } : {}), ...(t[4] !== null ? { fields: t[4] } : {}) });
      if (this.map.size >= 10_000) this.map.clear();
      this.map.set(key, o);
    }
    return o;
  }
}

/** Decodes a payload (already checked against its CRC) into its partition and events. Throws on a malformed payload. */
export function decodePayload(payload: Buffer, count: number, origins: OriginCache): { partition: string; events: LogEvent[] } {
  const s = payload.toString('utf8');
  const nl = s.indexOf('\n');
  if (nl < 0) throw new Error('record payload has no header line');
  const h = JSON.parse(s.slice(0, nl)) as { p: string; o: OriginTuple[]; e: number[] };
  if (typeof h.p !== 'string' || !Array.isArray(h.o) || !Array.isArray(h.e) || h.e.length !== count * 4) throw new Error('record header does not match its event count');
  const out: LogEvent[] = new Array<LogEvent>(count);
  let pos = nl + 1;
  for (let i = 0; i < count; i++) {
    const t = h.o[h.e[i * 4] as number];
    if (t === undefined) throw new Error('record names an unknown origin');
    const len = h.e[i * 4 + 3] as number;
    const text = s.slice(pos, pos + len);
    pos += len;
    out[i] = new LogEvent(origins.get(t), text, h.e[i * 4 + 2] === 0 ? 'json' : 'text', undefined, h.e[i * 4 + 1] as number);
  }
  if (pos !== s.length) throw new Error('record payload length does not match its events');
  return { partition: h.p, events: out };
}
