/**
 * Error catalog. Every error tern raises on purpose is a `TernError` with a stable `code`
 * (`TERN_ERR_*`), listed with its meaning in docs/errors.md (a test keeps the two in sync). The class
 * is branded with `Symbol.for` so `isTernError` works even when two copies of core are installed.
 */

export const ERROR_CODES = {
  TERN_ERR_CONFIG_PARSE: 'The pipeline file is not valid YAML.',
  TERN_ERR_CONFIG_ENV: 'A `${VAR}` reference names an unset environment variable and has no default.',
  TERN_ERR_CONFIG_SCHEMA: 'An option is unknown, misspelt, missing or of the wrong type.',
  TERN_ERR_CONFIG_TYPE: 'A component names a `type` that no installed plugin provides.',
  TERN_ERR_CONFIG_INPUT: 'A transform or sink lists an input that does not exist.',
  TERN_ERR_CONFIG_CYCLE: 'The components form a cycle.',
  TERN_ERR_CONFIG_DUPLICATE: 'Two pipeline files define the same component id, or set a global option differently.',
  TERN_ERR_CONFIG_INVALID: 'A component rejected its options (a rule across several options).',
  TERN_ERR_SECRET_FILE: 'A secret file (`*_file` option) cannot be read.',
  TERN_ERR_BUILD: 'A component could not be built from valid options (for example an unreadable CA file).',
  TERN_ERR_SINK_AUTH: 'A sink was refused for its credentials (401/403); it pauses and keeps the data.',
  TERN_ERR_SINK_UNSUPPORTED: 'A sink reached a server that cannot take its data as configured (another product or version, a deleted or archived webhook); it pauses and keeps the data.',
  TERN_ERR_SHUTDOWN_TIMEOUT: 'Shutdown did not drain within its deadline; undelivered events are re-read on restart (file sources), or, pushed to an `http_server` source with acknowledgements, were answered 503 so their sender can resend them.',
  TERN_ERR_CONFIG_LIMIT: 'A pipeline file is over the size limit, has too many YAML aliases, or defines no source or no sink.',
  TERN_ERR_DATA_DIR:
    'The data directory (checkpoints, disk buffers) cannot be created or written; tern refuses to start rather than lose its place. A full file system (`ENOSPC`, `EDQUOT`) while a disk buffer under `data_dir` holds events is logged with this code and tern starts anyway, so that the buffer drains the volume it filled; writes that fail meanwhile are retried (`TERN_ERR_BUFFER`, `checkpoint_errors`).',
  TERN_ERR_CHECKPOINT: 'A checkpoint could not be written; the run does not report success and the events after the last saved checkpoint are read again on restart.',
  TERN_ERR_EVENT_ENCODE: 'An event cannot be serialised or copied (nested too deep); it alone is dead-lettered or rejected, its batch goes on.',
  TERN_ERR_REJECTED: 'A destination refused events for good and no dead-letter output took them; they are counted as rejected and the run does not report success.',
  TERN_ERR_TRANSFORM: 'A transform failed on an event; that event alone is dead-lettered or rejected, the rest of its batch goes on.',
  TERN_ERR_WORKER: 'A transform worker thread exited; it is replaced and its unfinished batches run again (an event that crashes workers repeatedly is dead-lettered).',
  TERN_ERR_TRANSFORM_CLOSED: 'A transform was closed (a reload replaced or removed it, or tern stopped) before it finished a batch; the batch runs again through the transform that replaced it, or, with none, stays unacknowledged and is read again after a restart.',
  TERN_ERR_BUFFER: 'A disk buffer cannot write (disk full, file too large) or cannot create a segment (no inodes left, too many open files), and retries with backoff, keeping the events; or it found a corrupt or torn record, reported with its file and byte range.',
  TERN_ERR_WRITE: 'A file or console sink cannot write (disk full, file too large, closed pipe); it retries with backoff and keeps the events.',
  TERN_ERR_SOURCE: 'A source stopped with an error while running (an address it cannot listen on, an input it cannot read): tern drains what was read, stops, and exits 1; a source a reload changed runs again with its previous options instead (if those cannot be built again, the run stops with that build error, exit 1).',
  TERN_ERR_ONCE_FATAL: '`run --once` met a condition that can never resolve on its own (credentials refused, unsupported server, no progress); it stops instead of waiting forever.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const BRAND = Symbol.for('tern.error');

export class TernError extends Error {
  readonly code: ErrorCode;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TernError';
  }
}

export function isTernError(e: unknown): e is TernError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * Rejects an asynchronous transform's `process` when the transform was closed before it finished
 * the batch: `events` are those it did not finish (none of them was emitted or refused). The router
 * runs them again through the transform that replaced it (a reload), or, with none, leaves them
 * unacknowledged (read again after a restart): never acknowledged undelivered.
 */
export class TransformClosedError<E = unknown> extends TernError {
  readonly events: E[];

  constructor(message: string, events: E[]) {
    super('TERN_ERR_TRANSFORM_CLOSED', message);
    this.events = events;
  }
}
