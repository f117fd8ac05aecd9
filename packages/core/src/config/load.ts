/**
 * Loads pipeline files: YAML → environment interpolation → schema validation per component →
 * component `validate` → graph checks. Every problem is collected (not just the first) and reported
 * as `file:line:col: <component>: message`, in file and line order, so one `tern validate` run shows
 * everything to fix: a component that fails its schema is still known to the graph checks (an input
 * naming it is fine, its own inputs are checked), so a schema error does not hide an unknown input,
 * a cycle or an empty pipeline, and is not echoed by them either. Only what cannot be read at all (a
 * YAML syntax error, a file over the limits, a section that is not a map) stops the pass for that
 * file and the graph checks, and its message says so.
 * Nothing here touches the network or any file but the pipeline files themselves.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { isScalar, LineCounter, parseDocument, visit, type Document, type Node as YamlNode, Scalar } from 'yaml';
import { TernError } from '../errors.ts';
import type { Registry } from '../plugin/registry.ts';
import type { ComponentDefinition } from '../plugin/types.ts';
import type { ComponentConfig, ConfigIssue, PipelineConfig, PipelineTest } from './types.ts';

export type { ComponentConfig, ConfigIssue, PipelineConfig, PipelineTest } from './types.ts';
export { ConfigError, formatIssue } from './issues.ts';
import { checkGraph, type DeclaredComponent } from '../topology/graph.ts';
import { interpolate, isSingleReference } from './interpolate.ts';
import { COMPONENT_AJV_OPTIONS } from './defaults.ts';
import { deepFreeze } from './freeze.ts';
import { ajvMessage, byPosition, ConfigError, dedupeAjv, knownPropsAt, locate, pointerToPath, UNREAD_REST, UNREAD_SECTION } from './issues.ts';
import { componentSchema, globalProperties, SECTIONS, topLevelSchema, type Section } from './schema.ts';
import { suggest } from './suggest.ts';

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

/** A pipeline file is a few kilobytes; anything this large is a mistake (or an attack) and is refused before parsing. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** YAML aliases allowed per file (anchors are handy; thousands of them are an alias bomb). */
export const MAX_CONFIG_ALIASES = 100;

