/**
 * SIGHUP during start-up. Node's default for SIGHUP is to end the process, and `tern run` reloads on
 * it only once its reload handler listens, after every module loaded and the pipeline files were read
 * (a second or more; several on a busy node, or when a reload is sent to a pod that just restarted).
 * This module is imported first by the binary: for `tern run` it holds SIGHUP from the start,
 * remembers it, and `run` applies it (a reload) as soon as it listens itself. Other commands keep
 * Node's default: an interactive `tap` or `top` ends when its terminal hangs up.
 */
let pending = false;
const hold = (): void => {
  pending = true;
};

/** `run` is the command: the first argument that is not an option. */
const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (command === 'run') process.on('SIGHUP', hold);

/** Hands SIGHUP over to the caller's own handler; true when one arrived during start-up. */
export function takeEarlySighup(): boolean {
  process.off('SIGHUP', hold);
  const p = pending;
  pending = false;
  return p;
}
