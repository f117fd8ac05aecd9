/**
 * The `geoip` transform: looks IP addresses up in MaxMind-format databases the user supplies
 * (GeoLite2/GeoIP2 City, Country or ASN, or DB-IP's lite databases, which use the same format) and
 * writes ECS `<x>.geo.*` and `<x>.as.*` next to each `<x>.ip`, with the properties Elasticsearch's
 * `geoip` processor writes by default and the ASN renames Elastic's integrations apply
 * (`as.number`, `as.organization.name`). Opt-in: no database ships with tern.
 *
 * Reading uses the `maxmind` package (MIT; the `mmdb-lib` reader plus an LRU cache). Databases are
 * opened when the pipeline starts — a missing or unreadable file fails the start with its path —
 * and re-read when the file changes on disk (a `geoipupdate` cron or a refreshed Secret), without
 * a restart. What a record holds decides what is written: `autonomous_system_number` → `as`,
 * location data → `geo`, so one transform may list a City and an ASN database together. A list
 * of addresses (Kubernetes audit `source.ip`) is looked up to its first address found, as Elastic's
 * `first_only` does. Addresses not in a database (private ranges) leave the event unchanged.
 */
import { resolve } from 'node:path';
import { getPath, parsePath, setPath, TernError, type FieldPath, optionsSchema, type TransformDefinition } from '@tern/core';
import { open, type Reader, type Response } from 'maxmind';
import { pathListErrors } from './shared.ts';

type Names = { names?: Record<string, string> };
interface MmdbRecord {
  continent?: Names & { code?: string };
  country?: Names & { iso_code?: string };
  subdivisions?: Array<Names & { iso_code?: string }>;
  city?: Names;
  location?: { latitude?: number; longitude?: number; time_zone?: string };
  autonomous_system_number?: number;
  autonomous_system_organization?: string;
}

/** ECS `geo` from a City/Country record: Elastic's default properties (continent, country, region, city, location). */
export function geoFields(r: MmdbRecord): Record<string, unknown> | undefined {
  const geo: Record<string, unknown> = {};
  const en = (x: Names | undefined): string | undefined => x?.names?.en;
  const continent = en(r.continent);
  if (continent !== undefined) geo.continent_name = continent;
  const iso = r.country?.iso_code;
  if (iso !== undefined) geo.country_iso_code = iso;
  const country = en(r.country);
  if (country !== undefined) geo.country_name = country;
  // Elastic takes the most specific subdivision (the last), with the country prefix on its code.
  const sub = r.subdivisions?.[r.subdivisions.length - 1];
  if (sub?.iso_code !== undefined && iso !== undefined) geo.region_iso_code = `${iso}-${sub.iso_code}`;
  const region = en(sub);
  if (region !== undefined) geo.region_name = region;
  const city = en(r.city);
  if (city !== undefined) geo.city_name = city;
  const lat = r.location?.latitude;
  const lon = r.location?.longitude;
  if (typeof lat === 'number' && typeof lon === 'number') geo.location = { lat, lon };
  return Object.keys(geo).length > 0 ? geo : undefined;
}

/** ECS `as` from an ASN record (Elastic's integrations rename asn/organization_name to these). */
export function asFields(r: MmdbRecord): Record<string, unknown> | undefined {
  if (typeof r.autonomous_system_number !== 'number') return undefined;
  const as: Record<string, unknown> = { number: r.autonomous_system_number };
  if (typeof r.autonomous_system_organization === 'string') as.organization = { name: r.autonomous_system_organization };
  return as;
}

/** Options as the schema completes them. */
export interface GeoipConfig {
  readonly database: string | readonly string[];
  readonly fields: readonly string[];
  readonly cache_size: number;
}

const DEFAULT_FIELDS = ['source.ip', 'destination.ip', 'client.ip', 'server.ip'];

