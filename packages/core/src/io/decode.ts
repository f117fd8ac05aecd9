/**
 * Line decoding shared by sources: `text` keeps the line as it is; `json` parses it once, at the
 * source, so a malformed line is caught where its file and byte offset are known (and skipped,
 * counted, reported) instead of failing a batch later. The original line stays on the event, so
 * sinks that forward it unchanged write those bytes and never re-serialise. `cri` is a framing
 * (the container runtime's `<time> <stream> <P|F> <line>`) handled by `framing.ts` before the
 * content of a line is decoded.
 */
import { LogEvent, type EventOrigin } from '../event/event.ts';

/** How a line source decodes its lines (`decoding` option of `file` and `stdin`). */
export type Decoding = 'json' | 'json_lazy' | 'text' | 'cri';
/** How the content of one line is decoded once its framing is removed. */
export type ContentDecoding = Exclude<Decoding, 'cri'>;

export const decodingSchema = {
  type: 'string',
  enum: ['json', 'json_lazy', 'text', 'cri'],
  default: 'json',
  description:
    '`json`: each line is one JSON object, parsed at the source; malformed lines are reported with file and byte offset, counted and skipped. ' +
    '`json_lazy`: each line is taken as a JSON object without parsing it; it is parsed only if a stage reads its fields, so forwarding unchanged events costs no parse (a line that is not an object is caught only then: it travels as `{message, error, tags: [_json_parse_failure]}`, or, if nothing reads it, is forwarded as it is). ' +
    '`text`: each line is the event\'s `message`, never parsed. ' +
    '`cri`: container logs as the kubelet\'s runtime writes them (`/var/log/containers`, `/var/log/pods`): `<time> <stream> <P|F> <line>`; partial (`P`) lines are joined; a line that is a JSON object (Falco, Tetragon, any JSON logger on stdout) becomes the event, other lines its `message`; `stream` and the runtime\'s time (as `@timestamp`) are added unless the object has them.',
  examples: ['json_lazy', 'cri'],
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
  if (decoding === 'json_lazy') {
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
