/**
 * Counters per component. Hot paths count instead of logging (one log line per malformed event would
 * flood a node's logs); the engine logs a summary of the counters periodically and at shutdown, and
 * tests assert on them.
 */

export class Counter {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

export class ComponentTelemetry {
  readonly id: string;
  private readonly counters = new Map<string, Counter>();

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

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, c] of this.counters) out[k] = c.value;
    return out;
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

  snapshot(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [id, t] of this.components) out[id] = t.snapshot();
    return out;
  }
}
