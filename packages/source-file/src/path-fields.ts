/**
 * Fields derived from a file's path (`path_fields`): a template such as
 * `/var/log/pods/{kubernetes.namespace}_{kubernetes.pod.name}_*\/{container.name}/*.log` or
 * `/nfs/zeek/{observer.name}/{labels.date}/{log}.log` names the path segments it captures. Each
 * `{name}` matches within one path segment, `*` too, `**` across segments. Templates are compiled
 * once; a path is matched once when its file is opened, never per line.
 */
import { isAbsolute, resolve } from 'node:path';

export interface PathFieldTemplate {
  readonly template: string;
  readonly re: RegExp;
  readonly names: readonly string[];
}

const NAME = /^[A-Za-z_@][A-Za-z0-9_.@-]*$/;

/** Compiles a template (relative templates are resolved against `cwd`). Throws on a malformed `{name}`. */
export function compilePathTemplate(template: string, cwd: string): PathFieldTemplate {
  const abs = isAbsolute(template) ? template : resolve(cwd, template);
  const names: string[] = [];
  let re = '';
  for (let i = 0; i < abs.length; i++) {
    const c = abs[i] as string;
    if (c === '{') {
      const end = abs.indexOf('}', i);
      const name = end === -1 ? '' : abs.slice(i + 1, end);
      if (!NAME.test(name)) throw new Error(`path_fields: "${template}": "{${name}" is not a field name in braces such as {pod}`);
      names.push(name);
      re += '([^/]*)';
      i = end;
    } else if (c === '*') {
      if (abs[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return { template, re: new RegExp(`^${re}$`), names };
}

/** Fields from the first template that matches `path`, or undefined. */
export function pathFields(templates: readonly PathFieldTemplate[], path: string): Record<string, string> | undefined {
  for (const t of templates) {
    const m = t.re.exec(path);
    if (!m) continue;
    const out: Record<string, string> = {};
    t.names.forEach((n, i) => {
      out[n] = m[i + 1] ?? '';
    });
    return out;
  }
  return undefined;
}
