/**
 * Origin fields: what tern knows about where an event came from, readable wherever a field path is
 * (templates, remap `from`): `@path` (file path), `@host` (node name), `@source` (source id),
 * `@offset` (byte offset of the line) and `@fields.<name>` (a `path_fields` capture, e.g.
 * `@fields.k8s.pod.name`). They cost no parse: a template that reads only origin fields never
 * touches the event's JSON. `@timestamp` and every other name stay ordinary event fields.
 */
import type { EventOrigin } from '../event/event.ts';
import type { FieldPath } from './path.ts';

/** What an origin field is read from: an event, or anything with its origin and offset. */
export interface OriginSource {
  readonly origin?: EventOrigin | undefined;
  readonly offset?: number | undefined;
}

export const ORIGIN_FIELDS: ReadonlySet<string> = new Set(['@path', '@host', '@source', '@offset', '@fields']);

/** Whether a parsed path reads an origin field. */
export function isOriginPath(path: FieldPath): boolean {
  return path.length > 0 && ORIGIN_FIELDS.has(path[0] as string);
}

/** Reads an origin field (see ORIGIN_FIELDS); undefined when the origin has no such value. */
export function getOrigin(src: OriginSource, path: FieldPath): unknown {
  const o = src.origin;
  if (o === undefined) return undefined;
  switch (path[0]) {
    case '@path':
      return path.length === 1 ? o.path : undefined;
    case '@host':
      return path.length === 1 ? o.host : undefined;
    case '@source':
      return path.length === 1 ? o.sourceId : undefined;
    case '@offset':
      return path.length === 1 && src.offset !== undefined && src.offset >= 0 ? src.offset : undefined;
    case '@fields':
      return path.length === 1 ? o.fields : o.fields?.[path.slice(1).join('.')];
    default:
      return undefined;
  }
}
