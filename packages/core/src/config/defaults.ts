/**
 * The options a component's `build` receives, for code that builds a component without a pipeline
 * file (tests, benchmarks, tools): validated against the component's schema and completed with the
 * schema's defaults by ajv, exactly as the config loader does for a YAML file (same schema, same
 * ajv options), and frozen all the way down as the loader freezes them. A plugin therefore never
 * defaults an option again in code (`?? 1000`): what its schema says is what it gets, however it is
 * built, and it cannot change them in one place but not the other.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { TernError } from '../errors.ts';
import type { ComponentDefinition } from '../plugin/types.ts';
import { deepFreeze } from './freeze.ts';
import { componentSchema } from './schema.ts';

/** The ajv options component schemas are compiled with (the loader's: all errors, defaults filled). */
export const COMPONENT_AJV_OPTIONS = { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true } as const;

/** Options as a caller may write them: everything optional, the schema fills in the rest. */
export type OptionsInput<C> = C extends readonly (infer E)[] ? ReadonlyArray<OptionsInput<E>> : C extends object ? { [K in keyof C]?: OptionsInput<C[K]> } : C;

const ajv = new Ajv2020(COMPONENT_AJV_OPTIONS);
const validators = new WeakMap<ComponentDefinition<never>, ValidateFunction>();

/**
 * `options` validated against `def`'s schema with its defaults applied (a frozen copy; the argument
 * is not changed). Throws `TERN_ERR_CONFIG_SCHEMA` naming each problem. The component's own cross-field
 * `validate` is not run: a test may want to see what `build` makes of such options.
 */
export function withDefaults<C>(def: ComponentDefinition<C>, options: NoInfer<OptionsInput<C>>): C {
  const key = def as ComponentDefinition<never>;
  let validate = validators.get(key);
  if (validate === undefined) {
    validate = ajv.compile(componentSchema(def as ComponentDefinition));
    validators.set(key, validate);
  }
  const doc: Record<string, unknown> = { ...structuredClone(options as Record<string, unknown>), type: def.type };
  if (def.kind !== 'source') doc.inputs = ['_'];
  if (!validate(doc)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
    throw new TernError('TERN_ERR_CONFIG_SCHEMA', `${def.type}: ${problems.join('; ')}`);
  }
  const { type: _t, inputs: _i, workers: _w, ...rest } = doc;
  return deepFreeze(rest) as C;
}
