/**
 * The JSON Schema of a pipeline file. Core owns the top level (`data_dir`, `sources`, `transforms`,
 * `sinks`, global limits); each component type contributes its own options schema through its
 * definition, so a plugin extends validation without touching core. `pipelineSchema(registry)`
 * merges them into the one schema that is published (schema/tern.schema.json) for editors, and
 * `componentSchema(def)` is what a single component is validated against.
 */
import { BUFFER_SCHEMA } from '../buffer/schema.ts';
import type { Registry } from '../plugin/registry.ts';
import type { ComponentDefinition, ComponentKind, JsonSchema } from '../plugin/types.ts';

export const SECTIONS = { sources: 'source', transforms: 'transform', sinks: 'sink' } as const satisfies Record<string, ComponentKind>;
export type Section = keyof typeof SECTIONS;

export const DEFAULT_IN_FLIGHT = { max_events: 10_000, max_bytes: 8 * 1024 * 1024 } as const;

/** Where the HTTP API listens when `api` is set without an address: loopback only. */
export const DEFAULT_API_ADDRESS = '127.0.0.1:8686';
/** `host:port`, `[v6]:port` or `:port` (loopback). */
export const API_ADDRESS_PATTERN = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]*):[0-9]{1,5}$';

/** Global options (everything but the component maps). */
export const globalProperties: Record<string, JsonSchema> = {
  data_dir: {
    type: 'string',
    description: 'Directory for checkpoints and buffers, relative to the pipeline file. Must be writable and kept across restarts (a hostPath in a DaemonSet).',
    default: './.tern',
    examples: ['/var/lib/tern'],
  },
  shutdown_timeout_ms: {
    type: 'integer',
    minimum: 0,
    description: 'On SIGINT/SIGTERM: the process has exited this long after the signal, in every state; in-flight events are drained until shortly before it, leaving time for the final checkpoints (undelivered events are read again on restart).',
    default: 30000,
    examples: [10000],
  },
  in_flight: {
    type: 'object',
    additionalProperties: false,
    description: 'Bound on events read but not yet acknowledged by every sink, for the whole pipeline. Sources pause when it is reached: a slow sink slows its sources instead of growing memory.',
    properties: {
      max_events: { type: 'integer', minimum: 1, description: 'Events in flight.', default: DEFAULT_IN_FLIGHT.max_events, examples: [20000] },
      max_bytes: { type: 'integer', minimum: 1024, description: 'Bytes of raw input in flight. Parsed JSON events take several times their raw size on the heap (bench/RESULTS.md).', default: DEFAULT_IN_FLIGHT.max_bytes, examples: [16777216] },
    },
    default: {},
  },
  api: {
    type: 'object',
    additionalProperties: false,
    description: 'tern\'s HTTP API: `GET /healthz` (liveness), `/readyz` (readiness), `/metrics` (Prometheus), and the streams `tern tap` and `tern top` read. Off unless this block is set.',
    properties: {
      address: {
        type: 'string',
        pattern: API_ADDRESS_PATTERN,
        description: 'host:port to listen on. Loopback unless told otherwise; in a pod, `0.0.0.0:8686` lets the kubelet\'s probes and Prometheus reach it.',
        default: DEFAULT_API_ADDRESS,
        examples: ['0.0.0.0:8686'],
      },
    },
    examples: [{ address: '0.0.0.0:8686' }],
  },
  tests: {
    type: 'array',
    description: 'Unit tests of this pipeline, run by `tern test` (never by `tern run`): events given to a component and CEL conditions on what comes out of another. They may also sit in a side file, `<pipeline>.tests.yaml`.',
    items: { $ref: '#/$defs/test' },
    examples: [[{ name: 'shadow reads pass the filter', inputs: [{ insert_at: 'sensitive', events: [{ process_exec: { process: { arguments: '/etc/shadow' } } }] }], outputs: [{ extract_from: 'sensitive', conditions: ['event.process_exec.process.arguments.contains("shadow")'] }] }]],
  },
};

