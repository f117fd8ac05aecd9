/**
 * The `tern` command line: `run`, `validate`, `test`, `tap`, `top`, `schema`. Exit codes: 0 ok
 * (everything read was delivered, dead-lettered, or dropped as configured; every test passed), 1
 * invalid configuration, a state error (unwritable data_dir), a run that ended with events not
 * delivered (the summary says which) or a failed test, 2 usage error, 130 after a second interrupt.
 * What `run` does with signals, reloads and progress is in run.ts.
 */
import { Command, Option } from 'commander';
import { ConfigError, formatIssue, pipelineSchema, type LogFormat, type Registry } from '@tern/core';
import { apiUrl, tap, top } from './api-client.ts';
import { builtinRegistry } from './registry.ts';
import { graphSummary, loadOrReport, runCommand, VERSION } from './run.ts';
import { testCommand } from './test-command.ts';

function collect(value: string, prev: string[]): string[] {
  return [...prev, value];
}

function configFiles(opts: { config: string[] }): string[] {
  if (opts.config.length) return opts.config;
  if (process.env.TERN_CONFIG) return process.env.TERN_CONFIG.split(',');
  return ['tern.yaml'];
}

/**
 * The API that `tap` and `top` talk to, or undefined once it said on stderr why there is none (a
 * pipeline without `api`, an invalid pipeline file): a usage mistake gets a line, not a stack trace.
 */
function apiOrReport(command: string, opts: { api?: string; config: string[] }, registry: Registry): string | undefined {
  try {
    return apiUrl(opts, registry);
  } catch (e) {
    if (e instanceof ConfigError) for (const i of e.issues) process.stderr.write(`${formatIssue(i)}\n`);
    else process.stderr.write(`tern ${command}: ${(e as Error).message}\n`);
    return undefined;
  }
}

/** stdout's reader closed the pipe: nothing more can be shown, so the command ends with its exit code so far. */
function endOnClosedPipe(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
}

export function createProgram(registry: Registry = builtinRegistry()): Command {
  const program = new Command('tern')
    .description('Forward security events (Tetragon, Falco, Kubernetes audit, Zeek) from files to Elasticsearch, LogScale, Parseable and webhooks.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError()
    // A usage error (unknown option or command, a missing argument) exits 2, as documented, apart from
    // the failures of a command that ran (1). Help and --version exit 0. Subcommands inherit this.
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2))
    .hook('preAction', (_program, command) => {
      // `tern schema | head`, `tern tap x | head`: a reader that goes away ends the command quietly
      // instead of with an unhandled EPIPE stack trace. Not for `run`: there stdout is a console
      // sink, whose failed writes are the sink's to report (TERN_ERR_WRITE) and count.
      if (command.name() !== 'run') process.stdout.on('error', endOnClosedPipe);
    });

  program
    .command('run')
    .description('Run a pipeline until interrupted (or, with --once, until every matched file was read to its end and delivered). SIGHUP reloads the pipeline files.')
    .option('-c, --config <file>', 'pipeline file (repeat to merge several)', collect, [])
    .option('--once', 'read what exists now, deliver it, exit 0 (backfills, tests)', false)
    .option('--watch-config', 'reload when a pipeline file changes (as SIGHUP does)', false)
    .option('--no-progress', 'with --once: no progress bar or lines, no summary at the end')
    .option('--progress-interval <seconds>', 'with --once in a pipe: a progress line this often', '5')
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default(process.env.TERN_LOG_LEVEL ?? 'info'))
    .addOption(new Option('--log-format <format>', 'log format (auto: pretty on a terminal, JSON otherwise)').choices(['auto', 'json', 'pretty']).default('auto'))
    .option('--stats-interval <seconds>', 'log every component\'s counters this often (0: only at exit)', '60')
    .action(async (opts: { config: string[]; once: boolean; watchConfig: boolean; progress: boolean; progressInterval: string; logLevel: string; logFormat: LogFormat; statsInterval: string }) => {
      await runCommand({ ...opts, files: configFiles(opts) }, registry);
    });

  program
    .command('validate')
    .description('Check pipeline files offline: schema, types, inputs, cycles. Exit 1 with the errors, 0 with a summary.')
    .option('-c, --config <file>', 'pipeline file (repeat to merge several)', collect, [])
    .action((opts: { config: string[] }) => {
      const cfg = loadOrReport(configFiles(opts), registry, (s) => process.stderr.write(s + '\n'));
      if (cfg instanceof ConfigError) {
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`ok: ${graphSummary(cfg)} (${cfg.files.join(', ')})\n`);
    });

  program
    .command('test')
    .description('Run the pipeline\'s unit tests (tests: in the file, or <name>.tests.yaml beside it): events into a component, CEL conditions on what comes out. Exit 1 when one fails.')
    .option('-c, --config <file>', 'pipeline file (repeat to merge several)', collect, [])
    .option('-t, --tests <file>', 'another file of tests (repeatable)', collect, [])
    .action(async (opts: { config: string[]; tests: string[] }) => {
      process.exitCode = await testCommand(configFiles(opts), opts.tests, registry);
    });

  program
    .command('tap')
    .description('Stream the events leaving a component of a running tern (through its API), rate-limited, optionally filtered by a CEL condition.')
    .argument('<component>', 'component id (a sink: what it receives)')
    .option('--api <url>', 'the API of the running tern (default: api.address of -c, else http://127.0.0.1:8686)')
    .option('-c, --config <file>', 'pipeline file whose api.address to use', collect, [])
    .option('--rate <n>', 'at most this many events per second', '10')
    .option('--filter <cel>', 'only events for which this CEL condition over `event` is true')
    .option('--limit <n>', 'stop after this many events (0: until Ctrl-C)', '0')
    .option('--with-output', 'print {component, output, event} instead of the event alone', false)
    .action(async (component: string, opts: { api?: string; config: string[]; rate: string; filter?: string; limit: string; withOutput: boolean }) => {
      const api = apiOrReport('tap', opts, registry);
      if (api === undefined) return void (process.exitCode = 1);
      process.exitCode = await tap(api, component, { rate: Number(opts.rate), limit: Number(opts.limit), withOutput: opts.withOutput, ...(opts.filter ? { filter: opts.filter } : {}) });
    });

  program
    .command('top')
    .description('A live view of a running tern (through its API): per-component throughput, errors, buffer fill and sink state.')
    .option('--api <url>', 'the API of the running tern (default: api.address of -c, else http://127.0.0.1:8686)')
    .option('-c, --config <file>', 'pipeline file whose api.address to use', collect, [])
    .option('--interval <seconds>', 'refresh this often', '1')
    .option('--iterations <n>', 'draw this many times, then exit (default: until q on a terminal, 2 in a pipe)')
    .action(async (opts: { api?: string; config: string[]; interval: string; iterations?: string }) => {
      const api = apiOrReport('top', opts, registry);
      if (api === undefined) return void (process.exitCode = 1);
      process.exitCode = await top(api, { intervalMs: Math.max(0.1, Number(opts.interval) || 1) * 1000, ...(opts.iterations ? { iterations: Number(opts.iterations) } : {}) });
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
