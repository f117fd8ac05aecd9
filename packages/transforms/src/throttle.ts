/**
 * The `throttle` transform: lets at most `threshold` events per `window_ms` through for each value
 * of `key_field` (or for the whole stream without it) and drops the excess.
 *
 * Windows are fixed per key and start with the key's first event (a burst after a quiet period gets
 * its full `threshold` at once, then waits out the window). Keys live in an LRU map bounded by
 * `max_keys`: a flood of distinct keys (a fork bomb of PIDs) cannot grow memory, at the price that
 * an evicted key starts a fresh window when it comes back (`keys_evicted` counts how often).
 * Time is read once per batch from an injectable clock (`createThrottle`), so tests drive it.
 *
 * Drops are counted in `events_dropped` and per key (`droppedByKey`, cumulative while the key is
 * tracked); at most once a minute an info log names the keys that lost the most events since the
 * last one, so an operator learns what is being throttled without a log line per event.
 * Events matching `exclude` (CEL) are never throttled and do not use up the budget. An event
 * without the key field (e.g. a line that was not valid JSON) counts against the key `""`.
 */
import { getPath, LruMap, parsePath, type ComponentContext, type LogEvent, type Transform, optionsSchema, type TransformDefinition } from '@tern/core';
import { compileCondition } from './cel.ts';
import { keyAndExcludeErrors, keyString, readData } from './shared.ts';

/** Options as the schema completes them. */
export interface ThrottleConfig {
  readonly threshold: number;
  readonly window_ms: number;
  readonly key_field?: string;
  readonly max_keys: number;
  readonly exclude?: string;
}

export const DEFAULT_WINDOW_MS = 1000;
export const DEFAULT_MAX_KEYS = 10_000;
const REPORT_EVERY_MS = 60_000;

interface KeyState {
  start: number;
  count: number;
  dropped: number;
}

export interface ThrottleTransform extends Transform {
  /** Events dropped for `key` since it entered the key map (0 when untracked). */
  droppedByKey(key: string): number;
  /** Number of keys tracked now. */
  readonly trackedKeys: number;
}

/** Builds a throttle with an explicit clock (the definition passes `Date.now`). */
export function createThrottle(cfg: ThrottleConfig, ctx: ComponentContext, now: () => number = Date.now): ThrottleTransform {
  const threshold = Math.max(0, Math.floor(cfg.threshold));
  const windowMs = Math.max(1, Math.floor(cfg.window_ms));
  const key = cfg.key_field === undefined ? undefined : parsePath(cfg.key_field);
  const exclude = cfg.exclude === undefined ? undefined : compileCondition(cfg.exclude);
  const keys = new LruMap<string, KeyState>(cfg.max_keys);
  const dropped = ctx.telemetry.counter('events_dropped');
  const evicted = ctx.telemetry.counter('keys_evicted');
  const condErrors = ctx.telemetry.counter('condition_errors');
  const decodeErrors = ctx.telemetry.counter('decode_errors');
  // Drops per key since the last report, for the periodic summary log.
  let sinceReport = new Map<string, number>();
  let lastReport = now();

  const report = (t: number) => {
    if (t - lastReport < REPORT_EVERY_MS) return;
    lastReport = t;
    if (sinceReport.size === 0) return;
    const top = [...sinceReport].sort((a, b) => b[1] - a[1]).slice(0, 5);
    ctx.logger.info({ keys: sinceReport.size, top: Object.fromEntries(top), window_ms: windowMs, threshold }, 'throttled events');
    sinceReport = new Map();
  };

  return {
    get trackedKeys() {
      return keys.size;
    },
    droppedByKey(k: string): number {
      return keys.peek(k)?.dropped ?? 0;
    },
    process(events: LogEvent[], emit): void {
      const t = now();
      const kept: LogEvent[] = [];
      let drops = 0;
      for (const ev of events) {
        let k = '';
        if (key !== undefined || exclude !== undefined) {
          const data = readData(ev, decodeErrors);
          if (exclude !== undefined) {
            const r = exclude.test(data);
            if (r === true) {
              kept.push(ev);
              continue;
            }
            if (r === undefined) condErrors.inc();
          }
          if (key !== undefined) {
            const v = getPath(data, key);
            if (v !== undefined) k = keyString(v);
          }
        }
        let st = keys.get(k);
        if (st === undefined || t - st.start >= windowMs) {
          if (st === undefined) {
            st = { start: t, count: 0, dropped: 0 };
            if (keys.set(k, st) !== undefined) evicted.inc();
          } else {
            st.start = t;
            st.count = 0;
          }
        }
        if (st.count < threshold) {
          st.count++;
          kept.push(ev);
        } else {
          st.dropped++;
          drops++;
          sinceReport.set(k, (sinceReport.get(k) ?? 0) + 1);
        }
      }
      if (drops) dropped.inc(drops);
      report(t);
      if (kept.length) emit(kept);
    },
  };
}

export const throttleTransform: TransformDefinition<ThrottleConfig> = {
  kind: 'transform',
  type: 'throttle',
  description: 'Lets at most `threshold` events per `window_ms` through per `key_field` value; drops and counts the excess.',
  mutates: false,
  schema: optionsSchema<ThrottleConfig>()({
    type: 'object',
    additionalProperties: false,
    required: ['threshold'],
    properties: {
      threshold: {
        type: 'integer',
        minimum: 0,
        description: 'Events allowed per window and key (0 drops every event not matching `exclude`).',
        examples: [100, 1000],
      },
      window_ms: {
        type: 'integer',
        minimum: 1,
        default: DEFAULT_WINDOW_MS,
        description: "Window length in milliseconds; a key's window starts with its first event.",
        examples: [1000, 60000],
      },
      key_field: {
        type: 'string',
        minLength: 1,
        description: 'Field whose value gets its own budget (events without it share the key ""). Default: one budget for the whole stream.',
        examples: ['process_exec.process.pod.name', 'rule', 'process_kprobe.process.binary'],
      },
      max_keys: {
        type: 'integer',
        minimum: 1,
        default: DEFAULT_MAX_KEYS,
        description: 'Most keys tracked at once; the least recently seen key is forgotten beyond it (and starts a fresh window if it returns).',
        examples: [10000],
      },
      exclude: {
        type: 'string',
        minLength: 1,
        description: 'CEL condition over `event`; matching events are never throttled. Default: none.',
        examples: ['event.priority == "Critical"'],
      },
    },
  }),
  validate: keyAndExcludeErrors,
  build(cfg, ctx) {
    return createThrottle(cfg, ctx);
  },
};
