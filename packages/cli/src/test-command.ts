/**
 * `tern test -c pipeline.yaml`: runs the pipeline's unit tests (core's test-harness.ts) and prints a
 * report; exit 0 when every test passed, 1 when one failed, the files are invalid, or there is no
 * test at all (a pipeline CI "tests" with no test would pass silently).
 *
 * Tests sit in the pipeline file under `tests:`, or in a side file next to it,
 * `<name>.tests.yaml` for `<name>.yaml`, which is loaded with it (so a ConfigMap does not carry them).
 */
import { existsSync } from 'node:fs';
import { ConfigError, createLogger, runPipelineTest, type Registry } from '@tern/core';
import { compileCondition } from '@tern/transforms';
import { loadOrReport } from './run.ts';

/** The side file of a pipeline file: `x.yaml` → `x.tests.yaml`. */
export function sideFile(file: string): string {
  return file.replace(/(\.ya?ml)?$/, (ext) => `.tests${ext || '.yaml'}`);
}

export async function testCommand(files: string[], extra: string[], registry: Registry, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const sides = files.map(sideFile).filter((f) => existsSync(f) && !files.includes(f));
  const all = [...files, ...sides, ...extra];
  const cfg = loadOrReport(all, registry, (s) => process.stderr.write(s + '\n'));
  if (cfg instanceof ConfigError) return 1;
  if (cfg.tests.length === 0) {
    process.stderr.write(`no tests in ${all.join(', ')}: add tests: to the pipeline, or a side file ${sideFile(files[0] ?? 'pipeline.yaml')}\n`);
    return 1;
  }
  const logger = createLogger({ level: process.env.TERN_LOG_LEVEL ?? 'warn', format: 'auto' });
  const compile = (src: string) => {
    const c = compileCondition(src);
    return (data: Record<string, unknown>) => c.test(data);
  };
  let failed = 0;
  out(`running ${cfg.tests.length} test${cfg.tests.length === 1 ? '' : 's'} (${all.join(', ')})\n`);
  for (const t of cfg.tests) {
    let outcome;
    try {
      outcome = await runPipelineTest(cfg, t, { logger, compile });
    } catch (e) {
      outcome = { name: t.name, file: t.file, line: t.line, ok: false, failures: [`the test could not run: ${(e as Error).message}`], seen: {} };
    }
    if (outcome.ok) out(`  ✔ ${t.name}\n`);
    else {
      failed++;
      out(`  ✘ ${t.name} (${t.file}:${t.line})\n`);
      for (const f of outcome.failures) out(`      ${f}\n`);
    }
  }
  const passed = cfg.tests.length - failed;
  out(`${cfg.tests.length} test${cfg.tests.length === 1 ? "" : "s"}, ${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}
