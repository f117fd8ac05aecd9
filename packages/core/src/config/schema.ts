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

export const DEFAULT_IN_FLIGHT = { max_events: 50_000, max_bytes: 32 * 1024 * 1024 } as const;

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
    description: 'On SIGINT/SIGTERM: how long to drain in-flight events before exiting anyway (undelivered events are read again on restart).',
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
  };
}
