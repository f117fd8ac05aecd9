/**
 * Configuration changes as an rxjs stream: SIGHUP, and with `--watch-config` a change of a pipeline
 * file's content. What the run command reloads from.
 *
 * Files are watched through their directories, not the files themselves: a Kubernetes ConfigMap
 * volume updates by swapping a `..data` symlink, which a watch on the old file never sees, and editors
 * replace files by rename. Any event in a watched directory makes the files be read again; only a
 * change of their content (a hash) counts, so touching a file or a burst of events from one save
 * reloads at most once (`debounceMs`).
 */
import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import { debounceTime, filter, fromEvent, map, merge, Observable, share } from 'rxjs';

export type ChangeReason = 'SIGHUP' | 'file changed';

function contentHash(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    try {
      h.update(readFileSync(f));
    } catch (e) {
      h.update(`unreadable:${(e as NodeJS.ErrnoException).code ?? ''}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}

/** Emits when the content of `files` changed (watching their directories). */
export function fileChanges(files: readonly string[], debounceMs = 300): Observable<ChangeReason> {
  return new Observable<void>((sub) => {
    const watchers = [...new Set(files.map((f) => dirname(f)))].map((dir) => {
      const w = watch(dir, { persistent: false }, () => sub.next());
      w.on('error', (e) => sub.error(e));
      return w;
    });
    return () => {
      for (const w of watchers) w.close();
    };
  }).pipe(
    debounceTime(debounceMs),
    // Compared with the content last seen (a save that changed nothing, or an unrelated file, is not a change).
    scanChanged(files),
    map(() => 'file changed' as const),
  );
}

function scanChanged(files: readonly string[]): (src: Observable<void>) => Observable<void> {
  let last = contentHash(files);
  return (src) =>
    src.pipe(
      filter(() => {
        const now = contentHash(files);
        if (now === last) return false;
        last = now;
        return true;
      }),
    );
}

/** SIGHUP, plus file changes when `watchFiles` is given. */
export function configChanges(watchFiles?: readonly string[]): Observable<ChangeReason> {
  const hup = fromEvent(process, 'SIGHUP').pipe(map(() => 'SIGHUP' as const));
  return (watchFiles === undefined ? hup : merge(hup, fileChanges(watchFiles))).pipe(share());
}
