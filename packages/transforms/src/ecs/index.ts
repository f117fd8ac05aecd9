/**
 * The `ecs` transform: maps Tetragon, Falco, Kubernetes audit and Zeek events to the Elastic Common
 * Schema the way Elastic's own integrations do, so documents look like Elastic's pipeline output
 * (ECS.md lists every field and every place we add to or differ from Elastic). Each profile is a pure
 * function in its own file, exported for tests and benchmarks; this file picks the profile, handles
 * the event envelope (`replace`, `event.original`, Splunk export wrappers) and turns a document of
 * the wrong shape into a tagged, counted pass-through — an event is never dropped here.
 *
 * Fields that are not the vendor's stay where they are, for every profile: what the file source
 * wrote with `add_metadata: ecs` (`log.file.path`, `log.offset`, `host.name`, the `path_fields` such
 * as `k8s.pod.name`) and any other top-level object a profile does not read as its input. They are
 * taken out before the profile maps the event and merged back into its document afterwards (the
 * profile's own values win where both set a field), so they never land in the vendor namespace.
 */
import { stringifyEvent, type EventOrigin, type LogEvent, optionsSchema, type TransformDefinition } from '@tern/core';
import { addTag } from '../shared.ts';
import { EcsShapeError, isObj } from './common.ts';
import type { Doc, EcsMapContext, VendorFields, ZeekLog } from './common.ts';
import { mapFalco } from './falco.ts';
import { mapK8sAudit } from './k8s-audit.ts';
import { mapTetragon } from './tetragon.ts';
import { mapZeek } from './zeek.ts';

export { mapTetragon } from './tetragon.ts';
export { mapFalco } from './falco.ts';
export { mapK8sAudit } from './k8s-audit.ts';
export { mapZeek } from './zeek.ts';
export { communityId } from './community-id.ts';
export { ECS_VERSION, EcsShapeError, dedotKeys, keywordLeaf } from './common.ts';
export type { Doc, EcsMapContext, VendorFields, ZeekLog } from './common.ts';

export type EcsProfile = 'tetragon' | 'falco' | 'k8s_audit' | 'zeek';

