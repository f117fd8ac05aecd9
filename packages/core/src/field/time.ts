/**
 * Event times: the one set of rules by which tern reads a time value, wherever it reads one (the
 * `timestamp` transform, the `ecs` profiles, the Elasticsearch sink's `timestamp_field` and dated
 * index names, LogScale's `timestamp_fields`):
 * - a string is RFC 3339 (`2024-11-22T05:20:00.123456789Z`, any offset, `t`/space for `T`, `,` or
 *   `.` before the fraction), or an epoch number written as decimal digits;
 * - a number (or digit string) is epoch time whose unit its magnitude tells: up to 11 integer
 *   digits seconds (year 5138), then milliseconds (14), microseconds (17), nanoseconds (20) — or
 *   the unit the caller names (`epoch_s` … `epoch_ns`).
 * Nothing else is a time (no `Date.parse` guessing at "Nov 22 2024" or a zone-less local time).
 *
 * Every accepted input is reduced to an exact (whole seconds, nanoseconds of the second) pair and
 * formatted from there, so no precision is lost on the way and no `Date` string parsing runs per
 * event (`Date.parse` accepts too much and drops everything below the millisecond). RFC 3339 is
 * read with a hand-written character scanner; epoch values are read as decimal digit strings and
 * the decimal point is shifted by slicing, so a nanosecond string like `"1700000000123456789"` stays
 * exact without BigInt. A JSON *number* above 2^53 has already lost digits in `JSON.parse` before we
 * see it: we format what JavaScript holds (String(n)), which can differ from the sender's value by a
 * few hundred nanoseconds — the millisecond part is still right. Negative epochs and years outside
 * 0000–9999 (what Elasticsearch `date` accepts in its default format) are refused.
 */

export type TimestampFormat = 'auto' | 'rfc3339' | 'epoch_s' | 'epoch_ms' | 'epoch_us' | 'epoch_ns';

export const TIMESTAMP_FORMATS: readonly TimestampFormat[] = ['auto', 'rfc3339', 'epoch_s', 'epoch_ms', 'epoch_us', 'epoch_ns'];

/** A parsed instant: whole seconds since the epoch, and the nanoseconds within that second. */
export interface ParsedTime {
  seconds: number;
  nanos: number;
  /** True when the input carried precision below the millisecond (a non-zero digit past the 3rd fractional one). */
  subMs: boolean;
}

// Largest epoch second we accept: 9999-12-31T23:59:59Z.
const MAX_SECONDS = 253402300799;

const UNIT_DIGITS: Record<string, number> = { epoch_s: 0, epoch_ms: 3, epoch_us: 6, epoch_ns: 9 };

/** Parses a timestamp value in the given format; undefined when it is not one. */
export function parseTime(value: unknown, format: TimestampFormat = 'auto'): ParsedTime | undefined {
  if (typeof value === 'string') {
    if (format === 'rfc3339') return parseRfc3339(value);
    if (format === 'auto') {
      // RFC 3339 has '-' at index 4; anything else that starts like a number is an epoch string.
      if (value.length >= 11 && value.charCodeAt(4) === 45 /* - */) return parseRfc3339(value);
      return parseEpochDecimal(value.trim(), -1);
    }
    return parseEpochDecimal(value.trim(), UNIT_DIGITS[format] ?? -1);
  }
  if (typeof value === 'number') {
    if (format === 'rfc3339' || !Number.isFinite(value) || value < 0) return undefined;
    // String(n) is the shortest decimal that round-trips, i.e. what the sender most likely wrote
    // (1730798062.324118 stays 1730798062.324118, where float arithmetic would give ...117899).
    return parseEpochDecimal(numberToDecimal(value), format === 'auto' ? -1 : (UNIT_DIGITS[format] ?? -1));
  }
  return undefined;
}

