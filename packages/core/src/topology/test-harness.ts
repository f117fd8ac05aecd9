/**
 * `tern test`: unit tests of a pipeline's logic, as `vector test` does. A test hands events to one
 * component and checks what comes out of another, through the real transforms wired by the real
 * router, with no source reading files and no sink reaching a server: each sink is replaced by a
 * recorder of what it receives, and each output is watched with a tap that serialises what passes
 * (a later stage may change shared events).
 *
 * Conditions are CEL expressions over `event` (the same language as `filter` and `route`); the
 * compiler comes from the caller (the CLI knows the transforms package that owns CEL). Every
 * extracted event must satisfy every condition of its output, and at least one event must come out
 * unless `count` says how many exactly.
 */
import type { Logger } from 'pino';
import type { PipelineConfig, PipelineTest } from '../config/types.ts';
import { AckGroup } from '../event/ack.ts';
import { decodeLine } from '../io/decode.ts';
import { LogEvent, type EventData, type EventOrigin } from '../event/event.ts';
import type { ComponentContext, Sink, Transform } from '../plugin/types.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import { parseInput } from './graph.ts';
import { Router, type Consumer, type TransformNode } from './router.ts';

export type ConditionCompiler = (source: string) => (data: EventData) => boolean | undefined;

export interface TestOutcome {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly ok: boolean;
  /** One line per failed expectation, saying what was expected and what came out. */
  readonly failures: readonly string[];
  /** Events seen per watched output or sink. */
  readonly seen: Readonly<Record<string, number>>;
}

const INSERT = '__tern_test_insert__';

