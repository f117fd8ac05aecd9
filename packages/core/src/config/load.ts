/**
 * Loads pipeline files: YAML → environment interpolation → schema validation per component →
 * component `validate` → graph checks. Every problem is collected (not just the first) and reported
 * as `file:line:col: <component>: message`, so one `tern validate` run shows everything to fix.
 * Nothing here touches the network or any file but the pipeline files themselves.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode, Scalar } from 'yaml';
import { TernError, type ErrorCode } from '../errors.ts';
import type { Registry } from '../plugin/registry.ts';
import type { ComponentDefinition } from '../plugin/types.ts';
import type { ComponentConfig, ConfigIssue, PipelineConfig, PipelineTest } from './types.ts';

export type { ComponentConfig, ConfigIssue, PipelineConfig, PipelineTest } from './types.ts';
import { checkGraph } from '../topology/graph.ts';
import { interpolate, isSingleReference } from './interpolate.ts';
import { COMPONENT_AJV_OPTIONS } from './defaults.ts';
import { deepFreeze } from './freeze.ts';
import { componentSchema, globalProperties, SECTIONS, topLevelSchema, type Section } from './schema.ts';
import { suggest } from './suggest.ts';


export function formatIssue(i: ConfigIssue): string {
  const where = `${i.file}:${i.line}:${i.col}`;
  return `${where}: ${i.severity}${i.component ? `: ${i.component}` : ''}: ${i.message}`;
}

export class ConfigError extends TernError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    const errors = issues.filter((i) => i.severity === 'error');
    super(errors[0]?.code ?? 'TERN_ERR_CONFIG_SCHEMA', `invalid pipeline configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${errors.map(formatIssue).join('\n')}`);
    this.issues = issues;
  }
}




interface Loaded {
  file: string;
  doc: Document.Parsed;
  lc: LineCounter;
  /** Where the first alias is (for an error when the aliases expand to too much). */
  firstAlias: { line: number; col: number } | undefined;
}

/**
 * Validators, compiled once per registry (every component type at once, at start-up) in ajv's strict
 * mode, so a schema mistake (an ignored default, an unknown keyword) fails at start rather than
 * silently. Component validators fill the schema's defaults: they are the one place options get them.
 */
interface Validators {
  readonly top: ValidateFunction;
  readonly globals: ValidateFunction;
  readonly components: ReadonlyMap<ComponentDefinition, ValidateFunction>;
}

const { useDefaults: _fill, ...AJV_OPTIONS } = COMPONENT_AJV_OPTIONS;
const compiled = new WeakMap<Registry, { size: number; v: Validators }>();

function validators(registry: Registry): Validators {
  const defs = registry.all();
  const hit = compiled.get(registry);
  if (hit !== undefined && hit.size === defs.length) return hit.v;
  const ajv = new Ajv2020(COMPONENT_AJV_OPTIONS);
  const components = new Map<ComponentDefinition, ValidateFunction>();
  for (const def of defs) {
    try {
      components.set(def, ajv.compile(componentSchema(def)));
    } catch (e) {
      throw new TernError('TERN_ERR_BUILD', `the ${def.kind} plugin "${def.type}" has an invalid options schema (a bug in the plugin): ${(e as Error).message}`, { cause: e });
    }
  }
  const v: Validators = {
    // The top level is checked without filling defaults, so merging files can tell what each one sets.
    top: new Ajv2020(AJV_OPTIONS).compile(topLevelSchema()),
    // The merged globals then get their defaults from the same schema.
    globals: ajv.compile({ type: 'object', properties: globalProperties, $defs: topLevelSchema().$defs as Record<string, unknown> }),
    components,
  };
  compiled.set(registry, { size: defs.length, v });
  return v;
}

