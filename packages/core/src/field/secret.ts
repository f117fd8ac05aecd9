/**
 * Secrets from files: the one `readSecret`. Wherever an option takes a secret (`token`,
 * `password`, `api_key`, a webhook `url`, a signature `secret`), a sibling `<name>_file` may name a
 * file holding it instead, which is how Kubernetes mounts Secrets. The file is read at build time,
 * once: a failure is a configuration problem reported with the option name, not a delivery error
 * found at the first request.
 *
 * Rules: an empty value counts as unset (`${TOKEN:-}` left empty); setting both the value and the
 * file is an error; relative paths resolve against the pipeline file's directory; trailing line
 * breaks are removed (editors, `echo` and `kubectl create secret --from-file` leave one, and no
 * credential ends in a newline).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TernError } from '../errors.ts';
import type { JsonSchema } from '../plugin/types.ts';

/**
 * Returns `value`, or the content of `file`; undefined when neither is set. `name` is the option
 * as the user wrote it (`auth.token`), for errors (`auth.token_file: cannot read …`).
 */
export function readSecret(value: string | undefined, file: string | undefined, name: string, baseDir = process.cwd()): string | undefined {
  const hasValue = value !== undefined && value !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasValue && hasFile) throw new TernError('TERN_ERR_CONFIG_INVALID', `${name} and ${name}_file are both set; keep one`);
  if (!hasFile) return hasValue ? value : undefined;
  const path = resolve(baseDir, file);
  try {
    return readFileSync(path, 'utf8').replace(/[\r\n]+$/, '');
  } catch (e) {
    throw new TernError('TERN_ERR_SECRET_FILE', `${name}_file: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** JSON Schema properties of a secret option and its `_file` twin (`what`: "Password (strategy basic)"). */
export function secretProperties<N extends string>(name: N, what: string, example: string): Record<N | `${N}_file`, JsonSchema> {
  const props: Record<string, JsonSchema> = {
    [name]: { type: 'string', minLength: 1, description: `${what}. Prefer ${name}_file or \${ENV} interpolation over a literal.`, examples: [example] },
    [`${name}_file`]: {
      type: 'string',
      minLength: 1,
      description: `File holding the ${what.replace(/ \(.*\)$/, '').toLowerCase()} (a mounted Kubernetes Secret); trailing newlines are ignored.`,
      examples: [`/var/run/secrets/tern/${name}`],
    },
  };
  return props as Record<N | `${N}_file`, JsonSchema>;
}
