/**
 * Small pieces every transform in this package shares: reading an event's fields without letting
 * one event break the batch, key strings for keyed state, and a fast string hash. (Field paths,
 * templates, times and the LRU map are core's field library.)
 *
 * Malformed lines: `LogEvent.data` parses a lazily decoded JSON line on first read; core hands a
 * line that is not a JSON object on as `{ message, error, tags: ['_json_parse_failure'] }`, so the
 * transforms see it as an ordinary event (a condition can select it by its tag). `readData` guards
 * that read: if it throws instead (an event whose line cannot be decoded at all), the transform
 * counts it in `decode_errors` and judges the same tagged shape, so a malformed line is treated
 * alike whichever way it reaches us, and one bad event never fails a batch.
 */
import { pathError, type Counter, type Emit, type EventData, type LogEvent } from '@tern/core';
import { conditionError } from './cel.ts';

export const JSON_FAILURE_TAG = '_json_parse_failure';

/** The tagged stand-in for an event whose fields cannot be read (core's shape for a malformed line). */
export function malformedView(ev: LogEvent, err: unknown): EventData {
  return { message: ev.raw ?? '', error: { message: `invalid JSON: ${err instanceof Error ? err.message : String(err)}` }, tags: [JSON_FAILURE_TAG] };
}

/** The event's fields; for an unreadable event the tagged stand-in, counted in `decodeErrors`. */
export function readData(ev: LogEvent, decodeErrors: Counter): EventData {
  try {
    return ev.data;
  } catch (err) {
    decodeErrors.inc();
    return malformedView(ev, err);
  }
}

/** 32-bit FNV-1a over UTF-16 code units: fast, allocation-free, well spread for key-based sampling. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Validation messages for a field path option, or a list of them (`field: …`, `fields.1: invalid field path …`). */
export function pathListErrors(option: string, paths: string | readonly string[] | undefined): string[] {
  if (typeof paths === 'string') {
    const e = pathError(paths);
    return e === undefined ? [] : [`${option}: ${e}`];
  }
  const errors: string[] = [];
  (paths ?? []).forEach((f, i) => {
    const e = pathError(f);
    if (e !== undefined) errors.push(`${option}.${i}: ${e}`);
  });
  return errors;
}

/** JSON Schema for a field path option. */
export function pathSchema(description: string, examples: string[]): Record<string, unknown> {
  return { type: 'string', minLength: 1, description, examples };
}

/** A stable string for a field value, used as a key by sample/throttle/dedupe. */
export function keyString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '\u0000undefined';
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/** Appends `tag` to the event's `tags` (creating the list, or wrapping a lone string). */
export function addTag(doc: EventData, tag: string): void {
  const tags = doc.tags;
  if (Array.isArray(tags)) {
    if (!tags.includes(tag)) tags.push(tag);
  } else if (typeof tags === 'string') doc.tags = tags === tag ? [tag] : [tags, tag];
  else doc.tags = [tag];
}

/** Emits the events a dropping transform kept (if any) and counts the others as dropped. */
export function emitKept(events: readonly LogEvent[], kept: LogEvent[], dropped: Counter, emit: Emit): void {
  if (kept.length !== events.length) dropped.inc(events.length - kept.length);
  if (kept.length) emit(kept);
}

/** Validation of the options sample and throttle share: a `key_field` path and an `exclude` CEL condition. */
export function keyAndExcludeErrors(cfg: { readonly key_field?: string | undefined; readonly exclude?: string | undefined }): string[] | undefined {
  const errors = cfg.key_field === undefined ? [] : pathListErrors('key_field', cfg.key_field);
  if (cfg.exclude !== undefined) {
    const e = conditionError(cfg.exclude);
    if (e !== undefined) errors.push(`exclude: ${e}`);
  }
  return errors.length ? errors : undefined;
}