/** Position of the value (or, with `key`, the key) at `path` inside the document. */
function locate(l: Loaded, path: ReadonlyArray<string | number>, key?: string): { line: number; col: number } {
  let node: unknown = l.doc.contents;
  let best: unknown = node;
  const steps: Array<string | number> = [...path];
  if (key !== undefined) steps.push(key);
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      const isLast = i === steps.length - 1;
      best = isLast && key !== undefined ? pair.key : (pair.value ?? pair.key);
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(step)];
      if (!item) break;
      best = item;
      node = item;
    } else break;
  }
  const range = isNode(best) ? (best as YamlNode).range : undefined;
  const pos = l.lc.linePos(range ? range[0] : 0);
  return { line: pos.line, col: pos.col };
}

function pointerToPath(ptr: string): string[] {
  if (!ptr) return [];
  return ptr.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function ajvMessage(e: ErrorObject, knownProps: string[]): { message: string; key?: string } {
  const at = e.instancePath ? pointerToPath(e.instancePath).join('.') : '';
  const prefix = at ? `${at}: ` : '';
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const prop = String((e.params as { additionalProperty: string }).additionalProperty);
      const s = suggest(prop, knownProps);
      return { message: `${prefix}unknown option "${prop}"${s ? ` (did you mean "${s}"?)` : ''}`, key: prop };
    }
    case 'required':
      return { message: `${prefix}missing required option "${String((e.params as { missingProperty: string }).missingProperty)}"` };
    case 'enum':
      return { message: `${prefix}must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { message: `${prefix}must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` };
    case 'type':
      return { message: `${prefix}must be ${String((e.params as { type: string }).type)}` };
    default:
      return { message: `${prefix}${e.message ?? 'is invalid'}` };
  }
}

/** Property names known at the schema location of an error, for "did you mean". */
function knownPropsAt(schema: Record<string, unknown>, path: string[]): string[] {
  let s: Record<string, unknown> | undefined = schema;
  for (const p of path) {
    if (!s) return [];
    const props = s.properties as Record<string, Record<string, unknown>> | undefined;
    if (props && props[p]) s = props[p];
    else if (s.items && typeof s.items === 'object' && /^\d+$/.test(p)) s = s.items as Record<string, unknown>;
    else if (s.additionalProperties && typeof s.additionalProperties === 'object') s = s.additionalProperties as Record<string, unknown>;
    else return [];
  }
  return Object.keys((s?.properties as Record<string, unknown> | undefined) ?? {});
}

/** A pipeline file is a few kilobytes; anything this large is a mistake (or an attack) and is refused before parsing. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** YAML aliases allowed per file (anchors are handy; thousands of them are an alias bomb). */
export const MAX_CONFIG_ALIASES = 100;

function parseFile(file: string, env: Readonly<Record<string, string | undefined>>, issues: ConfigIssue[]): Loaded | undefined {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) {
      issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_LIMIT', file, line: 1, col: 1, message: `pipeline file is ${size} bytes, over the limit of ${MAX_CONFIG_BYTES} (is this the right file?)` });
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_PARSE', file, line: 1, col: 1, message: `cannot read pipeline file: ${(e as Error).message}` });
    return undefined;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  let aliases = 0;
  let tooMany: YamlNode | undefined;
  let firstAlias: { line: number; col: number } | undefined;
  visit(doc, {
    Alias(_k, node) {
      firstAlias ??= lc.linePos(node.range?.[0] ?? 0);
      if (++aliases > MAX_CONFIG_ALIASES && tooMany === undefined) tooMany = node;
    },
  });
  if (tooMany !== undefined) {
    const pos = lc.linePos(tooMany.range?.[0] ?? 0);
    issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_LIMIT', file, line: pos.line, col: pos.col, message: `more than ${MAX_CONFIG_ALIASES} YAML aliases (*name); a pipeline needs a handful (an alias bomb would expand without bound)` });
    return undefined;
  }
  // The first syntax error is the useful one; the rest are usually its echo.
  for (const err of doc.errors.slice(0, 1)) {
    const pos = lc.linePos(err.pos[0]);
    issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_PARSE', file, line: pos.line, col: pos.col, message: err.message.split('\n')[0] ?? err.message });
  }
  if (doc.errors.length) return undefined;
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('$')) return;
      const original = node.value;
      const { value, missing } = interpolate(original, env);
      for (const name of missing) {
        const pos = lc.linePos(node.range?.[0] ?? 0);
        issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_ENV', file, line: pos.line, col: pos.col, message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)` });
      }
      if (node.type === Scalar.PLAIN && isSingleReference(original)) {
        const retyped = parseDocument(value).contents;
        if (isScalar(retyped) && retyped.value !== null && typeof retyped.value !== 'string') {
          node.value = retyped.value;
          return;
        }
      }
      node.value = value;
    },
  });
  return { file, doc, lc, firstAlias };
}