/** RFC 3339 UTC with milliseconds, the form Elasticsearch's `date` type and Elastic's pipelines use. */
export function formatIsoMs(t: ParsedTime): string {
  const ms = Math.floor(t.nanos / 1e6);
  return `${secondsPrefix(t.seconds)}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/**
 * What `new Date(ms).toISOString()` gives for an epoch-milliseconds number, from the per-minute cache
 * below (a sink stamping every event with its time calls this once per event).
 */
export function formatEpochMsIso(ms: number): string {
  // Date's own range and rounding (TimeClip): outside ±8.64e15 ms, toISOString throws.
  if (!(Math.abs(ms) <= 8.64e15)) throw new RangeError('Invalid time value');
  const whole = Math.trunc(ms);
  const seconds = Math.floor(whole / 1000);
  const milli = whole - seconds * 1000;
  return `${secondsPrefix(seconds)}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

// One-entry cache of the `YYYY-MM-DDTHH:MM:` text for a minute: events arrive roughly in time order,
// so most calls skip Date#toISOString, which was a fifth of a Tetragon mapping.
let cachedMinute = Number.NaN;
let cachedMinuteText = '';

/** `YYYY-MM-DDTHH:MM:SS.` for whole epoch seconds. */
function secondsPrefix(seconds: number): string {
  const minute = Math.floor(seconds / 60);
  if (minute !== cachedMinute) {
    const iso = new Date(minute * 60000).toISOString();
    cachedMinuteText = iso.slice(0, iso.length - 7); // without `SS.sssZ` (the year may have 6 digits)
    cachedMinute = minute;
  }
  const sec = seconds - minute * 60;
  return `${cachedMinuteText}${sec < 10 ? '0' : ''}${sec}.`;
}

/** RFC 3339 UTC with all nine fractional digits (for a `date_nanos` field). */
export function formatIsoNanos(t: ParsedTime): string {
  return `${secondsPrefix(t.seconds)}${pad9(t.nanos)}Z`;
}

/** Convenience: a timestamp value to `@timestamp` form, or undefined. */
export function toIsoMs(value: unknown, format: TimestampFormat = 'auto'): string | undefined {
  const t = parseTime(value, format);
  return t === undefined ? undefined : formatIsoMs(t);
}

function pad9(n: number): string {
  const s = String(n);
  return s.length >= 9 ? s : '000000000'.slice(s.length) + s;
}

function numberToDecimal(n: number): string {
  const s = String(n);
  // Exponent forms (1e+21, 1e-7): too large to be a timestamp, or a fraction so small only fixed
  // notation can carry it; toFixed(9) is exact enough for the latter.
  if (s.indexOf('e') === -1) return s;
  return n < 1 ? n.toFixed(9) : s;
}

/**
 * Parses `digits[.digits]` as an epoch value with `unitDigits` decimal places below the second
 * (0 = seconds, 9 = nanoseconds), or guesses the unit from the size of the integer part when
 * `unitDigits` is -1: up to 11 digits seconds (year 5138), 14 ms, 17 µs, 20 ns.
 */
function parseEpochDecimal(s: string, unitDigits: number): ParsedTime | undefined {
  const len = s.length;
  if (len === 0) return undefined;
  let dot = -1;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (dot !== -1) return undefined;
      dot = i;
    } else if (c < 48 || c > 57) return undefined;
  }
  const intPart = dot === -1 ? s : s.slice(0, dot);
  const fracPart = dot === -1 ? '' : s.slice(dot + 1);
  if (intPart.length === 0 && fracPart.length === 0) return undefined;
  // Leading zeros do not count towards the magnitude.
  let start = 0;
  while (start < intPart.length - 1 && intPart.charCodeAt(start) === 48) start++;
  const sig = intPart.length - start;
  let u = unitDigits;
  if (u < 0) {
    if (sig <= 11) u = 0;
    else if (sig <= 14) u = 3;
    else if (sig <= 17) u = 6;
    else if (sig <= 20) u = 9;
    else return undefined;
  }
  // Shift the decimal point u places left: seconds are the integer digits minus the last u.
  const digits = intPart.slice(start) + fracPart;
  const point = sig - u; // position of the seconds' decimal point inside `digits`
  let secStr: string;
  let frac: string;
  if (point <= 0) {
    secStr = '0';
    frac = '0'.repeat(-point) + digits;
  } else {
    secStr = digits.slice(0, point);
    frac = digits.slice(point);
  }
  const seconds = Number(secStr);
  if (!(seconds <= MAX_SECONDS)) return undefined;
  let nanos = 0;
  const n = frac.length < 9 ? frac.length : 9;
  for (let i = 0; i < n; i++) nanos = nanos * 10 + (frac.charCodeAt(i) - 48);
  for (let i = n; i < 9; i++) nanos *= 10;
  let subMs = false;
  for (let i = 3; i < frac.length; i++) {
    if (frac.charCodeAt(i) !== 48) {
      subMs = true;
      break;
    }
  }
  return { seconds, nanos, subMs };
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function d2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM|±HH)`; `t`/space for `T` and `z` for `Z` are
 * accepted (RFC 3339 §5.6 allows both). Any number of fractional digits; those past the 9th are
 * truncated.
 */
// One-entry cache of the validated `YYYY-MM-DDTHH:MM` prefix and its epoch seconds (UTC, before
// the offset): consecutive events share it, and skipping Date.UTC and the checks halves the cost.
let cachedPrefix = '';
let cachedPrefixSeconds = 0;

export function parseRfc3339(s: string): ParsedTime | undefined {
  const len = s.length;
  if (len < 20) return undefined;
  let base: number;
  if (cachedPrefix !== '' && s.startsWith(cachedPrefix)) {
    base = cachedPrefixSeconds;
  } else {
    const b = parseMinutePrefix(s);
    if (b === undefined) return undefined;
    base = b;
    cachedPrefix = s.slice(0, 16);
    cachedPrefixSeconds = b;
  }
  const se = d2(s, 17);
  if (se < 0 || se > 60 || s.charCodeAt(16) !== 58) return undefined;
  return parseRest(s, base + se);
}

/** Validates `YYYY-MM-DDTHH:MM` and returns its epoch seconds (UTC). */
function parseMinutePrefix(s: string): number | undefined {
  const y1 = d2(s, 0);
  const y2 = d2(s, 2);
  const mo = d2(s, 5);
  const d = d2(s, 8);
  const h = d2(s, 11);
  const mi = d2(s, 14);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59) return undefined;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58) return undefined;
  const sep = s.charCodeAt(10);
  if (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== 32) return undefined;
  // Date.UTC accepts Feb 30 (it rolls over), so check the day against the month.
  const year = y1 * 100 + y2;
  if (d > daysInMonth(year, mo)) return undefined;
  return Date.UTC(year, mo - 1, d, h, mi) / 1000;
}

/** Fraction and zone after `YYYY-MM-DDTHH:MM:SS`; `local` is the wall-clock time in epoch seconds. */
function parseRest(s: string, local: number): ParsedTime | undefined {
  const len = s.length;
  let i = 19;
  let nanos = 0;
  let subMs = false;
  if (s.charCodeAt(i) === 46 /* . */ || s.charCodeAt(i) === 44 /* , */) {
    i++;
    const fs = i;
    while (i < len) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      const k = i - fs;
      if (k < 9) nanos = nanos * 10 + c;
      if (k >= 3 && c !== 0) subMs = true;
      i++;
    }
    const nd = i - fs;
    if (nd === 0) return undefined;
    for (let k = nd; k < 9; k++) nanos *= 10;
  }
  let offsetMin = 0;
  const z = s.charCodeAt(i);
  if (z === 90 /* Z */ || z === 122 /* z */) {
    i++;
  } else if (z === 43 /* + */ || z === 45 /* - */) {
    const oh = d2(s, i + 1);
    if (oh < 0 || oh > 23) return undefined;
    let om = 0;
    let next = i + 3;
    if (s.charCodeAt(next) === 58) {
      om = d2(s, next + 1);
      next += 3;
    } else if (next < len) {
      om = d2(s, next);
      next += 2;
    }
    if (om < 0 || om > 59) return undefined;
    offsetMin = (oh * 60 + om) * (z === 45 ? -1 : 1);
    i = next;
  } else return undefined;
  if (i !== len) return undefined;
  const seconds = local - offsetMin * 60;
  if (seconds < 0 || seconds > MAX_SECONDS) return undefined;
  return { seconds, nanos, subMs };
}

/** Epoch milliseconds of a time value by the rules above, or undefined when it is not one. */
export function timeMs(value: unknown, format: TimestampFormat = 'auto'): number | undefined {
  const t = parseTime(value, format);
  return t === undefined ? undefined : t.seconds * 1000 + Math.floor(t.nanos / 1e6);
}

/**
 * Reads a top-level string value straight from a JSON line when its key is the line's last key
 * (Tetragon's `"time"` is), so an unchanged event need not be parsed for its time. `quotedKey` is
 * the key with its quotes (`"time"`). Sound because a quote inside a JSON string is escaped, so
 * `"key":"` preceded by `,` or `{` is a key, and a value followed only by the final `}` belongs
 * to the outermost object. A value holding an escape (`\"`, `\u…`) is left to the parser:
 * undefined means "parse the line instead".
 */
export function lastKeyString(raw: string, quotedKey: string): string | undefined {
  const i = raw.lastIndexOf(quotedKey);
  if (i <= 0) return undefined;
  const before = raw.charCodeAt(i - 1);
  if (before !== 44 /* , */ && before !== 123 /* { */) return undefined;
  let j = i + quotedKey.length;
  if (raw.charCodeAt(j) !== 58 /* : */ || raw.charCodeAt(j + 1) !== 34 /* " */) return undefined;
  const start = j + 2;
  for (j = start; j < raw.length; j++) {
    const c = raw.charCodeAt(j);
    if (c === 34 /* " */) break;
    if (c === 92 /* \ */) return undefined;
  }
  if (j >= raw.length) return undefined;
  // Only the closing brace of the outermost object (and blanks) may follow.
  let k = j + 1;
  while (k < raw.length && isBlank(raw.charCodeAt(k))) k++;
  if (raw.charCodeAt(k) !== 125 /* } */) return undefined;
  for (k++; k < raw.length; k++) if (!isBlank(raw.charCodeAt(k))) return undefined;
  return raw.slice(start, j);
}

const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
