/**
 * Telemetry per component: counters, gauges and histograms. Hot paths count instead of logging (one
 * log line per malformed event would flood a node's logs); the engine logs a summary of the counters
 * periodically and at shutdown, tests assert on them, and the HTTP API exports all three as
 * Prometheus metrics (metrics.ts names them).
 *
 * Costs are chosen for the data path: a counter is one addition, a histogram observation a short
 * bucket search, and a gauge costs nothing until a scrape reads it (it is a function the component
 * registers, so buffer fill or file lag is computed only when someone asks).
 */

export class Counter {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

/** Labels of one gauge sample (for example `{ path }` of a file). */
export type Labels = Readonly<Record<string, string>>;

/** A gauge is read at scrape time: one value, or one value per label set. */
export type GaugeRead = () => number | Iterable<readonly [Labels, number]>;

/**
 * Cumulative histogram with fixed upper bounds (Prometheus `le` buckets). `counts[i]` holds the
 * observations `<= bounds[i]` that no smaller bound took; the last slot is `+Inf`.
 */
export class Histogram {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += v;
    this.count++;
  }
}

export class ComponentTelemetry {
  readonly id: string;
  /** `source`, `transform` or `sink`, and the component's type, once the engine described it (metric labels). */
  kind = '';
  type = '';
  private readonly counters = new Map<string, Counter>();
  private readonly gaugeReads = new Map<string, GaugeRead>();
  private readonly histos = new Map<string, Histogram>();

  constructor(id: string) {
    this.id = id;
  }

  /** A named counter (`events_in`, `events_out`, `events_dropped`, `decode_errors`, ...). */
  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter();
      this.counters.set(name, c);
    }
    return c;
  }

  /**
   * Registers (or replaces) the gauge `name`, read when metrics are scraped. A component rebuilt by a
   * reload registers its own in place of the old one's.
   */
  gauge(name: string, read: GaugeRead): void {
    this.gaugeReads.set(name, read);
  }

  /**
   * Remembers the gauges registered now; the returned function puts them back. A reload builds a
   * component's replacement while it runs, and a refused reload discards the replacement: its gauges
   * must not stand in for the running instance's.
   */
  keepGauges(): () => void {
    const saved = new Map(this.gaugeReads);
    return () => {
      this.gaugeReads.clear();
      for (const [name, read] of saved) this.gaugeReads.set(name, read);
    };
  }

  /** A named histogram with these bucket bounds (the first registration's bounds stay). */
  histogram(name: string, bounds: readonly number[]): Histogram {
    let h = this.histos.get(name);
    if (!h) {
      h = new Histogram(bounds);
      this.histos.set(name, h);
    }
    return h;
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, c] of this.counters) out[k] = c.value;
    return out;
  }

  /** Every gauge's current samples (a gauge that throws is left out: a scrape must not fail on one). */
  gauges(): Array<{ name: string; samples: Array<readonly [Labels, number]> }> {
    const out: Array<{ name: string; samples: Array<readonly [Labels, number]> }> = [];
    for (const [name, read] of this.gaugeReads) {
      let v: ReturnType<GaugeRead>;
      try {
        v = read();
      } catch {
        continue;
      }
      out.push({ name, samples: typeof v === 'number' ? [[{}, v]] : [...v] });
    }
    return out;
  }

  /** Current value of a gauge without labels (undefined when not registered). */
  gaugeValue(name: string): number | undefined {
    const read = this.gaugeReads.get(name);
    if (read === undefined) return undefined;
    const v = read();
    return typeof v === 'number' ? v : undefined;
  }

  histograms(): ReadonlyMap<string, Histogram> {
    return this.histos;
  }
}

export class Telemetry {
  private readonly components = new Map<string, ComponentTelemetry>();

  component(id: string): ComponentTelemetry {
    let t = this.components.get(id);
    if (!t) {
      t = new ComponentTelemetry(id);
      this.components.set(id, t);
    }
    return t;
  }

  /** Forgets a component that a reload removed (its series leave /metrics). */
  remove(id: string): void {
    this.components.delete(id);
  }

  all(): IterableIterator<ComponentTelemetry> {
    return this.components.values();
  }

  snapshot(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [id, t] of this.components) out[id] = t.snapshot();
    return out;
  }
}
