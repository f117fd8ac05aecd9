// A transform whose worker dies on the event with `n == 13` the first time it meets it, and whose
// build then fails while the file `broken` exists (a database being replaced when the worker is
// started again), for the supervision test of a replacement that cannot start. It names its module,
// so `workers: N` runs it in threads.
import { existsSync, writeFileSync } from 'node:fs';
import type { TransformDefinition } from '@tern/core';

export const flakyStartTransform: TransformDefinition<{ broken: string; once: string }> = {
  kind: 'transform',
  type: 'flaky_start',
  description: 'test: exits its worker on n == 13 once, and cannot be built while `broken` exists (only ever run it in workers)',
  mutates: true,
  module: import.meta.url,
  schema: { type: 'object', additionalProperties: false, required: ['broken', 'once'], properties: { broken: { type: 'string' }, once: { type: 'string' } } },
  build(cfg) {
    if (existsSync(cfg.broken)) throw new Error(`cannot load ${cfg.broken}`);
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