export const geoipTransform: TransformDefinition<GeoipConfig> = {
  kind: 'transform',
  type: 'geoip',
  description: 'Looks IP addresses up in MaxMind-format databases (GeoLite2/GeoIP2 City, Country, ASN; DB-IP lite) and writes ECS <x>.geo.* and <x>.as.* next to each <x>.ip.',
  mutates: true,
  schema: optionsSchema<GeoipConfig>()({
    type: 'object',
    additionalProperties: false,
    required: ['database'],
    properties: {
      database: {
        description: 'Path of a .mmdb database, or a list (for example a City and an ASN database). Relative to the pipeline file. Re-read when the file changes.',
        oneOf: [
          { type: 'string', minLength: 1 },
          { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        ],
        examples: ['/usr/share/GeoIP/GeoLite2-City.mmdb', ['/geoip/GeoLite2-City.mmdb', '/geoip/GeoLite2-ASN.mmdb']],
      },
      fields: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', minLength: 1 },
        default: DEFAULT_FIELDS,
        description: 'IP fields to look up; each `<x>.ip` gets `<x>.geo` and `<x>.as` beside it (a field not ending in `.ip` gets `<field>_geo` / `<field>_as`). A list of addresses uses its first address found.',
        examples: [['source.ip', 'destination.ip'], ['client.ip']],
      },
      cache_size: { type: 'integer', minimum: 1, default: 10000, description: 'Lookups kept in an LRU cache per database.', examples: [100000] },
    },
  }),
  validate(cfg) {
    const errors = pathListErrors('fields', cfg.fields);
    return errors.length ? errors : undefined;
  },
  async build(cfg, ctx) {
    const files = (Array.isArray(cfg.database) ? cfg.database : [cfg.database]).map((f) => resolve(ctx.configDir, f));
    const readers: Array<Reader<Response>> = [];
    for (const file of files) {
      try {
        readers.push(await open<Response>(file, { cache: { max: cfg.cache_size }, watchForUpdates: true, watchForUpdatesNonPersistent: true }));
      } catch (err) {
        throw new TernError('TERN_ERR_BUILD', `geoip: cannot open the database ${file}: ${(err as Error).message}; point database at a MaxMind-format .mmdb file (GeoLite2, GeoIP2 or DB-IP lite)`, { cause: err });
      }
    }
    const targets = cfg.fields.map((f) => {
      const p = parsePath(f);
      const last = p[p.length - 1] as string;
      const at = (name: string): FieldPath => [...p.slice(0, -1), last === 'ip' ? name : `${last}_${name}`];
      return { field: p, geo: at('geo'), as: at('as') };
    });
    const found = ctx.telemetry.counter('ips_found');
    const lookup = (ip: string): { geo?: Record<string, unknown>; as?: Record<string, unknown> } | undefined => {
      let geo: Record<string, unknown> | undefined;
      let as: Record<string, unknown> | undefined;
      for (const r of readers) {
        let rec: MmdbRecord | null;
        try {
          rec = r.get(ip) as MmdbRecord | null;
        } catch {
          return undefined; // not an IP address
        }
        if (rec === null) continue;
        geo ??= geoFields(rec);
        as ??= asFields(rec);
      }
      return geo === undefined && as === undefined ? undefined : { ...(geo ? { geo } : {}), ...(as ? { as } : {}) };
    };
    return {
      process(events, emit) {
        for (const ev of events) {
          let data;
          try {
            data = ev.data;
          } catch {
            continue;
          }
          for (const t of targets) {
            const v = getPath(data, t.field);
            let hit: ReturnType<typeof lookup>;
            if (typeof v === 'string') hit = lookup(v);
            else if (Array.isArray(v)) {
              for (const x of v) if (typeof x === 'string' && (hit = lookup(x)) !== undefined) break;
            }
            if (hit === undefined) continue;
            // Each lookup builds fresh objects (the reader caches records, not these), so no copy is needed.
            const d = ev.mutate();
            if (hit.geo) setPath(d, t.geo, hit.geo);
            if (hit.as) setPath(d, t.as, hit.as);
            found.inc();
          }
        }
        emit(events);
      },
    };
  },
};
