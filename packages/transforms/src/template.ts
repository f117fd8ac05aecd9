/**
 * `{{ field.path }}` templates for remap's `set` values. A template is compiled once into literal
 * parts and parsed paths; rendering walks them without regexes.
 *
 * A template that is exactly one placeholder (`"{{process_exec.process.pid}}"`) yields the field's
 * value with its type (a number stays a number, an object is copied by reference); a template with
 * text around placeholders yields a string, where a missing field renders as the empty string and
 * a non-string value as its JSON. `{{{{` writes a literal `{{`. Origin fields (`{{@path}}`,
 * `{{@host}}`, `{{@source}}`, `{{@offset}}`, `{{@fields.name}}`, see path.ts) read the event's
 * origin when one is given to `render`.
 */
import type { LogEvent } from '@tern/core';
import { getIn, getOrigin, isOriginPath, parsePath, type Path } from './path.ts';

export interface Template {
  readonly source: string;
  /** True when the template has no placeholder (rendering returns the source). */
  readonly constant: boolean;
  render(data: unknown, ev?: Pick<LogEvent, 'origin' | 'offset'>): unknown;
}

function read(data: unknown, path: Path, ev: Pick<LogEvent, 'origin' | 'offset'> | undefined): unknown {
  if (isOriginPath(path)) return ev === undefined ? undefined : getOrigin(ev, path);
  return getIn(data, path);
}

function stringify(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Compiles a template; throws with the column of a bad placeholder. */
export function compileTemplate(source: string): Template {
  const literals: string[] = [];
  const paths: Path[] = [];
  let lit = '';
  let i = 0;
  while (i < source.length) {
    if (source.startsWith('{{{{', i)) {
      lit += '{{';
      i += 4;
      continue;
    }
    if (source.startsWith('{{', i)) {
      const end = source.indexOf('}}', i + 2);
      if (end < 0) throw new Error(`unterminated "{{" at column ${i + 1}`);
      const inner = source.slice(i + 2, end).trim();
      if (inner === '') throw new Error(`empty placeholder at column ${i + 1}`);
      let path: Path;
      try {
        path = parsePath(inner);
      } catch (err) {
        throw new Error(`bad placeholder at column ${i + 1}: ${(err as Error).message}`);
      }
      literals.push(lit);
      paths.push(path);
      lit = '';
      i = end + 2;
      continue;
    }
    lit += source[i];
    i++;
  }
  literals.push(lit);

  if (paths.length === 0) {
    const value = literals[0] as string;
    return { source, constant: true, render: () => value };
  }
  const only = paths[0] as Path;
  if (paths.length === 1 && literals[0] === '' && literals[1] === '') {
    return { source, constant: false, render: (data, ev) => read(data, only, ev) };
  }
  return {
    source,
    constant: false,
    render(data: unknown, ev?: Pick<LogEvent, 'origin' | 'offset'>): string {
      let out = literals[0] as string;
      for (let k = 0; k < paths.length; k++) out += stringify(read(data, paths[k] as Path, ev)) + (literals[k + 1] as string);
      return out;
    },
  };
}

/** Validation helper: undefined when the template compiles, else the message. */
export function templateError(source: unknown): string | undefined {
  if (typeof source !== 'string') return undefined;
  try {
    compileTemplate(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
