/**
 * The `filter` transform: keeps the events for which a CEL condition is true and drops the rest.
 *
 * The condition sees the event as `event` (see `cel.ts` for the conventions). It compiles once at
 * build time; `validate` compiles it too, so `tern validate` reports a bad expression with its
 * column before anything runs. An evaluation error (a field the condition reads is missing, a type
 * mismatch) counts as "no match": the event is dropped and counted in `condition_errors`, because a
 * filter that forwarded what it could not judge would leak exactly the noise it was set up to cut.
 * A line that was not valid JSON arrives as `{message, error, tags: ["_json_parse_failure"]}`
 * and is judged like any event (`has(event.tags) && "_json_parse_failure" in event.tags` selects it).
 *
 * Counters: `events_dropped` (every event not emitted), `condition_errors`, `decode_errors`.
 */
import { optionsSchema, type LogEvent, type TransformDefinition } from '@tern/core';
import { compileCondition, conditionError } from './cel.ts';
import { emitKept, readData } from './shared.ts';

export interface FilterConfig {
  /** CEL expression; the event is `event`. */
  condition: string;
}

export const filterTransform: TransformDefinition<FilterConfig> = {
  kind: 'transform',
  type: 'filter',
  description: 'Keeps events for which a CEL condition is true (the event is the variable `event`); drops and counts the rest.',
  mutates: false,
  schema: optionsSchema<FilterConfig>()({
    type: 'object',
    additionalProperties: false,
    required: ['condition'],
    properties: {
      condition: {
        type: 'string',
        minLength: 1,
        description:
          'CEL expression over the variable `event`. Events for which it is true go on; false, an evaluation error (e.g. a missing field not guarded by `has()`), or a line that is not JSON drop the event.',
        examples: [
          'event.process_exec.process.binary == "/usr/bin/curl"',
          'has(event.process_exec) && event.process_exec.process.pod.namespace in ["payments", "ci"]',
          'event.priority in ["Critical", "Error", "Warning"]',
          'priority_at_least(event.priority, "warning")',
        ],
      },
    },
  }),
  validate(cfg) {
    const err = conditionError(cfg.condition);
    return err === undefined ? undefined : [`condition: ${err}`];
  },
  build(cfg, ctx) {
    const cond = compileCondition(cfg.condition);
    const dropped = ctx.telemetry.counter('events_dropped');
    const condErrors = ctx.telemetry.counter('condition_errors');
    const decodeErrors = ctx.telemetry.counter('decode_errors');
    return {
      process(events, emit) {
        const kept: LogEvent[] = [];
        let errors = 0;
        for (const ev of events) {
          const r = cond.test(readData(ev, decodeErrors));
          if (r === true) kept.push(ev);
          else if (r === undefined) errors++;
        }
        if (errors) condErrors.inc(errors);
        emitKept(events, kept, dropped, emit);
      },
    };
  },
};
