/**
 * Prometheus metrics: what `GET /metrics` answers, through prom-client (its registry, text format and
 * the process/Node.js default metrics).
 *
 * Components keep their numbers in telemetry.ts (plain counters on the data path, gauges read on
 * demand, histograms); nothing here runs until a scrape, which converts them to Prometheus families:
 *
 * - every component counter `x` becomes the counter `tern_x_total` (those that carry a unit put it
 *   last: `bytes_read` becomes `tern_read_bytes_total`, `event_bytes_in`
 *   `tern_received_event_bytes_total`; see `UNIT_COUNTERS`), labelled with
 *   `component`, `component_kind` and `component_type`;
 * - the gauges and histograms of `METRIC_CATALOG` keep their catalog names (unit-suffixed:
 *   `_seconds`, `_bytes`, `_events`);
 * - the engine's own gauges (in-flight budget, reloads, build info) come from `EngineState`.
 *
 * docs/metrics.md lists every name; a test keeps it, this catalog and the counters in the sources in
 * sync (as docs/errors.md is kept with the error codes).
 */
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { Histogram, Labels, Telemetry } from './telemetry.ts';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface CatalogEntry {
  readonly type: MetricType;
  readonly help: string;
  /** Labels beyond component, component_kind, component_type. */
  readonly labels?: readonly string[];
  /** Histogram bucket bounds. */
  readonly buckets?: readonly number[];
}

/** Request latency buckets, seconds: from a loopback answer to a server at the edge of the timeout. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
export const BATCH_EVENT_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
export const BATCH_BYTE_BUCKETS = [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];

/**
 * Gauges and histograms components register, by their telemetry name, and the engine's own metrics
 * (names starting with `tern_`). Counters follow the naming rule instead (`counterMetricName`).
 */
export const METRIC_CATALOG = {
  // Sinks (the delivery kit)
  buffer_events: { type: 'gauge', help: 'Events held in the sink\'s buffer (memory or disk), waiting for delivery.' },
  buffer_bytes: { type: 'gauge', help: 'Bytes held in the sink\'s buffer.' },
  buffer_max_events: { type: 'gauge', help: 'Capacity of the sink\'s buffer in events (0 for a disk buffer, which is bounded by bytes).' },
  buffer_max_bytes: { type: 'gauge', help: 'Capacity of the sink\'s buffer in bytes.' },
  requests_in_flight: { type: 'gauge', help: 'Requests the sink has outstanding (sending, or sleeping before a retry).' },
  sink_state: { type: 'gauge', help: 'The sink\'s state: 1 for the current one of starting (healthcheck not passed yet), healthy, retrying, paused.', labels: ['state'] },
  request_duration_seconds: { type: 'histogram', help: 'Time from sending a request to its answer, per attempt (failed attempts included).', buckets: LATENCY_BUCKETS },
  batch_events: { type: 'histogram', help: 'Events per batch the sink closed (one request each).', buckets: BATCH_EVENT_BUCKETS },
  batch_bytes: { type: 'histogram', help: 'Estimated encoded bytes per batch the sink closed.', buckets: BATCH_BYTE_BUCKETS },
  // Sources
  file_lag_bytes: { type: 'gauge', help: 'Per file a file source follows: bytes between what it read and the end of the file.', labels: ['path'] },
  checkpoint_age_seconds: { type: 'gauge', help: 'Seconds since the source last wrote its checkpoint successfully (since start when it has not yet).' },
  // Engine
  tern_in_flight_events: { type: 'gauge', help: 'Events read and not yet admitted by every sink (the in-flight budget in use).' },
  tern_in_flight_bytes: { type: 'gauge', help: 'Raw input bytes of the events in flight.' },
  tern_in_flight_max_events: { type: 'gauge', help: 'The in-flight budget in events (in_flight.max_events).' },
  tern_in_flight_max_bytes: { type: 'gauge', help: 'The in-flight budget in bytes (in_flight.max_bytes).' },
  tern_config_reloads_total: { type: 'counter', help: 'Configuration reloads, by result (applied, rejected: the file failed validation, a component failed to build, or a changed source failed when it ran and went back to its previous options, after counting as applied).', labels: ['result'] },
  tern_config_last_reload_success_timestamp_seconds: { type: 'gauge', help: 'When the running configuration was applied (start-up or the last successful reload), in seconds since the epoch.' },
  tern_ready: { type: 'gauge', help: '1 when /readyz answers ready: the configuration is running and every sink passed its healthcheck or is buffering.' },
  tern_build_info: { type: 'gauge', help: 'Always 1; the version label says which tern this is.', labels: ['version'] },
} as const satisfies Record<string, CatalogEntry>;

