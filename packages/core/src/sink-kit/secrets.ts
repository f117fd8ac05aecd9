/**
 * Secrets and credentials: reads `*_file` options (mounted Kubernetes Secrets) and turns an `auth`
 * block into request headers. Files are read at build time, once: a failure is a configuration
 * problem reported with the option name, not a delivery error found at the first request.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { TernError } from '../errors.ts';
import type { AuthOptions } from './types.ts';

/**
 * Returns `value`, or the content of `file` without its trailing newline (editors and
 * `kubectl create secret --from-file` leave one). Relative paths resolve against `baseDir`.
 * Empty strings count as unset. (Kept private: `config/secret.ts` exports the engine's `readSecret`.)
 */
function readSecret(value: string | undefined, file: string | undefined, option: string, baseDir = process.cwd()): string | undefined {
  if (value !== undefined && value !== '') return value;
  if (file === undefined || file === '') return undefined;
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n+$/, '');
  } catch (err) {
    throw new TernError('TERN_ERR_SECRET_FILE', `${option}_file: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Credentials with secrets read. */
export type ResolvedAuth =
  | { readonly strategy: 'basic'; readonly user: string; readonly password: string }
  | { readonly strategy: 'bearer'; readonly token: string }
  | { readonly strategy: 'api_key'; readonly apiKey: string };

/** Reads the secrets of an `auth` block. Throws `TERN_ERR_SECRET_FILE` or `TERN_ERR_BUILD` naming the option. */
export function resolveAuth(auth: AuthOptions | undefined, baseDir?: string, path = 'auth'): ResolvedAuth | undefined {
  if (auth === undefined) return undefined;
  const need = (v: string | undefined, key: string): string => {
    if (v === undefined) throw new TernError('TERN_ERR_BUILD', `${path}: strategy ${auth.strategy} needs ${key} or ${key}_file`);
    return v;
  };
  switch (auth.strategy) {
    case 'basic':
      if (!auth.user) throw new TernError('TERN_ERR_BUILD', `${path}: strategy basic needs user`);
      return { strategy: 'basic', user: auth.user, password: need(readSecret(auth.password, auth.password_file, `${path}.password`, baseDir), 'password') };
    case 'bearer':
      return { strategy: 'bearer', token: need(readSecret(auth.token, auth.token_file, `${path}.token`, baseDir), 'token') };
    case 'api_key':
      return { strategy: 'api_key', apiKey: need(readSecret(auth.api_key, auth.api_key_file, `${path}.api_key`, baseDir), 'api_key') };
  }
}

export interface AuthHeaderStyle {
  /** Header carrying an API key (default `authorization`; Parseable uses `x-api-key`). */
  readonly apiKeyHeader?: string;
  /** Scheme before the key when the header is `authorization` (default `ApiKey`). */
  readonly apiKeyScheme?: string;
}

/** The request headers for resolved credentials (lower-case names). */
export function authHeaders(auth: ResolvedAuth | undefined, style: AuthHeaderStyle = {}): Record<string, string> {
  if (auth === undefined) return {};
  switch (auth.strategy) {
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` };
    case 'bearer':
      return { authorization: `Bearer ${auth.token}` };
    case 'api_key': {
      const header = (style.apiKeyHeader ?? 'authorization').toLowerCase();
      if (header !== 'authorization') return { [header]: auth.apiKey };
      return { authorization: `${style.apiKeyScheme ?? 'ApiKey'} ${auth.apiKey}` };
    }
  }
}
