/**
 * `tern run`: loads the pipeline, serves the HTTP API when `api` is set, runs until stopped, reloads
 * on SIGHUP (and, with `--watch-config`, when a pipeline file changes), and with `--once` shows its
 * progress and a summary.
 *
 * The control plane is rxjs streams: signals (the first SIGINT/SIGTERM drains within
 * `shutdown_timeout_ms`, a backstop timer ends the process at that deadline whatever happens, a
 * second one exits at once), configuration changes (loaded, validated, applied one at a
 * time; a file that fails validation is logged with its file:line errors and the running pipeline
 * goes on), and readiness (sink health aggregated every second; its changes are logged). SIGXFSZ is
 * ignored so a file size limit surfaces as EFBIG on the write (reported, retried) rather than killing
 * the process.
 */
import { readFileSync } from 'node:fs';
import { concatMap, distinctUntilChanged, fromEvent, interval, map, merge, type Subscription } from 'rxjs';
import { ApiServer, type Logger, ConfigError, createLogger, formatIssue, isTernError, loadPipeline, Metrics, Pipeline, type LogFormat, type PipelineConfig, type Registry } from '@tern/core';
import { compileCondition } from '@tern/transforms';
import { configChanges } from './config-changes.ts';
import { takeEarlySighup } from './early-signals.ts';
import { progressBar, progressLines, summaryFields, summaryTable, type ProgressView } from './progress.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
export const VERSION = pkg.version;

export interface RunOptions {
  readonly files: string[];
  readonly once: boolean;
  readonly logLevel: string;
  readonly logFormat: LogFormat;
  readonly statsInterval: string;
  readonly watchConfig: boolean;
  readonly progress: boolean;
  readonly progressInterval: string;
}

export function graphSummary(cfg: PipelineConfig): string {
  const n = (k: string) => cfg.components.filter((c) => c.kind === k).length;
  const edges = cfg.components.reduce((a, c) => a + c.inputs.length, 0);
  return `${n('source')} source${n('source') === 1 ? '' : 's'}, ${n('transform')} transform${n('transform') === 1 ? '' : 's'}, ${n('sink')} sink${n('sink') === 1 ? '' : 's'}, ${edges} edge${edges === 1 ? '' : 's'}`;
}

/** Loads and validates; prints every issue with `out` and returns the ConfigError (every issue, its code) when the files are invalid. */
export function loadOrReport(files: string[], registry: Registry, out: (s: string, issue?: ReturnType<typeof issueOf>) => void): PipelineConfig | ConfigError {
  try {
    const cfg = loadPipeline(files, registry);
    for (const w of cfg.warnings) out(formatIssue(w), issueOf(w));
    return cfg;
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const i of e.issues) out(formatIssue(i), issueOf(i));
      return e;
    }
    throw e;
  }
}

function issueOf(i: { severity: string; code: string; file: string; line: number; col: number; component?: string }) {
  return { severity: i.severity, code: i.code, file: i.file, line: i.line, col: i.col, ...(i.component ? { component: i.component } : {}) };
}

/** A tap filter: CEL over `event`, as in `filter` and `route`; undefined for an event it could not be evaluated on. */
export function compileTapFilter(source: string): (data: Record<string, unknown>) => boolean | undefined {
  const c = compileCondition(source);
  return (data) => c.test(data);
}