/**
 * What every sink must expose (the conformance kit checks it, so no new sink can skip one): its
 * counters, gauges and histograms by telemetry name. Sinks on the delivery kit get all of them.
 */
export const REQUIRED_SINK_METRICS = {
  counters: ['events_in', 'event_bytes_in', 'events_delivered', 'events_rejected', 'events_dead_lettered', 'events_dropped', 'requests', 'retries', 'bytes_sent'],
  gauges: ['buffer_events', 'buffer_bytes', 'buffer_max_events', 'buffer_max_bytes', 'requests_in_flight', 'sink_state'],
  histograms: ['request_duration_seconds', 'batch_events', 'batch_bytes'],
} as const;

/** Counters whose name carries a unit: Prometheus wants the unit before `_total`. */
const UNIT_COUNTERS: Readonly<Record<string, string>> = {
  bytes_read: 'tern_read_bytes_total',
  bytes_sent: 'tern_sent_bytes_total',
  event_bytes_in: 'tern_received_event_bytes_total',
  event_bytes_out: 'tern_sent_event_bytes_total',
  buffer_corrupt_bytes: 'tern_buffer_corrupt_bytes_total',
};

/** The Prometheus name of a component counter. */
export function counterMetricName(counter: string): string {
  return UNIT_COUNTERS[counter] ?? `tern_${counter}_total`;
}

/** The Prometheus name of a catalog gauge or histogram a component registers. */
export function componentMetricName(name: string): string {
  return name.startsWith('tern_') ? name : `tern_${name}`;
}

/** What the engine reports at scrape time besides component telemetry. */
export interface EngineState {
  readonly inFlight?: () => { events: number; bytes: number; maxEvents: number; maxBytes: number } | undefined;
  readonly reloads?: () => { applied: number; rejected: number; lastAppliedMs: number };
  readonly ready?: () => boolean;
}

const BASE_LABELS = ['component', 'component_kind', 'component_type'] as const;

interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** A metric family computed at scrape time, in the shape prom-client's registry formats. */
class Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum';
  private readonly read: () => Sample[];

  constructor(name: string, help: string, type: MetricType, read: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.read = read;
  }

  get(): { name: string; help: string; type: MetricType; aggregator: string; values: Sample[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() };
  }

  reset(): void {}
}

function histogramSamples(name: string, labels: Record<string, string>, h: Histogram): Sample[] {
  const out: Sample[] = [];
  let cum = 0;
  h.bounds.forEach((le, i) => {
    cum += h.counts[i] as number;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cum });
  });
  cum += h.counts[h.bounds.length] as number;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cum });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

/** The metrics of one process: a prom-client registry fed by the telemetry and the engine state. */
export class Metrics {
  readonly registry = new Registry();
  private readonly telemetry: Telemetry;
  private readonly engine: EngineState;
  private readonly known = new Set<string>();