export interface LoadOptions {
  env?: Readonly<Record<string, string | undefined>>;
}

/** Loads and validates one or more pipeline files (merged: components from all, globals once). */
export function loadPipeline(files: readonly string[], registry: Registry, opts: LoadOptions = {}): PipelineConfig {
  const env = opts.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const components: ComponentConfig[] = [];
  const seen = new Map<string, string>();
  const globals: Record<string, { value: unknown; file: string }> = {};
  const where = new Map<string, { l: Loaded; path: string[] }>();
  const tests: PipelineTest[] = [];
  const absFiles = files.map((f) => resolve(f));
  const { top: topValidator, globals: globalsValidator, components: componentValidators } = validators(registry);

  for (const file of absFiles) {
    const l = parseFile(file, env, issues);
    if (!l) continue;
    let root: unknown;
    try {
      root = l.doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES }) as unknown;
    } catch (e) {
      const at = l.firstAlias ?? { line: 1, col: 1 };
      issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_LIMIT', file, ...at, message: `the YAML aliases (*name) expand to too much data (${(e as Error).message}); a pipeline needs no nested aliases of aliases` });
      continue;
    }
    if (root === null || root === undefined) continue;
    if (!topValidator(root)) {
      for (const e of topValidator.errors ?? []) {
        const path = pointerToPath(e.instancePath);
        const { message, key } = ajvMessage(e, knownPropsAt(topLevelSchema(), path));
        const pos = locate(l, path, key);
        const component = path.length >= 2 && (path[0] as string) in SECTIONS ? path[1] : undefined;
        issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_SCHEMA', file, ...pos, ...(component ? { component } : {}), message });
      }
      continue;
    }
    const obj = root as Record<string, unknown>;
    if (Array.isArray(obj.tests)) {
      (obj.tests as Array<Omit<PipelineTest, 'file' | 'line'>>).forEach((t, i) => tests.push({ ...t, file, line: locate(l, ['tests', i]).line }));
    }
    for (const k of Object.keys(obj)) {
      if (k in SECTIONS || k === 'tests') continue;
      const prev = globals[k];
      if (prev && JSON.stringify(prev.value) !== JSON.stringify(obj[k])) {
        const pos = locate(l, [k]);
        issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_DUPLICATE', file, ...pos, message: `${k} is also set, differently, in ${prev.file}` });
      } else globals[k] = { value: obj[k], file };
    }
    for (const section of Object.keys(SECTIONS) as Section[]) {
      const kind = SECTIONS[section];
      const map = (obj[section] ?? {}) as Record<string, Record<string, unknown>>;
      for (const [id, raw] of Object.entries(map)) {
        const path = [section, id];
        const pos = locate(l, path);
        if (seen.has(id)) {
          issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_DUPLICATE', file, ...pos, component: id, message: `component id "${id}" is already defined in ${seen.get(id)} (ids are unique across sources, transforms and sinks)` });
          continue;
        }
        seen.set(id, file);
        where.set(id, { l, path });
        const type = String(raw.type);
        const def = registry.get(kind, type);
        if (!def) {
          const s = suggest(type, registry.types(kind));
          const tpos = locate(l, [...path, 'type']);
          issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_TYPE', file, ...tpos, component: id, message: `unknown ${kind} type "${type}"${s ? ` (did you mean "${s}"?)` : ''}; known: ${registry.types(kind).join(', ') || 'none'}` });
          continue;
        }
        const options = structuredClone(raw);
        const validate = componentValidators.get(def) as ValidateFunction;
        if (!validate(options)) {
          const schema = componentSchema(def);
          for (const e of dedupeAjv(validate.errors ?? [])) {
            const p = pointerToPath(e.instancePath);
            const { message, key } = ajvMessage(e, knownPropsAt(schema, p));
            issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_SCHEMA', file, ...locate(l, [...path, ...p], key), component: id, message });
          }
          continue;
        }
        const { type: _t, inputs, workers, ...rest } = options as Record<string, unknown> & { inputs?: string[]; workers?: number };
        for (const msg of def.validate?.(rest as never) ?? []) {
          const opt = /^([A-Za-z0-9_.]+):/.exec(msg)?.[1];
          const p = opt ? opt.split('.') : [];
          issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_INVALID', file, ...locate(l, [...path, ...p]), component: id, message: msg });
        }
        components.push({ id, kind, type, inputs: inputs ?? [], options: rest, workers: workers ?? 0, definition: def, file, line: pos.line, configDir: dirname(file) });
      }
    }
  }

  if (!issues.some((i) => i.severity === 'error')) {
    for (const kind of ['source', 'sink'] as const) {
      if (!components.some((c) => c.kind === kind)) {
        issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_LIMIT', file: absFiles[0] ?? '', line: 1, col: 1, message: `the pipeline defines no ${kind}: add one under ${kind}s: (an empty pipeline would run and deliver nothing)` });
      }
    }
    for (const c of components) {
      const tls = (c.options as { tls?: { verify?: unknown } }).tls;
      if (tls?.verify === false) {
        const w = where.get(c.id);
        const pos = w ? locate(w.l, [...w.path, 'tls', 'verify']) : { line: 1, col: 1 };
        issues.push({ severity: 'warning', code: 'TERN_ERR_CONFIG_INVALID', file: c.file, ...pos, component: c.id, message: 'tls.verify is false: the server\'s certificate is not checked, so anyone on the network path can read and change what tern sends (use tls.ca_file for a private CA instead)' });
      }
    }
  }
  if (!issues.some((i) => i.severity === 'error')) {
    for (const g of checkGraph(components)) {
      const w = where.get(g.component);
      const pos = w ? locate(w.l, g.input !== undefined ? [...w.path, 'inputs', g.input] : w.path) : { line: 1, col: 1 };
      issues.push({ severity: g.severity, code: g.code, file: w?.l.file ?? absFiles[0] ?? '', ...pos, component: g.component, message: g.message });
    }
  }
  if (issues.some((i) => i.severity === 'error')) throw new ConfigError(issues);

  // The globals, merged across files, get their defaults from the schema (the one place they come from).
  const merged: Record<string, unknown> = {};
  for (const [k, g] of Object.entries(globals)) merged[k] = structuredClone(g.value);
  if (!globalsValidator(merged)) throw new Error(`merged global options failed validation: ${JSON.stringify(globalsValidator.errors)}`);
  const g = merged as { data_dir: string; shutdown_timeout_ms: number; in_flight: { max_events: number; max_bytes: number }; api?: { address: string } };
  const dataDirFile = globals.data_dir?.file ?? absFiles[0] ?? resolve('pipeline.yaml');
  return deepFreeze({
    files: absFiles,
    data_dir: resolve(dirname(dataDirFile), g.data_dir),
    shutdown_timeout_ms: g.shutdown_timeout_ms,
    in_flight: g.in_flight,
    ...(g.api !== undefined ? { api: g.api } : {}),
    components,
    tests,
    warnings: issues.filter((i) => i.severity === 'warning'),
  });
}

/** ajv reports `if/then` and `oneOf` noise next to the real error; keep the informative ones. */
function dedupeAjv(errors: ErrorObject[]): ErrorObject[] {
  const out: ErrorObject[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;
    const k = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e);
  }
  return out.length ? out : errors;
}
