/**
 * The `tern` command line: `run`, `validate`, `schema`. Exit codes: 0 ok (everything read was
 * delivered, dead-lettered, or dropped as configured), 1 invalid configuration, a state error
 * (unwritable data_dir), or a run that ended with events not delivered (the summary says which),
 * 2 usage error, 130 after a second interrupt.
 *
 * Signals (through rxjs): the first SIGINT/SIGTERM drains within `shutdown_timeout_ms`, and a
 * backstop timer ends the process shortly after that deadline whatever happens; a second one exits
 * at once. SIGHUP is logged and ignored (reload is not there yet; restart to apply a new config).
 * SIGXFSZ is ignored so a file size limit surfaces as EFBIG on the write (reported, retried) rather
 * than killing the process.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { fromEvent, merge, type Subscription } from 'rxjs';
import { ConfigError, createLogger, formatIssue, isTernError, loadPipeline, Pipeline, pipelineSchema, type LogFormat, type PipelineConfig, type Registry } from '@tern/core';
import { builtinRegistry } from './registry.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** How long after `shutdown_timeout_ms` the backstop ends a process that did not stop by itself. */
const BACKSTOP_GRACE_MS = 1000;

function collect(value: string, prev: string[]): string[] {
  return [...prev, value];
}

function configFiles(opts: { config: string[] }): string[] {
  if (opts.config.length) return opts.config;
  if (process.env.TERN_CONFIG) return process.env.TERN_CONFIG.split(',');
  return ['tern.yaml'];
}

function summary(cfg: PipelineConfig): string {
  const n = (k: string) => cfg.components.filter((c) => c.kind === k).length;
  const edges = cfg.components.reduce((a, c) => a + c.inputs.length, 0);
  return `${n('source')} source${n('source') === 1 ? '' : 's'}, ${n('transform')} transform${n('transform') === 1 ? '' : 's'}, ${n('sink')} sink${n('sink') === 1 ? '' : 's'}, ${edges} edge${edges === 1 ? '' : 's'}`;
}

function load(files: string[], registry: Registry, out: (s: string) => void): PipelineConfig | undefined {
  try {
    const cfg = loadPipeline(files, registry);
    for (const w of cfg.warnings) out(formatIssue(w));
    return cfg;
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const i of e.issues) out(formatIssue(i));
      return undefined;
    }
    throw e;
  }
}

export function createProgram(registry: Registry = builtinRegistry()): Command {
  const program = new Command('tern')
    .description('Forward security events (Tetragon, Falco, Kubernetes audit, Zeek) from files to Elasticsearch, LogScale, Parseable and webhooks.')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError();

  program
    .command('run')
    .description('Run a pipeline until interrupted (or, with --once, until every matched file was read to its end and delivered).')
    .option('-c, --config <file>', 'pipeline file (repeat to merge several)', collect, [])
    .option('--once', 'read what exists now, deliver it, exit 0 (backfills, tests)', false)
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default(process.env.TERN_LOG_LEVEL ?? 'info'))
    .addOption(new Option('--log-format <format>', 'log format (auto: pretty on a terminal, JSON otherwise)').choices(['auto', 'json', 'pretty']).default('auto'))
    .option('--stats-interval <seconds>', 'log every component\'s counters this often (0: only at exit)', '60')
    .action(async (opts: { config: string[]; once: boolean; logLevel: string; logFormat: LogFormat; statsInterval: string }) => {
      const logger = createLogger({ level: opts.logLevel, format: opts.logFormat });
      const cfg = load(configFiles(opts), registry, (s) => process.stderr.write(s + '\n'));
      if (!cfg) {
        process.exitCode = 1;
        return;
      }
      const statsSeconds = Number(opts.statsInterval);
      const pipeline = new Pipeline(cfg, { logger, once: opts.once, statsIntervalMs: Number.isFinite(statsSeconds) && statsSeconds > 0 ? statsSeconds * 1000 : 0 });
      let signals = 0;
      let backstop: NodeJS.Timeout | undefined;
      const sub: Subscription = merge(fromEvent(process, 'SIGINT'), fromEvent(process, 'SIGTERM')).subscribe(() => {
        signals++;
        if (signals === 1) {
          logger.info({ deadline_ms: cfg.shutdownTimeoutMs }, 'signal received; draining (send it again to exit at once)');
          pipeline.stop('signal');
          // The pipeline ends within its deadline by design; this makes sure of it.
          backstop = setTimeout(() => {
            logger.error({ code: 'TERN_ERR_SHUTDOWN_TIMEOUT', deadline_ms: cfg.shutdownTimeoutMs }, 'shutdown did not finish within shutdown_timeout_ms; exiting now (undelivered events are read again after restart)');
            process.exit(1);
          }, cfg.shutdownTimeoutMs + BACKSTOP_GRACE_MS);
          backstop.unref();
        } else {
          logger.warn('second signal; exiting without draining');
          process.exit(130);
        }
      });
      const hup = fromEvent(process, 'SIGHUP').subscribe(() => logger.warn('SIGHUP received and ignored: live reload is not supported yet; restart tern to apply a changed pipeline (it resumes from its checkpoints)'));
      const xfsz = fromEvent(process, 'SIGXFSZ').subscribe(() => undefined);
      try {
        logger.info({ files: cfg.files, graph: summary(cfg), data_dir: cfg.dataDir }, 'starting');
        const result = await pipeline.run();
        process.exitCode = result.ok ? 0 : 1;
      } catch (e) {
        logger.fatal({ err: e, ...(isTernError(e) ? { code: e.code } : {}) }, isTernError(e) ? e.message : 'pipeline failed');
        process.exitCode = 1;
      } finally {
        sub.unsubscribe();
        hup.unsubscribe();
        xfsz.unsubscribe();
        if (backstop) clearTimeout(backstop);
      }
    });

  program
    .command('validate')
    .description('Check pipeline files offline: schema, types, inputs, cycles. Exit 1 with the errors, 0 with a summary.')
    .option('-c, --config <file>', 'pipeline file (repeat to merge several)', collect, [])
    .action((opts: { config: string[] }) => {
      const cfg = load(configFiles(opts), registry, (s) => process.stderr.write(s + '\n'));
      if (!cfg) {
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`ok: ${summary(cfg)} (${cfg.files.join(', ')})\n`);
    });

  program
    .command('schema')
    .description('Print the JSON Schema of pipeline files (for editors: yaml-language-server).')
    .action(() => {
      process.stdout.write(JSON.stringify(pipelineSchema(registry), null, 2) + '\n');
    });

  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  await createProgram().parseAsync(argv);
}
