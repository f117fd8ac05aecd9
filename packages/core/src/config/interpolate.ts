/**
 * `${VAR}` and `${VAR:-default}` in pipeline files, replaced from the environment.
 *
 * Interpolation runs on the parsed YAML scalars, not on the raw text, so a value containing `:` or
 * `#` cannot change the structure of the file and every error keeps its exact line and column. A
 * plain (unquoted) scalar that is exactly one reference is re-typed after substitution, so
 * `port: ${PORT}` gives a number. `$${` writes a literal `${`.
 */

const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g;

export interface InterpolationResult {
  value: string;
  missing: string[];
}

export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): InterpolationResult {
  const missing: string[] = [];
  if (!text.includes('$')) return { value: text, missing };
  const value = text.replace(REF, (m, name: string | undefined, def: string | undefined) => {
    if (m === '$${') return '${';
    const v = env[name as string];
    if (v !== undefined && !(v === '' && m.includes(':-'))) return v;
    if (def !== undefined) return def;
    missing.push(name as string);
    return '';
  });
  return { value, missing };
}

/** True when the whole text is one `${...}` reference. */
export function isSingleReference(text: string): boolean {
  return /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-[^}]*)?\}$/.test(text.trim());
}
