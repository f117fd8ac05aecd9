/**
 * Path globs for `include` / `exclude`: `*` and `?` within one path segment, `[abc]` classes,
 * `{a,b}` alternatives and `**` for any number of directories. Each pattern is split into a static
 * base directory (walked) and a matcher (compiled once to a RegExp), so a scan only lists the
 * directories a pattern can reach.
 */
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';

const MAGIC = /[*?[{]/;

function escapeRe(s: string): string {
  return s.replace(/[.+^$()|\\/]/g, '\\$&');
}

/** Compiles a glob (absolute path) to a RegExp matching whole paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let i = 0;
  let inBrace = 0;
  while (i < glob.length) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more directories; a trailing `**` matches everything below.
        if (glob[i + 2] === '/') {
          re += '(?:[^/]*/)*';
          i += 3;
        } else {
          re += '.*';
          i += 2;
        }
      } else {
        re += '[^/]*';
        i++;
      }
    } else if (c === '?') {
      re += '[^/]';
      i++;
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) {
        re += '\\[';
        i++;
      } else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end + 1;
      }
    } else if (c === '{') {
      inBrace++;
      re += '(?:';
      i++;
    } else if (c === '}' && inBrace > 0) {
      inBrace--;
      re += ')';
      i++;
    } else if (c === ',' && inBrace > 0) {
      re += '|';
      i++;
    } else {
      re += escapeRe(c);
      i++;
    }
  }
  return new RegExp(`^${re}$`);
}

export interface CompiledGlob {
  readonly pattern: string;
  readonly base: string;
  readonly re: RegExp;
  /** Deepest directory level below `base` the pattern can reach (Infinity with `**`). */
  readonly depth: number;
}

export function compileGlob(pattern: string, cwd: string): CompiledGlob {
  const abs = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
  const norm = sep === '/' ? abs : abs.split(sep).join('/');
  const parts = norm.split('/');
  const baseParts: string[] = [];
  for (const p of parts.slice(0, -1)) {
    if (MAGIC.test(p)) break;
    baseParts.push(p);
  }
  const rest = parts.slice(baseParts.length);
  const base = baseParts.join('/') || '/';
  const depth = rest.some((p) => p.includes('**')) ? Infinity : rest.length - 1;
  return { pattern: norm, base, re: globToRegExp(norm), depth };
}

/** Lists regular files matching any include and no exclude. Missing directories are not an error. */
export async function expandGlobs(includes: readonly CompiledGlob[], excludes: readonly RegExp[]): Promise<string[]> {
  const out = new Set<string>();
  for (const g of includes) {
    if (!MAGIC.test(g.pattern)) {
      // A plain path: no directory listing needed.
      try {
        if ((await stat(g.pattern)).isFile() && !excludes.some((x) => x.test(g.pattern))) out.add(g.pattern);
      } catch {
        /* not there (yet) */
      }
      continue;
    }
    await walk(g.base, 0, g, excludes, out);
  }
  return [...out].sort();
}

async function walk(dir: string, level: number, g: CompiledGlob, excludes: readonly RegExp[], out: Set<string>): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (level < g.depth) await walk(p, level + 1, g, excludes, out);
    } else if (e.isFile() || e.isSymbolicLink()) {
      if (g.re.test(p) && !excludes.some((x) => x.test(p))) {
        if (e.isSymbolicLink()) {
          try {
            if (!(await stat(p)).isFile()) continue;
          } catch {
            continue;
          }
        }
        out.add(p);
      }
    }
  }
}
