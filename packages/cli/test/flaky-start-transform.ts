// A transform whose worker dies on the event with `n == 13` the first time it meets it, and whose
// build then fails while the file `broken` exists (a database being replaced when the worker is
// started again), for the supervision test of a replacement that cannot start. It names its module,
// so `workers: N` runs it in threads. With `hold_open`, a failed build leaves a timer running (as a
// half-opened database client or file watcher would), so the worker thread does not exit by itself.
import { existsSync, writeFileSync } from 'node:fs';
import type { TransformDefinition } from '@tern/core';

export const flakyStartTransform: TransformDefinition<{ broken: string; once: string; hold_open?: boolean }> = {
  kind: 'transform',
  type: 'flaky_start',
  description: 'test: exits its worker on n == 13 once, and cannot be built while `broken` exists (only ever run it in workers)',
  mutates: true,
  module: import.meta.url,
  schema: { type: 'object', additionalProperties: false, required: ['broken', 'once'], properties: { broken: { type: 'string' }, once: { type: 'string' }, hold_open: { type: 'boolean' } } },
  build(cfg) {
    if (existsSync(cfg.broken)) {
      if (cfg.hold_open === true) setInterval(() => undefined, 1000);
      throw new Error(`cannot load ${cfg.broken}`);
    }
    return {
      process(events, emit) {
        for (const e of events) {
          if (e.data.n === 13 && !existsSync(cfg.once)) {
            writeFileSync(cfg.once, '');
            writeFileSync(cfg.broken, '');
            process.exit(3);
          }
          e.mutate().seen = true;
        }
        emit(events);
      },
    };
  },
};
