/**
 * The data directory must be writable before anything is read: a checkpoint that cannot be saved
 * means the next start re-sends everything, so tern refuses to start instead (exit 1, naming the
 * path, the errno and the fix). It is created owner-and-group only (0750), whatever the umask.
 *
 * A full file system (ENOSPC, EDQUOT) is the exception, when a disk buffer under `data_dir` holds
 * events: refusing to start would then keep the volume full for good, as tern's disk buffer frees
 * space only by sending what it holds (a crash loop in Kubernetes). tern logs the error and starts
 * to drain it; the writes that fail meanwhile are retried and reported as they are while running.
 * With nothing to drain, a full volume refuses the start like any other unwritable one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { bufferHoldsEvents } from '../buffer/segment-file.ts';
import { join } from 'node:path';
import { TernError } from '../errors.ts';

function fix(code: string | undefined, dir: string): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `give tern's user write access to ${dir} (in Kubernetes: an init container that chowns the hostPath, or run as its owner)`;
    case 'EROFS':
      return `${dir} is on a read-only file system; point data_dir at a writable volume (a hostPath or emptyDir)`;
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return `the file system holding ${dir} is full (or a file size limit applies); free space or move data_dir`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `a path component of ${dir} is a file, not a directory; choose another data_dir`;
    default:
      return `make ${dir} a writable directory`;
  }
}

/** How a caller that can start on a full file system says so: the `data_dir` whose disk buffers may drain it (`sinks`: only theirs), and where the error goes. */
export interface WhenFull {
  readonly dataDir: string;
  readonly sinks?: readonly string[];
  readonly log: (err: TernError) => void;
}

/**
 * Whether a disk buffer under `dataDir` (`buffers/<sink id>/`) holds events not yet acknowledged,
 * which sending frees; `sinks`: only those sinks' buffers (the ones the configuration will drain).
 */
export function diskBuffersHoldData(dataDir: string, sinks?: readonly string[]): boolean {
  const root = join(dataDir, 'buffers');
  let ids: readonly string[];
  try {
    ids = sinks ?? readdirSync(root);
  } catch {
    return false;
  }
  return ids.some((id) => bufferHoldsEvents(join(root, id)));
}

/**
 * Creates `dir` (0750) and proves a file can be written and synced in it; throws `TERN_ERR_DATA_DIR`
 * otherwise. `what` names the directory in the message and `why` says what its failure would cost.
 * Besides `data_dir` itself (the engine, before anything starts), components check the directories
 * they write inside it when they are built (a file source its `checkpoints/`, a sink its disk
 * buffer): one that tern cannot write, left by another user or an old deployment, stops the start
 * as the data_dir would, instead of failing at the first checkpoint after everything was re-sent.
 */
export function ensureDataDir(dir: string, what = 'data_dir', why = 'checkpoints could not be saved and every restart would send everything again', whenFull?: WhenFull): void {
  /** A full file system with disk buffers to drain: the error is logged instead of refusing the start. */
  const full = (e: unknown): boolean => {
    const code = (e as NodeJS.ErrnoException).code;
    if (whenFull === undefined || (code !== 'ENOSPC' && code !== 'EDQUOT') || !diskBuffersHoldData(whenFull.dataDir, whenFull.sinks)) return false;
    whenFull.log(new TernError('TERN_ERR_DATA_DIR', `${what} ${dir} is full (${code}): ${why} while it stays full; starting anyway, because the disk buffers under ${whenFull.dataDir} hold events and sending them frees space (a refusal would keep it full for good); ${fix(code, dir)}`, { cause: e }));
    return true;
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  } catch (e) {
    if (full(e)) return;
    const code = (e as NodeJS.ErrnoException).code;
    throw new TernError('TERN_ERR_DATA_DIR', `${what} ${dir} cannot be created (${code ?? (e as Error).message}); ${fix(code, dir)}`, { cause: e });
  }
  const probe = join(dir, `.write-test-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = openSync(probe, 'w', 0o600);
    writeSync(fd, 'tern');
    fsyncSync(fd);
  } catch (e) {
    if (full(e)) return;
    const code = (e as NodeJS.ErrnoException).code;
    throw new TernError('TERN_ERR_DATA_DIR', `${what} ${dir} is not writable (${code ?? (e as Error).message}): ${why}; ${fix(code, dir)}`, { cause: e });
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      rmSync(probe, { force: true });
    } catch {
      // A directory tern may not search fails the probe above; this must not hide that error.
    }
  }
}