  constructor(telemetry: Telemetry, engine: EngineState = {}, opts: { version?: string; processMetrics?: boolean } = {}) {
    this.telemetry = telemetry;
    this.engine = engine;
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const version = opts.version ?? '0.0.0';
    const C = METRIC_CATALOG;
    this.add('tern_build_info', C.tern_build_info.help, 'gauge', () => [{ labels: { version }, value: 1 }]);
    this.add('tern_ready', C.tern_ready.help, 'gauge', () => (engine.ready ? [{ labels: {}, value: engine.ready() ? 1 : 0 }] : []));
    const budget = (k: 'events' | 'bytes' | 'maxEvents' | 'maxBytes') => (): Sample[] => {
      const b = engine.inFlight?.();
      return b ? [{ labels: {}, value: b[k] }] : [];
    };
    this.add('tern_in_flight_events', C.tern_in_flight_events.help, 'gauge', budget('events'));
    this.add('tern_in_flight_bytes', C.tern_in_flight_bytes.help, 'gauge', budget('bytes'));
    this.add('tern_in_flight_max_events', C.tern_in_flight_max_events.help, 'gauge', budget('maxEvents'));
    this.add('tern_in_flight_max_bytes', C.tern_in_flight_max_bytes.help, 'gauge', budget('maxBytes'));
    this.add('tern_config_reloads_total', C.tern_config_reloads_total.help, 'counter', () => {
      const r = engine.reloads?.();
      return r ? [{ labels: { result: 'applied' }, value: r.applied }, { labels: { result: 'rejected' }, value: r.rejected }] : [];
    });
    this.add('tern_config_last_reload_success_timestamp_seconds', C.tern_config_last_reload_success_timestamp_seconds.help, 'gauge', () => {
      const r = engine.reloads?.();
      return r && r.lastAppliedMs > 0 ? [{ labels: {}, value: r.lastAppliedMs / 1000 }] : [];
    });
  }

  private add(name: string, help: string, type: MetricType, read: () => Sample[]): void {
    this.known.add(name);
    this.registry.registerMetric(new Family(name, help, type, read) as unknown as Metric);
  }

  private base(t: { id: string; kind: string; type: string }): Record<string, string> {
    return { [BASE_LABELS[0]]: t.id, [BASE_LABELS[1]]: t.kind, [BASE_LABELS[2]]: t.type };
  }

  /** Registers families for counters, gauges and histograms that appeared since the last scrape. */
  private discover(): void {
    for (const t of this.telemetry.all()) {
      for (const name of Object.keys(t.snapshot())) {
        const metric = counterMetricName(name);
        if (this.known.has(metric)) continue;
        this.add(metric, `Component counter ${name} (docs/metrics.md).`, 'counter', () => {
          const out: Sample[] = [];
          for (const c of this.telemetry.all()) {
            const v = c.snapshot()[name];
            if (v !== undefined) out.push({ labels: this.base(c), value: v });
          }
          return out;
        });
      }
      for (const { name } of t.gauges()) {
        const entry = (METRIC_CATALOG as Record<string, CatalogEntry>)[name];
        const metric = componentMetricName(name);
        if (entry === undefined || entry.type !== 'gauge' || this.known.has(metric)) continue;
        this.add(metric, entry.help, 'gauge', () => {
          const out: Sample[] = [];
          for (const c of this.telemetry.all()) {
            for (const g of c.gauges()) {
              if (g.name !== name) continue;
              for (const [labels, value] of g.samples) out.push({ labels: { ...this.base(c), ...(labels as Labels) }, value });
            }
          }
          return out;
        });
      }
      for (const name of t.histograms().keys()) {
        const entry = (METRIC_CATALOG as Record<string, CatalogEntry>)[name];
        const metric = componentMetricName(name);
        if (entry === undefined || entry.type !== 'histogram' || this.known.has(metric)) continue;
        this.add(metric, entry.help, 'histogram', () => {
          const out: Sample[] = [];
          for (const c of this.telemetry.all()) {
            const h = c.histograms().get(name);
            if (h !== undefined) out.push(...histogramSamples(metric, this.base(c), h));
          }
          return out;
        });
      }
    }
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    this.discover();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
