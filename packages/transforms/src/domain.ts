/**
 * The `domain` transform: splits a host name on the public suffix list into ECS
 * `registered_domain`, `top_level_domain` and `subdomain` (`www.google.co.uk` → `google.co.uk`,
 * `co.uk`, `www`), as Elasticsearch's `registered_domain` ingest processor does. The list is
 * `tldts`'s copy of publicsuffix.org (MIT), ICANN and private sections both, as Elastic's matcher
 * uses the whole list (`foo.github.io` is registered under `github.io`).
 *
 * Like Elastic: a name that is itself a public suffix gets only `top_level_domain`; a name whose
 * suffix is not on the list (`printer.local`) or an IP address gets nothing; input is matched
 * lower-cased without a trailing dot. The `ecs` transform's Zeek dns profile calls `splitDomain`
 * where Elastic's Zeek pipeline runs the processor.
 */
import { getPath, parsePath, pathError, setPath, type FieldPath, optionsSchema, type TransformDefinition } from '@tern/core';
import { parse } from 'tldts';
import { pathSchema } from './shared.ts';

export interface DomainParts {
  registered_domain?: string;
  top_level_domain?: string;
  subdomain?: string;
}

const OPTIONS = { allowPrivateDomains: true, extractHostname: false, detectIp: true, validateHostname: false } as const;

/** The public-suffix split of a host name, or undefined when it has none (unlisted suffix, IP, empty). */
export function splitDomain(name: string): DomainParts | undefined {
  let host = name.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') return undefined;
  const r = parse(host, OPTIONS);
  if (r.isIp === true || (r.isIcann !== true && r.isPrivate !== true) || r.publicSuffix === null) return undefined;
  if (r.domain === null) return r.publicSuffix === host ? { top_level_domain: host } : undefined;
  const out: DomainParts = { registered_domain: r.domain, top_level_domain: r.publicSuffix };
  if (r.subdomain) out.subdomain = r.subdomain;
  return out;
}

export interface DomainConfig {
  field: string;
  target?: string;
}

export const domainTransform: TransformDefinition<DomainConfig> = {
  kind: 'transform',
  type: 'domain',
  description: 'Splits a host name on the public suffix list into registered_domain, top_level_domain and subdomain, as Elasticsearch\'s registered_domain processor does.',
  mutates: true,
  schema: optionsSchema<DomainConfig>()({
    type: 'object',
    additionalProperties: false,
    required: ['field'],
    properties: {
      field: pathSchema('Field holding the host name; events without it, or whose name has no listed public suffix, pass unchanged.', ['url.domain', 'dns.question.name', 'destination.domain']),
      target: pathSchema('Object to write registered_domain, top_level_domain and subdomain into. Default: the object holding `field` (`url.domain` → `url`), where ECS puts them.', ['url', 'dns.question']),
    },
  }),
  validate(cfg) {
    const errors: string[] = [];
    const f = pathError(cfg.field);
    if (f !== undefined) errors.push(`field: ${f}`);
    if (cfg.target !== undefined) {
      const t = pathError(cfg.target);
      if (t !== undefined) errors.push(`target: ${t}`);
    } else if (f === undefined && parsePath(cfg.field).length < 2) {
      errors.push('target: required when field is at the top level (there is no object holding it)');
    }
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const field = parsePath(cfg.field);
    const target: FieldPath = cfg.target !== undefined ? parsePath(cfg.target) : field.slice(0, -1);
    const split = ctx.telemetry.counter('events_split');
    return {
      process(events, emit) {
        for (const ev of events) {
          let name: unknown;
          try {
            name = getPath(ev.data, field);
          } catch {
            continue;
          }
          if (typeof name !== 'string') continue;
          const parts = splitDomain(name);
          if (parts === undefined) continue;
          const d = ev.mutate();
          for (const [k, v] of Object.entries(parts)) setPath(d, [...target, k], v);
          split.inc();
        }
        emit(events);
      },
    };
  },
};
