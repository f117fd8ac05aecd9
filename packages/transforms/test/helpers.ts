/**
 * Test helpers for the filtering/routing/editing/volume transforms: a minimal component context
 * with a silent logger and fresh counters, events built from real sample lines (`@tern/test-kit`'s
 * samples), and a runner that collects what a transform emits per output.
 */
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { sampleLines } from '@tern/test-kit';
import { ComponentTelemetry, LogEvent, withDefaults, type ComponentContext, type EventOrigin, type OptionsInput, type Transform, type TransformDefinition } from '@tern/core';

export const ORIGIN: EventOrigin = Object.freeze({ sourceId: 'src', path: '/var/log/tetragon/tetragon.log', host: 'node-a' });

export function testCtx(id = 'transform_under_test', type = 'test'): ComponentContext & { telemetry: ComponentTelemetry } {
  return {
    id,
    kind: 'transform',
    type,
    logger: pino({ level: 'silent' }),
    telemetry: new ComponentTelemetry(id),
    dataDir: tmpdir(),
    host: 'node-a',
    signal: new AbortController().signal,
    once: false,
    configDir: process.cwd(),
  };
}

/** The 35 Tetragon export lines of the shared samples (exec/exit/kprobe, pods and host processes). */
export const TETRAGON: readonly string[] = sampleLines('tetragon.log');
/** Falco JSON alerts. */
export const FALCO: readonly string[] = sampleLines('falco.json');
/** Kubernetes audit events. */
export const AUDIT: readonly string[] = sampleLines('k8s-audit.log');

/** Sample line `n` (1-based, as `nl` numbers them). */
export function tetragon(n: number): string {
  const l = TETRAGON[n - 1];
  if (l === undefined) throw new Error(`no tetragon sample line ${n}`);
  return l;
}

/** An event from a JSON line, parsed up front as a source would. */
export function ev(line: string): LogEvent {
  return new LogEvent(ORIGIN, line, 'json', JSON.parse(line) as Record<string, unknown>);
}

/** A line framed as JSON that is not JSON: core reads it as `{message, error, tags: ['_json_parse_failure']}`. */
export function badEv(line = '{"process_exec": {"process": '): LogEvent {
  return new LogEvent(ORIGIN, line, 'json', undefined);
}

/**
 * An event whose fields cannot be read (the transforms' guard path): reading throws until a stage
 * replaces its fields, as LogEvent did for malformed lines before core tagged them.
 */
export function throwingEv(): LogEvent {
  const e = new LogEvent(ORIGIN, '{}', 'json', undefined);
  Object.defineProperty(e, 'data', {
    get() {
      const v = (e as unknown as { value: Record<string, unknown> | undefined }).value;
      if (v === undefined) throw new SyntaxError('unreadable');
      return v;
    },
  });
  return e;
}

/** A sample line changed by `edit` (for fields the samples lack: probes, caps, init tree). */
export function variant(line: string, edit: (o: any) => void): string {
  const o = JSON.parse(line);
  edit(o);
  return JSON.stringify(o);
}

export interface RunResult {
  /** Events per output name (`''` for the default output). */
  readonly outputs: Map<string, LogEvent[]>;
  /** Events of the default output. */
  readonly out: LogEvent[];
}

/** Runs one batch through a built transform and collects what it emitted. */
export function run(t: Transform, events: LogEvent[]): RunResult {
  const outputs = new Map<string, LogEvent[]>();
  t.process(events, (evs, name) => {
    const k = name ?? '';
    const list = outputs.get(k) ?? [];
    list.push(...evs);
    outputs.set(k, list);
  });
  return { outputs, out: outputs.get('') ?? [] };
}

/**
 * Builds a definition synchronously (all of this package's transforms build synchronously), from
 * options completed with the schema's defaults as the engine would.
 */
export function build<C>(def: TransformDefinition<C>, cfg: OptionsInput<C>, ctx = testCtx(def.type, def.type)): { t: Transform; ctx: ReturnType<typeof testCtx> } {
  const t = def.build(withDefaults(def, cfg), ctx);
  if (t instanceof Promise) throw new Error('unexpected async build');
  return { t, ctx };
}

/** The counters of a context. */
export function counters(ctx: { telemetry: ComponentTelemetry }): Record<string, number> {
  return ctx.telemetry.snapshot();
}
