/**
 * The `route` transform: splits a stream into named outputs by CEL conditions. Consumers name an
 * output as `<id>.<route>` in their `inputs`; events that match no route go to `<id>._unmatched`.
 *
 * Semantics follow Vector's `route`: routes are not exclusive — an event goes to every route whose
 * condition is true (the engine copies it for consumers that change events), and to `_unmatched`
 * only when none matched. Conditions compile once; an evaluation error means "this route does not
 * match" and is counted in `condition_errors`. A line that was not valid JSON is routed like
 * any event by its `{message, error, tags}` fields (usually to `_unmatched`); routing never loses an
 * event.
 *
 * Counters: `condition_errors`, `decode_errors`, `events_unmatched`.
 */
import { optionsSchema, type LogEvent, type TransformDefinition } from '@tern/core';
import { compileCondition, conditionError } from './cel.ts';
import { readData } from './shared.ts';

export interface RouteConfig {
  /** Route name → CEL condition over `event`. */
  routes: Record<string, string>;
}

export const UNMATCHED_OUTPUT = '_unmatched';
const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export const routeTransform: TransformDefinition<RouteConfig> = {
  kind: 'transform',
  type: 'route',
  description: 'Sends each event to every named output whose CEL condition it matches, or to `_unmatched`.',
  mutates: false,
  schema: optionsSchema<RouteConfig>()({
    type: 'object',
    additionalProperties: false,
    required: ['routes'],
    properties: {
      routes: {
        type: 'object',
        minProperties: 1,
        description:
          'Route name → CEL condition over `event`. An event goes to every route it matches (routes are not exclusive); events matching none go to `_unmatched`. Consumers read `<id>.<route name>`.',
        propertyNames: { pattern: ROUTE_NAME.source },
        additionalProperties: { type: 'string', minLength: 1 },
        examples: [
          {
            exec: 'has(event.process_exec)',
            shells: 'has(event.process_exec) && event.process_exec.process.binary.matches("/(ba|z|da)?sh$")',
            critical: 'has(event.priority) && event.priority == "Critical"',
          },
        ],
      },
    },
  }),
  outputs(cfg) {
    return [...Object.keys(cfg.routes), UNMATCHED_OUTPUT];
  },
  validate(cfg) {
    const errors: string[] = [];
    for (const [name, cond] of Object.entries(cfg.routes)) {
      if (name === UNMATCHED_OUTPUT) errors.push(`routes.${name}: "${UNMATCHED_OUTPUT}" is the reserved output for events that match no route`);
      else if (!ROUTE_NAME.test(name)) errors.push(`routes.${name}: route names use letters, digits, "_" and "-" (consumers write "<id>.<name>")`);
      const err = conditionError(cond);
      if (err !== undefined) errors.push(`routes.${name}: ${err}`);
    }
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const routes = Object.entries(cfg.routes).map(([name, cond]) => ({ name, cond: compileCondition(cond) }));
    const condErrors = ctx.telemetry.counter('condition_errors');
    const decodeErrors = ctx.telemetry.counter('decode_errors');
    const unmatchedCount = ctx.telemetry.counter('events_unmatched');
    return {
      process(events, emit) {
        const outs: LogEvent[][] = routes.map(() => []);
        const unmatched: LogEvent[] = [];
        let errors = 0;
        for (const ev of events) {
          const data = readData(ev, decodeErrors);
          let matched = false;
          for (let r = 0; r < routes.length; r++) {
            const res = (routes[r] as (typeof routes)[number]).cond.test(data);
            if (res === true) {
              (outs[r] as LogEvent[]).push(ev);
              matched = true;
            } else if (res === undefined) errors++;
          }
          if (!matched) unmatched.push(ev);
        }
        if (errors) condErrors.inc(errors);
        for (let r = 0; r < routes.length; r++) {
          const out = outs[r] as LogEvent[];
          if (out.length) emit(out, (routes[r] as (typeof routes)[number]).name);
        }
        if (unmatched.length) {
          unmatchedCount.inc(unmatched.length);
          emit(unmatched, UNMATCHED_OUTPUT);
        }
      },
    };
  },
};
