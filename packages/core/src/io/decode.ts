/**
 * Line decoding shared by sources. `json` (the default) takes each line as a JSON object without
 * parsing it: it is parsed only if a stage reads its fields, so forwarding unchanged events costs no
 * parse, and the original line stays on the event, so sinks write those bytes and never re-serialise.
 * `json_strict` parses every line at the source, where its file and byte offset are known, and skips
 * (counts, reports) a line that is not a JSON object. `text` keeps the line as the event's `message`.
 * `cri` is a framing (the container runtime's `<time> <stream> <P|F> <line>`) handled by
 * `framing.ts` before the content of a line is decoded.
 */
import { LogEvent, type EventOrigin } from '../event/event.ts';

/** How a line source decodes its lines (`decoding` option of `file` and `stdin`); `json_lazy` is the old name of `json`. */
export type Decoding = 'json' | 'json_strict' | 'json_lazy' | 'text' | 'cri';
/** How the content of one line is decoded once its framing is removed. */
export type ContentDecoding = Exclude<Decoding, 'cri'>;

export const decodingSchema = {
  type: 'string',
  enum: ['json', 'json_strict', 'text', 'cri', 'json_lazy'],
  default: 'json',
  description:
    '`json`: each line is a JSON object, taken without parsing it: it is parsed only if a stage reads its fields, so forwarding unchanged events costs no parse. A line that is not an object is caught only then: it reads as `{message, error, tags: [_json_parse_failure]}`; unchanged, it is forwarded as it is, and a destination that refuses it gets that tagged form instead. ' +
    '`json_strict`: every line is parsed at the source; one that is not a JSON object is reported with its file and byte offset, counted (`decode_errors`) and skipped. ' +
    '`text`: each line is the event\'s `message`, never parsed. ' +
    '`cri`: container logs as the kubelet\'s runtime writes them (`/var/log/containers`, `/var/log/pods`): `<time> <stream> <P|F> <line>`; partial (`P`) lines are joined; a line that is a JSON object (Falco, Tetragon, any JSON logger on stdout) becomes the event, other lines its `message`; `stream` and the runtime\'s time (as `@timestamp`) are added unless the object has them. ' +
    '`json_lazy`: the former name of `json`, still accepted.',
  examples: ['json_strict', 'cri'],
} as const;

export class DecodeError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/** Decodes one line; returns a `DecodeError` (not thrown: the hot path avoids exceptions as control flow where it can). */
export function decodeLine(origin: EventOrigin, text: string, offset: number, decoding: ContentDecoding): LogEvent | DecodeError {
  if (decoding === 'text') return new LogEvent(origin, text, 'text', undefined, offset);
  if (decoding === 'json' || decoding === 'json_lazy') {
    // Framing check only: an object starts with `{` (a blank or truncated-at-start line does not).
    const c = text.charCodeAt(0);
    if (c === 123 || (c <= 32 && text.trimStart().charCodeAt(0) === 123)) return new LogEvent(origin, text, 'json', undefined, offset);
    return new DecodeError(text.length === 0 ? 'empty line' : 'not a JSON object', offset);
  }
  const first = text.charCodeAt(0);
  if (first !== 123 /* { */) {
    const t = text.trimStart();
    if (t.charCodeAt(0) !== 123) return new DecodeError(text.length === 0 ? 'empty line' : 'not a JSON object', offset);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return new DecodeError('not a JSON object', offset);
    return new LogEvent(origin, text, 'json', value as Record<string, unknown>, offset);
  } catch (e) {
    return new DecodeError((e as Error).message, offset);
  }
}
