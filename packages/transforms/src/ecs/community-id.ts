/**
 * Community ID flow hashing (v1, https://github.com/corelight/community-id-spec), as Elasticsearch's
 * `community_id` ingest processor computes it for the Zeek pipelines: SHA-1 over seed, the ordered
 * address/port pair, the IP protocol number and a pad byte, base64, prefixed with `1:`. ICMP uses
 * type/code as ports with the spec's request/reply equivalences, so both directions of an echo
 * share one id. The IP parser is hand-written (no regex, no URL parsing) because it runs per flow.
 */
import { createHash } from 'node:crypto';

const PROTO: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, gre: 47, 'ipv6-icmp': 58, icmp6: 58, sctp: 132 };
const HEX = /^[0-9a-fA-F]+$/;
const ICMP4_EQUIV: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17 };
const ICMP6_EQUIV: Record<number, number> = { 128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 144: 145, 145: 144 };

/** IANA protocol number of a transport name (`tcp` → 6). */
export function protocolNumber(transport: string): number | undefined {
  return PROTO[transport.toLowerCase()];
}

/**
 * Community ID of a flow, or undefined when it cannot be computed (bad address, port 0 or out of
 * range for port-based protocols — Elastic's output has no id for port-0 TCP flows).
 * For ICMP, pass the type as `sport` and the code as `dport`.
 */
export function communityId(saddr: string, daddr: string, proto: number, sport: number, dport: number, seed = 0): string | undefined {
  const s = ipBytes(saddr);
  const d = ipBytes(daddr);
  if (s === undefined || d === undefined || s.length !== d.length) return undefined;
  let sp = sport;
  let dp = dport;
  let oneWay = false;
  if (proto === 1 || proto === 58) {
    const eq = (proto === 1 ? ICMP4_EQUIV : ICMP6_EQUIV)[sp];
    if (eq === undefined) oneWay = true;
    else dp = eq;
  } else if (proto === 6 || proto === 17 || proto === 132) {
    if (!(sp >= 1 && sp <= 65535 && dp >= 1 && dp <= 65535)) return undefined;
  }
  let a = s;
  let b = d;
  if (!oneWay) {
    const c = compareBytes(s, d);
    if (c > 0 || (c === 0 && sp > dp)) {
      a = d;
      b = s;
      const t = sp;
      sp = dp;
      dp = t;
    }
  }
  const hasPorts = proto === 1 || proto === 58 || proto === 6 || proto === 17 || proto === 132;
  const buf = Buffer.alloc(2 + a.length * 2 + 2 + (hasPorts ? 4 : 0));
  let o = buf.writeUInt16BE(seed & 0xffff, 0);
  buf.set(a, o);
  o += a.length;
  buf.set(b, o);
  o += b.length;
  buf[o++] = proto;
  buf[o++] = 0;
  if (hasPorts) {
    o = buf.writeUInt16BE(sp & 0xffff, o);
    buf.writeUInt16BE(dp & 0xffff, o);
  }
  return `1:${createHash('sha1').update(buf).digest('base64')}`;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x - y;
  }
  return 0;
}

/** IPv4 → 4 bytes, IPv6 (with `::` and a dotted IPv4 tail) → 16 bytes; undefined if invalid. */
export function ipBytes(ip: string): Uint8Array | undefined {
  if (ip.indexOf(':') === -1) return ipv4(ip);
  return ipv6(ip);
}

function ipv4(ip: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return ipv4Bytes(ip, out, 0) ? out : undefined;
}

function ipv4Bytes(ip: string, out: Uint8Array, at: number): boolean {
  let part = 0;
  let val = 0;
  let digits = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i === ip.length ? 46 : ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || val > 255 || part > 3) return false;
      out[at + part] = val;
      part++;
      val = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      val = val * 10 + (c - 48);
      digits++;
      if (digits > 3) return false;
    } else return false;
  }
  return part === 4;
}

function ipv6(ip0: string): Uint8Array | undefined {
  const pct = ip0.indexOf('%'); // zone id
  const ip = pct === -1 ? ip0 : ip0.slice(0, pct);
  const out = new Uint8Array(16);
  const dbl = ip.indexOf('::');
  if (dbl !== -1 && ip.indexOf('::', dbl + 1) !== -1) return undefined;
  const head = dbl === -1 ? ip : ip.slice(0, dbl);
  const tail = dbl === -1 ? '' : ip.slice(dbl + 2);
  const hw = head === '' ? [] : head.split(':');
  const tw = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  const pushGroups = (groups: string[], into: number[]): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] as string;
      if (g.indexOf('.') !== -1) {
        if (i !== groups.length - 1) return false;
        const v4 = new Uint8Array(4);
        if (!ipv4Bytes(g, v4, 0)) return false;
        into.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (g.length === 0 || g.length > 4) return false;
      const v = parseInt(g, 16);
      if (Number.isNaN(v) || !HEX.test(g)) return false;
      into.push(v);
    }
    return true;
  };
  const tailWords: number[] = [];
  if (!pushGroups(hw, words) || !pushGroups(tw, tailWords)) return undefined;
  const fill = 8 - words.length - tailWords.length;
  if (dbl === -1 ? fill !== 0 : fill < 1) return undefined;
  const all = dbl === -1 ? words : [...words, ...new Array<number>(fill).fill(0), ...tailWords];
  for (let i = 0; i < 8; i++) {
    const w = all[i] as number;
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  }
  return out;
}