export async function runCommand(opts: RunOptions, registry: Registry): Promise<void> {
  const tty = process.stderr.isTTY === true;
  const pretty = opts.logFormat === 'pretty' || (opts.logFormat === 'auto' && tty);
  const progressMs = Math.max(1, Number(opts.progressInterval) || 5) * 1000;
  // The bar needs log lines to pass through it (printed above the bar), so it comes before the logger.
  let view: ProgressView | undefined = opts.once && opts.progress && tty && pretty ? progressBar() : undefined;
  const logger: Logger = view?.logStream ? createLogger({ level: opts.logLevel, format: 'pretty', destination: view.logStream }) : createLogger({ level: opts.logLevel, format: opts.logFormat });
  if (view === undefined && opts.once && opts.progress) view = progressLines(logger, progressMs);

  // On a terminal the lines `tern validate` prints; as JSON logs (a DaemonSet's stderr) one log line
  // per issue, with its code, file and line as fields, as a rejected reload logs them, then a last
  // line that says the start failed.
  const report = pretty
    ? (s: string) => process.stderr.write(s + '\n')
    : (s: string, issue?: { severity: string }) => (issue?.severity === 'warning' ? logger.warn(issue, s) : logger.error(issue, s));
  const cfg = loadOrReport(opts.files, registry, report);
  if (cfg instanceof ConfigError) {
    if (!pretty) {
      const errors = cfg.issues.filter((i) => i.severity === 'error');
      logger.fatal({ code: cfg.code, codes: [...new Set(errors.map((i) => i.code))], errors: errors.length, files: opts.files }, 'not started: the configuration is not valid (errors above, with file:line)');
    }
    process.exitCode = 1;
    return;
  }
  const statsSeconds = Number(opts.statsInterval);
  const pipeline = new Pipeline(cfg, { logger, once: opts.once, statsIntervalMs: Number.isFinite(statsSeconds) && statsSeconds > 0 ? statsSeconds * 1000 : 0 });
  const ready = (): boolean => pipeline.readiness().length === 0;
  const metrics = new Metrics(pipeline.telemetry, { inFlight: () => pipeline.budget, reloads: () => pipeline.reloads, ready }, { version: VERSION });
  const api = new ApiServer({ logger: logger.child({ component: 'api' }), metrics, target: () => pipeline, compileFilter: compileTapFilter, version: VERSION });
  let apiAddress: string | undefined;
  const subs: Subscription[] = [];
  let backstop: NodeJS.Timeout | undefined;
  let finished = false;

  const serveApi = async (address: string | undefined): Promise<void> => {
    if (address === apiAddress) return;
    const previous = apiAddress;
    if (previous !== undefined) await api.close();
    apiAddress = undefined;
    if (address === undefined) return;
    try {
      const bound = await api.listen(address);
      apiAddress = address;
      logger.info({ address, url: bound.url }, 'API listening: /healthz, /readyz, /metrics');
    } catch (e) {
      if (previous === undefined) throw e;
      // A reload must not take the probes and metrics away: back to the address that worked.
      const bound = await api.listen(previous);
      apiAddress = previous;
      logger.error({ err: e, address, kept: previous, url: bound.url }, `the API could not move to ${address} (${(e as Error).message}); it stays on ${previous}`);
    }
  };

  try {
    await serveApi(cfg.api?.address);
  } catch (e) {
    logger.fatal({ err: e }, (e as Error).message);
    process.exitCode = 1;
    return;
  }

  // Signals.
  let signals = 0;
  subs.push(
    merge(fromEvent(process, 'SIGINT'), fromEvent(process, 'SIGTERM')).subscribe(() => {
      signals++;
      if (signals === 1) {
        logger.info({ deadline_ms: pipeline.config.shutdown_timeout_ms }, 'signal received; draining (send it again to exit at once)');
        pipeline.stop('signal');
        // The pipeline ends an exit reserve before its deadline by design (core's Deadlines); this
        // makes sure of it: the deadline is when the process is gone, whatever state it is in.
        backstop = setTimeout(() => {
          // A run that finished but left a handle open (a socket to a dead peer) exits with its own
          // code; one still stopping is cut off here.
          if (finished) process.exit(process.exitCode ?? 0);
          logger.error({ code: 'TERN_ERR_SHUTDOWN_TIMEOUT', deadline_ms: pipeline.config.shutdown_timeout_ms }, 'shutdown did not finish within shutdown_timeout_ms; exiting now (undelivered events are read again after restart)');
          process.exit(1);
        }, pipeline.config.shutdown_timeout_ms);
        backstop.unref();
      } else {
        logger.warn('second signal; exiting without draining');
        process.exit(130);
      }
    }),
    fromEvent(process, 'SIGXFSZ').subscribe(() => undefined),
  );

  // Configuration changes: one at a time, each validated before anything is touched.
  if (opts.once) {
    subs.push(fromEvent(process, 'SIGHUP').subscribe(() => logger.warn('SIGHUP ignored: a run with --once does not reload its configuration')));
  } else {
    subs.push(
      configChanges(opts.watchConfig ? cfg.files : undefined)
        .pipe(
          concatMap(async (reason) => {
            logger.info({ reason, files: cfg.files }, 'reloading the configuration');
            const next = loadOrReport(opts.files, registry, (s, issue) => (issue?.severity === 'warning' ? logger.warn(issue, s) : logger.error(issue, s)));
            if (next instanceof ConfigError) {
              pipeline.reloads.rejected++;
              // The code of what was wrong (the first error's), and every kind found, so an alert can tell a typo from a YAML break.
              const errors = next.issues.filter((i) => i.severity === 'error');
              logger.error({ code: next.code, codes: [...new Set(errors.map((i) => i.code))], errors: errors.length, files: cfg.files }, 'reload rejected: the new configuration is not valid (errors above, with file:line); the running pipeline goes on unchanged');
              return;
            }
            const r = await pipeline.reload(next);
            if (r !== undefined) await serveApi(next.api?.address).catch((e: unknown) => logger.error({ err: e }, `the API is off: ${(e as Error).message}`));
          }),
        )
        .subscribe({ error: (e: unknown) => logger.error({ err: e }, 'watching the configuration failed; SIGHUP still reloads') }),
    );
  }

  // Readiness, aggregated from the sinks' health: logged when it changes (a backfill has its progress instead).
  if (!opts.once) subs.push(
    interval(1000)
      .pipe(
        map(() => pipeline.readiness().join('; ')),
        distinctUntilChanged(),
      )
      .subscribe((why) => (why === '' ? logger.info('ready: every sink passed its healthcheck or buffers on disk') : logger.info({ reasons: why }, 'not ready'))),
  );

  const started = Date.now();
  try {
    logger.info({ files: cfg.files, graph: graphSummary(cfg), data_dir: cfg.data_dir }, 'starting');
    const running = pipeline.run();
    // A SIGHUP that arrived while tern was loading is applied now that a handler listens (a reload, or
    // the warning of --once). Only now: run() has queued the start-up apply, so the reload's apply comes
    // after it instead of being undone by it.
    if (takeEarlySighup()) {
      logger.info('SIGHUP received while starting; applying it now');
      process.emit('SIGHUP', 'SIGHUP');
    }
    view?.start(pipeline);
    const result = await running;
    view?.stop();
    view = undefined;
    if (opts.once && opts.progress) {
      // On a terminal a table; in a pipe a log line like every other (log collectors parse stderr).
      if (tty && pretty) process.stderr.write(summaryTable(result, Date.now() - started));
      else logger.info(summaryFields(result, Date.now() - started), summaryTable(result, Date.now() - started).split('\n')[0] ?? 'summary');
    }
    process.exitCode = result.ok ? 0 : 1;
  } catch (e) {
    view?.stop();
    logger.fatal({ err: e, ...(isTernError(e) ? { code: e.code } : {}) }, isTernError(e) ? e.message : 'pipeline failed');
    process.exitCode = 1;
  } finally {
    finished = true;
    for (const s of subs) s.unsubscribe();
    await api.close();
    // The backstop stays (unref'd: it keeps nothing alive) so that a stop requested by a signal is
    // over at its deadline even if a handle outlives the run.
  }
}
