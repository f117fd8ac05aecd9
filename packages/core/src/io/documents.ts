/**
 * Documents that carry events, as push sources receive them (an HTTP request body): a JSON object,
 * a JSON array of objects, NDJSON, plain text lines, or a Kubernetes audit `EventList`.
 *
 * Decoding is all or nothing: a body with one malformed part yields a `DecodeError` naming the part
 * (`line 3: …`, `item 2 is not a JSON object`), so the sender is told what was wrong and no half of
 * its document is taken. A JSON object or NDJSON line keeps its text as the event's original line
 * (sinks forward it without a stringify); array items and audit events are built from values.
 */
import { LogEvent, type EventOrigin } from '../event/event.ts';
import { DecodeError } from './decode.ts';

/** How a document is read: `json` (object, array or NDJSON), `text` (one event per line), `k8s_audit` (an audit `EventList`). */
export type DocumentFormat = 'json' | 'text' | 'k8s_audit';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The events of one document, or what is wrong with it. */
export function decodeDocument(origin: EventOrigin, body: string, format: DocumentFormat): LogEvent[] | DecodeError {
  switch (format) {
    case 'text':
      return textLines(origin, body);
    case 'json':
      return jsonDocument(origin, body);
    case 'k8s_audit':
      return auditEventList(origin, body);
  }
}

function textLines(origin: EventOrigin, body: string): LogEvent[] | DecodeError {
  const out: LogEvent[] = [];
  let pos = 0;
  while (pos <= body.length) {
    let nl = body.indexOf('\n', pos);
    if (nl < 0) nl = body.length;
    const end = nl > pos && body.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    if (end > pos) out.push(new LogEvent(origin, body.slice(pos, end), 'text', undefined));
    pos = nl + 1;
  }
  return out.length > 0 ? out : new DecodeError('empty body: no line of text', 0);
}

function jsonDocument(origin: EventOrigin, body: string): LogEvent[] | DecodeError {
  const t = body.trim();
  if (t === '') return new DecodeError('empty body: expected a JSON object, an array of objects, or NDJSON', 0);
  const first = t.charCodeAt(0);
  if (first === 91 /* [ */) {
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch (e) {
      return new DecodeError(`invalid JSON array: ${(e as Error).message}`, 0);
    }
    const items = value as unknown[];
    const out: LogEvent[] = new Array<LogEvent>(items.length);
    const share = itemShare(t, items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (!isObject(item)) return new DecodeError(`item ${i} of the array is not a JSON object`, 0);
      out[i] = LogEvent.fromData(origin, item, share);
    }
    return out;
  }
  if (first !== 123 /* { */) return new DecodeError('not JSON: expected a JSON object, an array of objects, or NDJSON', 0);
  // One object (possibly pretty-printed), or NDJSON: one object per line.
  const nl = t.indexOf('\n');
  if (nl < 0) {
    try {
      const value: unknown = JSON.parse(t);
      if (!isObject(value)) return new DecodeError('not a JSON object', 0);
      return [new LogEvent(origin, t, 'json', value)];
    } catch (e) {
      return new DecodeError(`invalid JSON: ${(e as Error).message}`, 0);
    }
  }
  let whole: unknown;
  try {
    whole = JSON.parse(t);
  } catch {
    whole = undefined;
  }
  // A pretty-printed object: the event is built from its value (its text has newlines, which line sinks cannot take).
  if (isObject(whole)) return [LogEvent.fromData(origin, whole, t.length)];
  const out: LogEvent[] = [];
  let pos = 0;
  let n = 0;
  while (pos <= t.length) {
    let end = t.indexOf('\n', pos);
    if (end < 0) end = t.length;
    const line = t.slice(pos, end).trim();
    n++;
    if (line !== '') {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        return new DecodeError(`NDJSON line ${n}: ${(e as Error).message}`, pos);
      }
      if (!isObject(value)) return new DecodeError(`NDJSON line ${n} is not a JSON object`, pos);
      out.push(new LogEvent(origin, line, 'json', value));
    }
    pos = end + 1;
  }
  return out;
}

/**
 * kube-apiserver's webhook body: `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[…]}`.
 * Items come without `kind`/`apiVersion` (a Go list serialises them once); each event gets them
 * back, so it looks like a line of the apiserver's audit log file and every stage that knows that
 * shape (the `k8s_audit` ECS profile, the webhook sink's messages) takes it.
 */
function auditEventList(origin: EventOrigin, body: string): LogEvent[] | DecodeError {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    return new DecodeError(`invalid JSON: ${(e as Error).message}`, 0);
  }
  if (!isObject(value)) return new DecodeError('expected an audit.k8s.io EventList object', 0);
  const apiVersion = value.apiVersion;
  if (value.kind !== 'EventList' || typeof apiVersion !== 'string' || !apiVersion.startsWith('audit.k8s.io/')) {
    return new DecodeError(`expected kind EventList of apiVersion audit.k8s.io/v1, got kind ${JSON.stringify(value.kind)} of apiVersion ${JSON.stringify(apiVersion)}`, 0);
  }
  const items = value.items ?? [];
  if (!Array.isArray(items)) return new DecodeError('EventList.items is not an array', 0);
  const out: LogEvent[] = new Array<LogEvent>(items.length);
  const share = itemShare(body, items.length);
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (!isObject(item)) return new DecodeError(`EventList.items[${i}] is not an object`, 0);
    const ev = item.kind === undefined || item.apiVersion === undefined ? { kind: 'Event', apiVersion, ...item } : item;
    out[i] = LogEvent.fromData(origin, ev, share);
  }
  return out;
}

/**
 * What each item of a JSON array weighs in budgets and sink buffers: its share of the body's text.
 * Items parsed from one body have no line of their own to measure, and a flat estimate would let a
 * sink's buffer hold RequestResponse-level audit events (tens of KB each) far past its `max_bytes`.
 */
function itemShare(text: string, items: number): number {
  return items > 0 ? Math.max(1, Math.ceil(text.length / items)) : 0;
}
