/**
 * The `ecs` transform: maps Tetragon, Falco, Kubernetes audit and Zeek events to the Elastic Common
 * Schema the way Elastic's own integrations do, so documents look like Elastic's pipeline output
 * (ECS.md lists every field and every place we add to or differ from Elastic). Each profile is a pure
 * function in its own file, exported for tests and benchmarks; this file only picks the profile,
 * handles the event envelope (`replace`, `event.original`) and turns a document of the wrong shape
 * into a tagged, counted pass-through — an event is never dropped here.
 */
import type { EventOrigin, LogEvent, TransformDefinition } from '@tern/core';
import { addTag } from '../timestamp.ts';
import { EcsShapeError, isObj } from './common.ts';
import type { Doc, EcsMapContext, ZeekLog } from './common.ts';
import { mapFalco } from './falco.ts';
import { mapK8sAudit } from './k8s-audit.ts';
import { mapTetragon } from './tetragon.ts';
import { mapZeek } from './zeek.ts';

export { mapTetragon } from './tetragon.ts';
export { mapFalco } from './falco.ts';
export { mapK8sAudit } from './k8s-audit.ts';
export { mapZeek } from './zeek.ts';
export { communityId } from './community-id.ts';
export { ECS_VERSION, EcsShapeError } from './common.ts';
export type { Doc, EcsMapContext, ZeekLog } from './common.ts';

export type EcsProfile = 'tetragon' | 'falco' | 'k8s_audit' | 'zeek';

export interface EcsConfig {
  profile: EcsProfile;
  zeek_log?: ZeekLog | null;
  keep_original?: boolean;
}

export const ECS_FAILURE_TAG = '_ecs_mapping_failure';

/** A profile's mapping function: pure, throws EcsShapeError for input it cannot map. */
export type EcsMapper = (input: Doc, ctx: EcsMapContext) => Doc;

export const ECS_PROFILES: Readonly<Record<EcsProfile, EcsMapper>> = {
  tetragon: mapTetragon,
  falco: mapFalco,
  k8s_audit: mapK8sAudit,
  zeek: mapZeek,
};

/**
 * Zeek log kind from a file name: `conn.log`, `zeek-conn.log`, `conn.2024-11-05.log`, `/x/dns.log`.
 * Looks at the name's alphanumeric tokens so `http.log` is not mistaken for anything else.
 */
export function zeekLogFromPath(path: string): ZeekLog | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  let found: ZeekLog | undefined;
  for (const tok of name.split(/[^a-z0-9]+/)) {
    if (tok === 'conn' || tok === 'connection') found ??= 'conn';
    else if (tok === 'dns') found ??= 'dns';
    else if (tok === 'http') found ??= 'http';
  }
  return found;
}

export const ecsTransform: TransformDefinition<EcsConfig> = {
  kind: 'transform',
  type: 'ecs',
  description: "Maps Tetragon, Falco, Kubernetes audit or Zeek events to ECS as Elastic's integrations do; tags events it cannot map.",
  mutates: true,
  // Lets `workers: N` run the mapping in worker threads (they import this module).
  module: import.meta.url,
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['profile'],
    properties: {
      profile: {
        description: 'Which input the events come from; selects the mapping (see packages/transforms/ECS.md).',
        type: 'string',
        enum: ['tetragon', 'falco', 'k8s_audit', 'zeek'],
        examples: ['tetragon', 'zeek'],
      },
      zeek_log: {
        description:
          'Zeek log kind for `profile: zeek`. Unset: taken from the file name of the event origin (`conn.log`, `zeek-dns.log`, ...); events whose origin names none are tagged as mapping failures.',
        type: ['string', 'null'],
        enum: ['conn', 'dns', 'http', null],
        default: null,
        examples: ['conn'],
      },
      keep_original: {
        description: 'Copy the original line into `event.original`.',
        type: 'boolean',
        default: false,
        examples: [true],
      },
    },
  },
  validate(cfg) {
    if (cfg.zeek_log != null && cfg.profile !== 'zeek') return [`zeek_log: only applies to profile "zeek" (profile is "${cfg.profile}")`];
    return undefined;
  },
  build(cfg, ctx) {
    const profile = cfg.profile;
    const mapper = ECS_PROFILES[profile];
    const keepOriginal = cfg.keep_original === true;
    const failures = ctx.telemetry.counter('ecs_failures');
    // Zeek kind per origin: origins are shared by all events of a file, so this is one lookup per file.
    const zeekKinds = new WeakMap<EventOrigin, ZeekLog | null>();
    const zeekKind = (origin: EventOrigin): ZeekLog | undefined => {
      if (cfg.zeek_log != null) return cfg.zeek_log;
      let k = zeekKinds.get(origin);
      if (k === undefined) {
        k = zeekLogFromPath(origin.path) ?? null;
        zeekKinds.set(origin, k);
      }
      return k ?? undefined;
    };

    const fail = (ev: LogEvent, input: Doc | undefined, message: string): void => {
      const doc: Doc = input !== undefined ? { ...input } : { message: ev.raw ?? '' };
      const prevEvent = doc.event;
      const event: Doc = isObj(prevEvent) ? { ...prevEvent } : {};
      event.kind = 'pipeline_error';
      if (keepOriginal && ev.raw !== undefined) event.original = ev.raw;
      doc.event = event;
      // Appended like Elastic's on_failure does, so an earlier stage's error (e.g. the decoder's
      // invalid-JSON message) is kept next to ours.
      const prevErr = doc.error;
      const err: Doc = isObj(prevErr) ? { ...prevErr } : {};
      const mine = `ecs ${profile}: ${message}`;
      const prevMsg = err.message;
      err.message = prevMsg === undefined || prevMsg === null ? mine : Array.isArray(prevMsg) ? [...prevMsg, mine] : [prevMsg, mine];
      doc.error = err;
      if (Array.isArray(doc.tags)) doc.tags = doc.tags.slice();
      addTag(doc, ECS_FAILURE_TAG);
      ev.replace(doc);
      failures.inc();
    };

    return {
      process(events, emit) {
        let ingestTime: string | undefined;
        for (const ev of events) {
          let input: Doc;
          try {
            input = ev.data;
          } catch (e) {
            fail(ev, undefined, `not JSON: ${(e as Error).message}`);
            continue;
          }
          // A JSON line that reached us as text ({message: "{...}"}) is parsed, as Elastic's pipelines parse `message`.
          const msg = input.message;
          if (typeof msg === 'string' && msg.charCodeAt(0) === 123 /* { */ && Object.keys(input).length === 1) {
            try {
              const parsed: unknown = JSON.parse(msg);
              if (isObj(parsed)) input = parsed;
            } catch {
              // not JSON after all: the profile reports the wrong shape below
            }
          }
          let zeekLog: ZeekLog | undefined;
          if (profile === 'zeek') {
            zeekLog = zeekKind(ev.origin);
            if (zeekLog === undefined) {
              fail(ev, input, `cannot tell the Zeek log kind from origin "${ev.origin.path}"; set zeek_log`);
              continue;
            }
            ingestTime ??= new Date().toISOString();
          }
          let doc: Doc;
          try {
            doc = mapper(input, { zeekLog, ingestTime });
          } catch (e) {
            fail(ev, input, e instanceof EcsShapeError ? e.message : `unexpected error: ${(e as Error).message}`);
            continue;
          }
          if (keepOriginal) {
            const original = ev.raw ?? JSON.stringify(input);
            (doc.event as Doc).original = original;
          }
          ev.replace(doc);
        }
        emit(events);
      },
    };
  },
};