function parseFile(file: string, env: Readonly<Record<string, string | undefined>>, issues: ConfigIssue[]): Loaded | undefined {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) {
      issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_LIMIT', file, line: 1, col: 1, message: `pipeline file is ${size} bytes, over the limit of ${MAX_CONFIG_BYTES} (is this the right file?); ${UNREAD_REST}` });
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_PARSE', file, line: 1, col: 1, message: `cannot read pipeline file: ${(e as Error).message}; ${UNREAD_REST}` });
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
    issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_LIMIT', file, line: pos.line, col: pos.col, message: `more than ${MAX_CONFIG_ALIASES} YAML aliases (*name); a pipeline needs a handful (an alias bomb would expand without bound); ${UNREAD_REST}` });
    return undefined;
  }
  // The first syntax error is the useful one; the rest are usually its echo.
  for (const err of doc.errors.slice(0, 1)) {
    const pos = lc.linePos(err.pos[0]);
    issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_PARSE', file, line: pos.line, col: pos.col, message: `${err.message.split('\n')[0] ?? err.message}; ${UNREAD_REST}` });
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

  // Components declared but not validated (their ids still count for the graph checks), and whether
  // some part of the pipeline could not be read at all (then the graph checks would only report echoes).
  const declared: DeclaredComponent[] = [];
  let unread = false;

  for (const file of absFiles) {
    const l = parseFile(file, env, issues);
    if (!l) {
      unread = true;
      continue;
    }
    let root: unknown;
    try {
      root = l.doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES }) as unknown;
    } catch (e) {
      const at = l.firstAlias ?? { line: 1, col: 1 };
      issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_LIMIT', file, ...at, message: `the YAML aliases (*name) expand to too much data (${(e as Error).message}); a pipeline needs no nested aliases of aliases; ${UNREAD_REST}` });
      unread = true;
      continue;
    }
    if (root === null || root === undefined) continue;
    const isObject = typeof root === 'object' && !Array.isArray(root);
    // What the top-level errors make unusable: a global option or `tests` (skipped), a whole section
    // (it is not a map: its components are unknown), or one component (declared, not validated).
    const badKeys = new Set<string>();
    const badComponents = new Set<string>();
    if (!topValidator(root)) {
      for (const e of topValidator.errors ?? []) {
        if (e.keyword === 'propertyNames') continue; // ajv's summary of the error on the id itself, reported next
        const path = pointerToPath(e.instancePath);
        // A component id the pattern refuses: ajv names it beside the section's path.
        const named = (e as ErrorObject & { propertyName?: string }).propertyName;
        const { message: said, key } = ajvMessage(e, knownPropsAt(topLevelSchema(), path));
        const message = named !== undefined ? `component id "${named}" may contain only letters, digits, "_" and "-"` : said;
        const pos = locate(l, path, named ?? key);
        const inSection = path.length >= 1 && (path[0] as string) in SECTIONS;
        const component = named ?? (inSection && path.length >= 2 ? path[1] : undefined);
        const top = path[0] ?? key;
        if (!isObject) {
          issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_SCHEMA', file, ...pos, message: `${message}; ${UNREAD_REST}` });
          continue;
        }
        if (inSection && component !== undefined) badComponents.add(`${path[0]}/${component}`);
        else if (top !== undefined) badKeys.add(top);
        const unreadSection = inSection && path.length === 1 && named === undefined;
        issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_SCHEMA', file, ...pos, ...(component ? { component } : {}), message: unreadSection ? `${message}; ${UNREAD_SECTION}` : message });
      }
      if (!isObject) {
        unread = true;
        continue;
      }
    }
    const obj = root as Record<string, unknown>;
    if (Array.isArray(obj.tests) && !badKeys.has('tests')) {
      (obj.tests as Array<Omit<PipelineTest, 'file' | 'line'>>).forEach((t, i) => tests.push({ ...t, file, line: locate(l, ['tests', i]).line }));
    }
    for (const k of Object.keys(obj)) {
      if (k in SECTIONS || k === 'tests' || badKeys.has(k)) continue;
      const prev = globals[k];
      if (prev && JSON.stringify(prev.value) !== JSON.stringify(obj[k])) {
        const pos = locate(l, [k]);
        issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_DUPLICATE', file, ...pos, message: `${k} is also set, differently, in ${prev.file}` });
      } else globals[k] = { value: obj[k], file };
    }
    for (const section of Object.keys(SECTIONS) as Section[]) {
      const kind = SECTIONS[section];
      if (badKeys.has(section)) {
        unread = true;
        continue;
      }
      const map = (obj[section] ?? {}) as Record<string, unknown>;
      for (const [id, value] of Object.entries(map)) {
        const path = [section, id];
        const pos = locate(l, path);
        if (seen.has(id)) {
          issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_DUPLICATE', file, ...pos, component: id, message: `component id "${id}" is already defined in ${seen.get(id)} (ids are unique across sources, transforms and sinks)` });
          continue;
        }
        seen.set(id, file);
        where.set(id, { l, path });
        const raw = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
        const inputs = kind === 'source' ? [] : Array.isArray(raw.inputs) && raw.inputs.every((x) => typeof x === 'string') ? (raw.inputs as string[]) : undefined;
        const stub: DeclaredComponent = { id, kind, inputs };
        if (badComponents.has(`${section}/${id}`)) {
          declared.push(stub);
          continue;
        }
        const type = String(raw.type);
        const def = registry.get(kind, type);
        if (!def) {
          const s = suggest(type, registry.types(kind));
          const tpos = locate(l, [...path, 'type']);
          issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_TYPE', file, ...tpos, component: id, message: `unknown ${kind} type "${type}"${s ? ` (did you mean "${s}"?)` : ''}; known: ${registry.types(kind).join(', ') || 'none'}` });
          declared.push(stub);
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
          declared.push(stub);
          continue;
        }
        const { type: _t, inputs: validInputs, workers, ...rest } = options as Record<string, unknown> & { inputs?: string[]; workers?: number };
        for (const msg of def.validate?.(rest as never) ?? []) {
          const opt = /^([A-Za-z0-9_.]+):/.exec(msg)?.[1];
          const p = opt ? opt.split('.') : [];
          issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_INVALID', file, ...locate(l, [...path, ...p]), component: id, message: msg });
        }
        components.push({ id, kind, type, inputs: validInputs ?? [], options: rest, workers: workers ?? 0, definition: def, file, line: pos.line, configDir: dirname(file) });
      }
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
  // The graph checks need every component of every file: skipped when some part could not be read (its message says so).
  if (!unread) {
    const missing = (['source', 'sink'] as const).filter((kind) => !components.some((c) => c.kind === kind) && !declared.some((d) => d.kind === kind));
    for (const kind of missing) {
      issues.push({ severity: 'error', code: 'TERN_ERR_CONFIG_LIMIT', file: absFiles[0] ?? '', line: 1, col: 1, message: `the pipeline defines no ${kind}: add one under ${kind}s: (an empty pipeline would run and deliver nothing)` });
    }
    for (const g of checkGraph(components, declared)) {
      // Without a sink nothing is read by one: "not read by any transform or sink" would only echo that error.
      if (g.severity === 'warning' && missing.includes('sink')) continue;
      const w = where.get(g.component);
      const pos = w ? locate(w.l, g.input !== undefined ? [...w.path, 'inputs', g.input] : w.path) : { line: 1, col: 1 };
      issues.push({ severity: g.severity, code: g.code, file: w?.l.file ?? absFiles[0] ?? '', ...pos, component: g.component, message: g.message });
    }
  }
  // An unset variable leaves an empty value behind: a schema error at that value only echoes the
  // TERN_ERR_CONFIG_ENV one ("max_line_bytes: must be integer" for `max_line_bytes: ${MAX}`).
  const unset = new Set(issues.filter((i) => i.code === 'TERN_ERR_CONFIG_ENV').map((i) => `${i.file}:${i.line}:${i.col}`));
  const reported = issues.filter((i) => i.code !== 'TERN_ERR_CONFIG_SCHEMA' || !unset.has(`${i.file}:${i.line}:${i.col}`)).sort(byPosition(absFiles));
  if (reported.some((i) => i.severity === 'error')) throw new ConfigError(reported);

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
    warnings: reported.filter((i) => i.severity === 'warning'),
  });
}
