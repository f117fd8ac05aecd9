/**
 * Packs the publishable npm package `tern-forwarder` (the `tern` command) into one tarball that
 * installs with plain `npm install <tarball>` / `npx`: the @tern/* workspace packages are not
 * published, so the tarball carries them as bundled dependencies (node_modules/@tern/* inside the
 * tarball, listed in `bundleDependencies`), each packed by `pnpm pack` so `workspace:` and `catalog:`
 * ranges are already resolved. Their third-party dependencies are declared on the top-level package,
 * where npm installs them and the bundled packages find them by Node's usual lookup.
 *
 * Bundling whole packages (instead of one esbuild file) keeps the module layout the image runs
 * (`pnpm deploy`), which the transforms' worker threads rely on: they import a definition's module
 * by its URL. Run after `pnpm build`.
 *
 * usage: node scripts/pack-cli.ts [--out <dir>]   (prints the tarball's path)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  bundleDependencies?: string[];
  scripts?: Record<string, string>;
  bin?: Record<string, string>;
}

const root = resolve(import.meta.dirname, '..');
const CLI = 'packages/cli';
const outArg = process.argv.indexOf('--out');
const out = resolve(outArg > 0 ? (process.argv[outArg + 1] ?? '.') : '.');

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

function fail(message: string): never {
  process.stderr.write(`pack-cli: ${message}\n`);
  process.exit(1);
}

// Workspace packages by name, and the ones the CLI needs at run time (transitively).
const workspace = new Map<string, string>();
for (const d of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', d);
  if (existsSync(join(dir, 'package.json'))) workspace.set(readManifest(dir).name, dir);
}
const cliDir = join(root, CLI);
const bundled: string[] = [];
const visit = (m: Manifest) => {
  for (const dep of Object.keys(m.dependencies ?? {})) {
    const dir = workspace.get(dep);
    if (!dir || bundled.includes(dep)) continue;
    bundled.push(dep);
    visit(readManifest(dir));
  }
};
visit(readManifest(cliDir));
for (const name of [readManifest(cliDir).name, ...bundled]) {
  const dir = name === readManifest(cliDir).name ? cliDir : workspace.get(name)!;
  if (!existsSync(join(dir, 'dist', 'index.js'))) fail(`${name} has no dist/index.js: run \`pnpm build\` first`);
}

const work = mkdtempSync(join(tmpdir(), 'tern-pack-'));
try {
  const stage = join(work, 'stage');
  /** `pnpm pack` one workspace package and unpack it into `dest` (pnpm resolves workspace:/catalog: ranges). */
  const packInto = (dir: string, dest: string): Manifest => {
    const tgzDir = mkdtempSync(join(work, 'tgz-'));
    execFileSync('pnpm', ['pack', '--pack-destination', tgzDir], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    const [tgz] = readdirSync(tgzDir);
    if (!tgz) fail(`pnpm pack wrote nothing for ${dir}`);
    mkdirSync(dest, { recursive: true });
    execFileSync('tar', ['-xzf', join(tgzDir, tgz), '-C', dest, '--strip-components=1']);
    return readManifest(dest);
  };

  const top = packInto(cliDir, stage);
  // Third-party dependencies of the CLI and of every bundled package, declared once on the top level.
  const deps: Record<string, string> = {};
  const want = (from: string, all: Record<string, string> = {}) => {
    for (const [name, range] of Object.entries(all)) {
      if (workspace.has(name)) continue;
      if (deps[name] !== undefined && deps[name] !== range) fail(`${name} is wanted as ${deps[name]} and as ${range} (${from}): align them in pnpm-workspace.yaml's catalog`);
      deps[name] = range;
    }
  };
  want(top.name, top.dependencies);
  for (const name of bundled) {
    const m = packInto(workspace.get(name)!, join(stage, 'node_modules', name));
    want(name, m.dependencies);
    // A bundled package must itself be complete: its workspace dependencies are bundled beside it.
    for (const dep of Object.keys(m.dependencies ?? {})) if (workspace.has(dep) && !bundled.includes(dep)) fail(`${name} needs ${dep}, which is not bundled`);
  }
  const versions = Object.fromEntries(bundled.map((n) => [n, readManifest(join(stage, 'node_modules', n)).version]));
  const manifest: Manifest = { ...top, dependencies: { ...Object.fromEntries(Object.entries(deps).sort()), ...versions }, bundleDependencies: bundled.sort() };
  delete manifest.devDependencies;
  delete manifest.scripts;
  writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));

  mkdirSync(out, { recursive: true });
  const name = execFileSync('npm', ['pack', '--pack-destination', out, '--silent'], { cwd: stage, encoding: 'utf8' }).trim().split('\n').pop();
  process.stdout.write(`${join(out, name ?? '')}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