/** `tern test` cases (see docs/configuration.md, "tests"). */
export const TEST_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'inputs'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'What the test shows, printed in the report.', examples: ['Falco Critical alerts reach Slack'] },
    inputs: {
      type: 'array',
      minItems: 1,
      description: 'Events to insert: each entry hands its events to one component, as if they came out of that component\'s inputs (a transform or sink) or out of it (a source).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['insert_at'],
        properties: {
          insert_at: { type: 'string', minLength: 1, description: 'Id of the source, transform or sink that receives the events.', examples: ['ecs'] },
          events: { type: 'array', items: { type: 'object' }, description: 'Events as JSON objects.', default: [], examples: [[{ message: 'hello' }]] },
          lines: { type: 'array', items: { type: 'string' }, description: 'Events as raw lines, decoded as JSON when they are JSON objects (as `decoding: json` does), else as `{ message: line }`.', default: [], examples: [['{"process_exec":{}}']] },
          path: { type: 'string', description: 'The file the events come from, as a file source would say (transforms that read it: the `zeek` ECS profile takes the log kind from the file name, `@path` in remap).', default: 'tern-test', examples: ['/var/log/zeek/checkout-api/conn.log'] },
        },
      },
    },
    outputs: {
      type: 'array',
      description: 'What must come out: every event extracted from the component satisfies every condition.',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['extract_from'],
        properties: {
          extract_from: { type: 'string', minLength: 1, description: 'A component output (`id`, or `route_id.name`), or a sink id (what the sink receives).', examples: ['route.alerts'] },
          conditions: { type: 'array', items: { type: 'string' }, description: 'CEL conditions over `event`, each true for every extracted event.', default: [], examples: [['event.event.kind == "alert"']] },
          count: { type: 'integer', minimum: 0, description: 'Exactly this many events must come out (default: at least one).', examples: [1] },
        },
      },
    },
    no_outputs_from: { type: 'array', items: { type: 'string' }, description: 'Component outputs or sinks that must receive nothing.', default: [], examples: [['slack']] },
  },
};

const ID_PATTERN = '^[A-Za-z0-9_-]+$';

const inputsSchema: JsonSchema = {
  type: 'array',
  minItems: 1,
  items: { type: 'string', minLength: 1 },
  description: 'Ids of the components this one reads from (`route_id.output` for a named output).',
  examples: [['tetragon']],
};

const workersSchema: JsonSchema = {
  type: 'integer',
  minimum: 0,
  maximum: 16,
  default: 0,
  description: 'Worker threads that run this transform beside the main thread (0: on the main thread). Worth it for costly transforms (ecs) on a node with a spare core; events cross to the workers as JSON text.',
  examples: [1],
};

/** Schema for one component of a type: its own options plus `type` (and `inputs` unless a source). */
export function componentSchema(def: ComponentDefinition): JsonSchema {
  const own = def.schema;
  const ownProps = (own.properties as Record<string, JsonSchema> | undefined) ?? {};
  const props: Record<string, JsonSchema> = { type: { const: def.type, description: def.description } };
  if (def.kind !== 'source') props.inputs = inputsSchema;
  if (def.kind === 'transform' && def.module !== undefined) props.workers = workersSchema;
  if (def.kind === 'sink') props.buffer = BUFFER_SCHEMA;
  Object.assign(props, ownProps);
  const required = ['type', ...(def.kind !== 'source' ? ['inputs'] : []), ...(((own.required as string[] | undefined) ?? []))];
  return { ...own, type: 'object', properties: props, required, additionalProperties: own.additionalProperties ?? false };
}

/** Top-level schema with component maps loosely typed (each component is validated on its own). */
export function topLevelSchema(): JsonSchema {
  const section = (kind: ComponentKind): JsonSchema => ({
    type: 'object',
    propertyNames: { pattern: ID_PATTERN },
    additionalProperties: {
      type: 'object',
      required: ['type'],
      properties: { type: { type: 'string' }, ...(kind !== 'source' ? { inputs: inputsSchema } : {}) },
    },
  });
  return {
    type: 'object',
    additionalProperties: false,
    properties: { ...globalProperties, sources: section('source'), transforms: section('transform'), sinks: section('sink') },
    $defs: { test: TEST_SCHEMA },
  };
}

/** The merged schema of everything the registry knows, for editors (yaml-language-server). */
export function pipelineSchema(registry: Registry): JsonSchema {
  const section = (kind: ComponentKind): JsonSchema => {
    const defs = registry.all().filter((d) => d.kind === kind);
    return {
      type: 'object',
      propertyNames: { pattern: ID_PATTERN },
      additionalProperties: {
        type: 'object',
        required: ['type'],
        properties: { type: { enum: defs.map((d) => d.type).sort() } },
        allOf: defs.map((d) => ({ if: { properties: { type: { const: d.type } } }, then: componentSchema(d) })),
      },
    };
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/tern-project/tern/schema/tern.schema.json',
    title: 'tern pipeline',
    description: 'A tern pipeline: sources, transforms and sinks wired by `inputs`. Generated by `pnpm schema`; do not edit.',
    type: 'object',
    additionalProperties: false,
    properties: { ...globalProperties, sources: section('source'), transforms: section('transform'), sinks: section('sink') },
    $defs: { test: TEST_SCHEMA },
  };
}
