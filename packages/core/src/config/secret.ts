/**
 * Secrets from files. Wherever an option takes a secret (`token`, `password`, `api_key`), a sibling
 * `<name>_file` may name a file holding it instead, which is how Kubernetes mounts Secrets. The file
 * is read at build time; one trailing newline is removed (editors and `kubectl create secret
 * --from-file` add one).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TernError } from '../errors.ts';

export function readSecret(value: string | undefined, file: string | undefined, name: string, baseDir = process.cwd()): string | undefined {
  if (value !== undefined && file !== undefined) {
    throw new TernError('TERN_ERR_CONFIG_INVALID', `${name} and ${name}_file are both set; keep one`);
  }
  if (file === undefined) return value;
  const path = resolve(baseDir, file);
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new TernError('TERN_ERR_SECRET_FILE', `${name}_file: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** JSON Schema properties for a secret option and its `_file` twin. */
export function secretProperties(name: string, description: string): Record<string, { type: 'string'; description: string; examples: string[] }> {
  return {
    [name]: { type: 'string', description: `${description} Prefer \`${name}_file\` or \`\${ENV}\` over a literal value.`, examples: [`\${${name.toUpperCase()}}`] },
    [`${name}_file`]: { type: 'string', description: `File holding ${name} (for example a mounted Kubernetes Secret); one trailing newline is ignored.`, examples: [`/var/run/secrets/tern/${name}`] },
  };
}