/** Runs one test case against fresh instances of the pipeline's transforms. */
export async function runPipelineTest(config: PipelineConfig, test: PipelineTest, opts: { logger: Logger; compile: ConditionCompiler; dataDir?: string }): Promise<TestOutcome> {
  const failures: string[] = [];
  const byId = new Map(config.components.map((c) => [c.id, c]));
  const router = new Router(opts.logger);
  const telemetry = new Telemetry();
  const received = new Map<string, EventData[]>();
  const record = (key: string, events: readonly LogEvent[]): void => {
    let list = received.get(key);
    if (list === undefined) received.set(key, (list = []));
    for (const e of events) list.push(JSON.parse(e.toJson()) as EventData);
  };
  const ctx = (id: string, kind: ComponentContext['kind'], type: string): ComponentContext => ({
    id,
    kind,
    type,
    logger: opts.logger.child({ component: id }),
    telemetry: telemetry.component(id),
    dataDir: opts.dataDir ?? config.data_dir,
    host: 'tern-test',
    signal: new AbortController().signal,
    once: true,
    configDir: byId.get(id)?.configDir ?? '.',
    ...(kind !== 'source' ? { deadLetters: router.deadLetterOutput({ id, type, kind }) } : {}),
  });

  // Transforms are built for real (workers: on the main thread); sinks become recorders.
  const consumers = new Map<string, Omit<Consumer, 'clone'>>();
  const transforms: Transform[] = [];
  for (const c of config.components) {
    const def = c.definition;
    if (def.kind === 'transform') {
      const cx = ctx(c.id, 'transform', c.type);
      const transform = await def.build(c.options as never, cx);
      transforms.push(transform);
      const node: TransformNode = { id: c.id, type: c.type, transform, mutates: def.mutates, deadLetters: cx.deadLetters as TransformNode['deadLetters'], c: Router.counters(cx.telemetry) };
      consumers.set(c.id, { id: c.id, transform: node });
    } else if (def.kind === 'sink') {
      const sink: Sink = {
        accept: (batch) => {
          record(c.id, batch.events);
          batch.ack.release('delivered');
        },
        stop: () => Promise.resolve(),
      };
      consumers.set(c.id, { id: c.id, sink });
    }
  }
  const wiring = new Map<string, Consumer[]>();
  for (const c of config.components) {
    const consumer = consumers.get(c.id);
    if (consumer === undefined) continue;
    for (const ref of c.inputs) {
      const { id, output } = parseInput(ref, byId);
      const key = output === undefined ? id : `${id}.${output}`;
      // Every consumer gets its own copies: a test looks at each branch on its own.
      wiring.set(key, [...(wiring.get(key) ?? []), { ...consumer, clone: true }]);
    }
  }

  // What to watch: every output named in outputs / no_outputs_from (sinks record what they receive).
  const watched = new Set<string>([...(test.outputs ?? []).map((o) => o.extract_from), ...(test.no_outputs_from ?? [])]);
  for (const key of watched) {
    const id = parseInput(key, byId).id;
    const c = byId.get(id);
    if (c === undefined) failures.push(`"${key}" is not a component of this pipeline`);
    else if (c.kind !== 'sink') router.tap(key, (k, events) => record(k, events));
  }

  try {
    for (const [i, input] of test.inputs.entries()) {
      const target = byId.get(input.insert_at);
      if (target === undefined) {
        failures.push(`inputs[${i}].insert_at: "${input.insert_at}" is not a component of this pipeline`);
        continue;
      }
      const origin: EventOrigin = { sourceId: target.kind === 'source' ? target.id : 'tern_test', path: input.path ?? 'tern-test', host: 'tern-test' };
      const events: LogEvent[] = (input.events ?? []).map((e) => LogEvent.fromData(origin, structuredClone(e) as EventData));
      for (const line of input.lines ?? []) {
        const d = decodeLine(origin, line, 0, line.trimStart().startsWith('{') ? 'json' : 'text');
        if (d instanceof LogEvent) events.push(d);
        else failures.push(`inputs[${i}].lines: ${d.message}`);
      }
      if (events.length === 0) continue;
      let key = target.id;
      if (target.kind !== 'source') {
        key = `${INSERT}${i}`;
        wiring.set(key, [{ ...(consumers.get(target.id) as Omit<Consumer, 'clone'>), clone: false }]);
      }
      router.rewire(wiring);
      const group = new AckGroup(events.length, 0);
      const own = group.ref();
      router.dispatch(key, events, group);
      own.release();
      await router.asyncIdle(AbortSignal.timeout(10_000));
    }
  } finally {
    for (const t of transforms) await t.close?.();
  }

  for (const [i, out] of (test.outputs ?? []).entries()) {
    const got = received.get(out.extract_from) ?? [];
    const where = `outputs[${i}] (${out.extract_from})`;
    if (out.count !== undefined && got.length !== out.count) failures.push(`${where}: expected ${out.count} event${out.count === 1 ? '' : 's'}, got ${got.length}`);
    else if (out.count === undefined && got.length === 0) failures.push(`${where}: expected at least one event, got none`);
    for (const cond of out.conditions ?? []) {
      let test: (data: EventData) => boolean | undefined;
      try {
        test = opts.compile(cond);
      } catch (e) {
        failures.push(`${where}: condition ${JSON.stringify(cond)} does not compile: ${(e as Error).message}`);
        continue;
      }
      got.forEach((ev, k) => {
        const r = test(ev);
        if (r !== true) failures.push(`${where}: condition ${JSON.stringify(cond)} is ${r === undefined ? 'an error (a field it reads is missing?)' : 'false'} for event ${k + 1} of ${got.length}: ${truncate(JSON.stringify(ev))}`);
      });
    }
  }
  for (const key of test.no_outputs_from ?? []) {
    const got = received.get(key) ?? [];
    if (got.length > 0) failures.push(`no_outputs_from ${key}: expected nothing, got ${got.length} event${got.length === 1 ? '' : 's'}, the first: ${truncate(JSON.stringify(got[0]))}`);
  }
  const seen: Record<string, number> = {};
  for (const [k, v] of received) seen[k] = v.length;
  return { name: test.name, file: test.file, line: test.line, ok: failures.length === 0, failures, seen };
}

function truncate(s: string, n = 300): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
