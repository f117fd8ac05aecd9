/**
 * Test helpers for the filtering/routing/editing/volume transforms: a minimal component context
 * with a silent logger and fresh counters, events built from real sample lines (`@tern/test-kit`'s
 * samples), a runner that collects what a transform emits per output, and pipeline files loaded
 * through core's config loader with stand-ins for a source and a sink.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { sampleLines } from '@tern/test-kit';
import {
  ComponentTelemetry,
  LogEvent,
  Registry,
  withDefaults,
  type ComponentContext,
  type ComponentDefinition,
  type EventOrigin,
  type OptionsInput,
  type SinkDefinition,
  type SourceDefinition,
  type Transform,
  type TransformDefinition,
} from '@tern/core';

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

/** Stand-in source for pipeline files (`type: test_source`, no options). */
export const TEST_SOURCE: SourceDefinition = { kind: 'source', type: 'test_source', description: 'test', schema: { type: 'object', additionalProperties: false, properties: {} }, build: () => ({ run: async () => {} }) };
/** Stand-in sink for pipeline files (`type: test_sink`, no options). */
export const TEST_SINK: SinkDefinition = {
  kind: 'sink',
  type: 'test_sink',
  description: 'test',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  build: () => ({ accept: () => {}, stop: async () => {} }),
};

/** A registry of the stand-ins and `defs`, for loading pipeline files. */
export function registryWith(...defs: ReadonlyArray<ComponentDefinition<never>>): Registry {
  return new Registry().register(TEST_SOURCE, TEST_SINK, ...defs);
}

/** Writes `yaml` as pipeline.yaml in a fresh temporary directory; returns its path. */
export function pipelineFile(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tern-transforms-')), 'pipeline.yaml');
  writeFileSync(file, yaml);
  return file;
}
