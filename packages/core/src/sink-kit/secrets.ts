/**
 * Credentials: reads the secrets of an `auth` block with core's one `readSecret` (field/secret.ts,
 * so `*_file` options behave as everywhere else) and turns them into request headers.
 */
import { TernError } from '../errors.ts';
import { readSecret } from '../field/secret.ts';
import type { AuthOptions } from './types.ts';

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