/** Options as the schema completes them. */
export interface EcsConfig {
  readonly profile: EcsProfile;
  readonly zeek_log: ZeekLog | null;
  readonly keep_original: boolean;
  readonly dedot_labels: boolean;
  readonly vendor_fields: VendorFields;
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

/** Keys the profiles handle themselves wherever they sit (time set by an earlier stage, tags, tern's own). */
const PASSED = new Set(['@timestamp', 'tags', 'tern']);
const K8S_OBJECTS = new Set(['user', 'impersonatedUser', 'objectRef', 'responseStatus', 'requestObject', 'responseObject', 'annotations', 'metadata', 'properties', 'protoPayload', 'resource', 'labels', 'operation']);

/** Whether a top-level object-valued key is the vendor's own input (else it is carried, see the file comment). */
export const OWN_OBJECTS: Readonly<Record<EcsProfile, (key: string) => boolean>> = {
  tetragon: (k) => k.startsWith('process_') || k === 'rate_limit_info' || k === 'node_labels' || k === 'aggregation_info',
  falco: (k) => k === 'output_fields',
  k8s_audit: (k) => K8S_OBJECTS.has(k),
  // Zeek logs are flat (lists at most); only the tuple may come nested.
  zeek: (k) => k === 'id',
};

/**
 * Splits the fields that are not the vendor's off an input: top-level objects the profile does not
 * own, and the roots of the origin's path fields. Returns the input itself when there are none.
 */
export function splitCarried(input: Doc, owns: (key: string) => boolean, pathRoots: ReadonlySet<string> | undefined): { vendor: Doc; carried: Doc | undefined } {
  let carried: Doc | undefined;
  for (const k in input) {
    if (PASSED.has(k)) continue;
    const v = input[k];
    if ((pathRoots !== undefined && pathRoots.has(k)) || (isObj(v) && !owns(k))) (carried ??= {})[k] = v;
  }
  if (carried === undefined) return { vendor: input, carried };
  const vendor: Doc = {};
  for (const k in input) if (!Object.hasOwn(carried, k)) vendor[k] = input[k];
  return { vendor, carried };
}

/** Merges carried fields into a mapped document; the document's values win. Copies each object it writes into (they may be shared with the input). */
export function mergeCarried(doc: Doc, carried: Doc): void {
  for (const k in carried) {
    const v = carried[k];
    const cur = doc[k];
    if (cur === undefined) doc[k] = v;
    else if (isObj(cur) && isObj(v)) {
      const merged: Doc = { ...cur };
      mergeCarried(merged, v);
      doc[k] = merged;
    }
  }
}

/**
 * A Splunk search export wrapper (`{"result": {"_raw": "<event JSON>", "host", "source", ...}}`), as
 * Elastic's pipelines unwrap it: the event is `_raw`, `host` becomes `host.name` and `source`
 * `log.file.path`. Undefined when the document is not such a wrapper.
 */
export function unwrapSplunk(input: Doc): { event: Doc; raw: string; carried: Doc } | undefined {
  const result = input.result;
  if (!isObj(result) || typeof result._raw !== 'string') return undefined;
  const raw = result._raw;
  let event: unknown;
  try {
    event = JSON.parse(raw);
  } catch (e) {
    throw new EcsShapeError(`Splunk result._raw is not JSON: ${(e as Error).message}`);
  }
  if (!isObj(event)) throw new EcsShapeError('Splunk result._raw is not a JSON object');
  const carried: Doc = {};
  if (typeof result.host === 'string' && result.host !== '') carried.host = { name: result.host };
  if (typeof result.source === 'string' && result.source !== '') carried.log = { file: { path: result.source } };
  return { event, raw, carried };
}

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
  schema: optionsSchema<EcsConfig>()({
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
      dedot_labels: {
        description:
          'Replace `.` with `_` in Kubernetes label and annotation keys (`app.kubernetes.io/name` → `app_kubernetes_io/name`), as Filebeat does by default: Elasticsearch reads a dot as an object boundary, so `app` and `app.kubernetes.io/name` in one map would be refused.',
        type: 'boolean',
        default: true,
        examples: [false],
      },
      vendor_fields: {
        description:
          'Shape of free-form vendor maps whose keys and value types vary from event to event. `flat`: a shape no dynamic mapping can refuse (Falco `output_fields` leftovers as one level of keyword strings with `_` for `.`, Kubernetes request/response objects as JSON text). `nested`: Elastic\'s shapes (nested objects, typed values) — only with an index template that maps those fields `flattened` (the elasticsearch sink\'s `template` option installs one) or Elastic\'s integration templates.',
        type: 'string',
        enum: ['flat', 'nested'],
        default: 'flat',
        examples: ['nested'],
      },
    },
  }),
  validate(cfg) {
    if (cfg.zeek_log != null && cfg.profile !== 'zeek') return [`zeek_log: only applies to profile "zeek" (profile is "${cfg.profile}")`];
    return undefined;
  },
  build(cfg, ctx) {
    const profile = cfg.profile;
    const mapper = ECS_PROFILES[profile];
    const keepOriginal = cfg.keep_original;
    const owns = OWN_OBJECTS[profile];
    const mapOptions = { dedotLabels: cfg.dedot_labels, vendorFields: cfg.vendor_fields } as const;
    // Path-field roots per origin (`k8s.pod.name` → `k8s`): origins are shared by a file's events.
    const roots = new WeakMap<EventOrigin, ReadonlySet<string> | null>();
    const rootsOf = (origin: EventOrigin): ReadonlySet<string> | undefined => {
      let r = roots.get(origin);
      if (r === undefined) {
        const f = origin.fields;
        r = f === undefined ? null : new Set(Object.keys(f).map((k) => k.split('.')[0] as string));
        roots.set(origin, r);
      }
      return r ?? undefined;
    };
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
          let original: string | undefined;
          let wrapperCarried: Doc | undefined;
          try {
            const splunk = unwrapSplunk(input);
            if (splunk !== undefined) {
              input = splunk.event;
              original = splunk.raw;
              wrapperCarried = splunk.carried;
            }
          } catch (e) {
            fail(ev, input, (e as Error).message);
            continue;
          }
          const { vendor, carried } = splitCarried(input, owns, rootsOf(ev.origin));
          let zeekLog: ZeekLog | undefined;
          if (profile === 'zeek') {
            // A Splunk export names the Zeek log in its source path.
            zeekLog = wrapperCarried !== undefined && cfg.zeek_log == null ? (zeekLogFromPath(String(((wrapperCarried.log as Doc | undefined)?.file as Doc | undefined)?.path ?? '')) ?? zeekKind(ev.origin)) : zeekKind(ev.origin);
            if (zeekLog === undefined) {
              fail(ev, input, `cannot tell the Zeek log kind from origin "${ev.origin.path}"; set zeek_log`);
              continue;
            }
            ingestTime ??= new Date().toISOString();
          }
          let doc: Doc;
          try {
            doc = mapper(vendor, { zeekLog, ingestTime, ...mapOptions });
          } catch (e) {
            fail(ev, input, e instanceof EcsShapeError ? e.message : `unexpected error: ${(e as Error).message}`);
            continue;
          }
          if (carried !== undefined) {
            mergeCarried(doc, carried);
            // `add_metadata: ecs` could not write host.name where the event has a `host` of its own
            // (Zeek http's Host header, which the profile maps to url.domain): the node goes there now.
            const h = doc.host;
            if (isObj(carried.log) && (h === undefined || (isObj(h) && h.name === undefined))) doc.host = { ...(isObj(h) ? h : {}), name: ev.origin.host };
          }
          if (wrapperCarried !== undefined) mergeCarried(doc, wrapperCarried);
          if (keepOriginal) (doc.event as Doc).original = original ?? ev.raw ?? JSON.stringify(input);
          let json: string | undefined;
          try {
            json = stringifyEvent(doc);
          } catch {
            // nested too deep to serialise: kept as fields, so the sink refuses this event alone as before
          }
          if (json !== undefined) ev.replaceJson(json);
          else ev.replace(doc);
        }
        emit(events);
      },
    };
  },
};
