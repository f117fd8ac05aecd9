/**
 * The Markdown table of a component's options, generated from its JSON Schema: the one writer behind
 * docs/configuration.md and the options tables in the packages' READMEs, so the docs cannot drift
 * from what validation accepts.
 */
import type { JsonSchema } from '../plugin/types.ts';

function typeOf(s: JsonSchema): string {
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  if (s.type === 'array') return `list of ${typeOf((s.items as JsonSchema | undefined) ?? {})}`;
  if (Array.isArray(s.type)) return (s.type as string[]).join(' \\| ');
  if (typeof s.type === 'string') return s.type;
  const alts = (s.oneOf ?? s.anyOf) as JsonSchema[] | undefined;
  if (Array.isArray(alts)) return alts.map(typeOf).join(' \\| ');
  return 'any';
}

function cell(v: unknown): string {
  return v === undefined ? '' : `\`${JSON.stringify(v)}\``.replace(/\|/g, '\\|');
}

/** Table rows for `props`, nested objects flattened as `parent.child`. */
export function optionRows(props: Record<string, JsonSchema>, required: readonly string[] = [], prefix = ''): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(props)) {
    const desc = String(s.description ?? '').replace(/\n/g, ' ').replace(/\|/g, '\\|');
    const nested = s.type === 'object' && s.properties !== undefined;
    // An object's `{}` default only means "use the defaults of its fields", listed below it.
    const def = nested && typeof s.default === 'object' ? '' : cell(s.default);
    out.push(`| \`${prefix}${name}\`${required.includes(name) ? ' (required)' : ''} | ${typeOf(s)} | ${def} | ${desc} |`);
    if (nested) out.push(...optionRows(s.properties as Record<string, JsonSchema>, (s.required as string[] | undefined) ?? [], `${prefix}${name}.`));
  }
  return out;
}

export const OPTIONS_TABLE_HEADER = ['| option | type | default | description |', '|---|---|---|---|'] as const;

/** The whole table for a component's options schema (`leading` rows go first, e.g. `inputs`). */
export function optionsTable(schema: JsonSchema, leading: readonly string[] = []): string {
  const props = (schema.properties as Record<string, JsonSchema> | undefined) ?? {};
  return [...OPTIONS_TABLE_HEADER, ...leading, ...optionRows(props, (schema.required as string[] | undefined) ?? [])].join('\n');
}
