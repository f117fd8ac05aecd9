/**
 * The `stdin` source: reads lines from standard input until end of file, then finishes, which lets
 * the pipeline flush every sink and exit 0 (`tail -f x | tern run`, or a one-off backfill). Reading
 * pauses while the pipeline's in-flight budget is spent, so a slow sink slows the producer through
 * the pipe instead of growing memory. Decoding, counting and batching are the core `Intake`'s; this
 * file is only the reading loop (and the timer that emits a held multiline event when input pauses).
 */
import { Intake, type Decoding, type EventOrigin, type MultilineOptions, type Source, type SourceContext } from '@tern/core';

export interface StdinSourceConfig {
  decoding: Decoding;
  max_line_bytes: number;
  multiline?: MultilineOptions;
}

export class StdinSource implements Source {
  private readonly cfg: StdinSourceConfig;
  private readonly ctx: SourceContext;
  private readonly input: NodeJS.ReadableStream;

  constructor(cfg: StdinSourceConfig, ctx: SourceContext, input: NodeJS.ReadableStream = process.stdin) {
    this.cfg = cfg;
    this.ctx = ctx;
    this.input = input;
  }

  async run(): Promise<void> {
    const { ctx, cfg } = this;
    const origin: EventOrigin = { sourceId: ctx.id, path: '-', host: ctx.host };
    const intake = new Intake(ctx, { decoding: cfg.decoding, max_line_bytes: cfg.max_line_bytes, ...(cfg.multiline ? { multiline: cfg.multiline } : {}) });
    const lines = intake.lines(origin);
    const stream = this.input as AsyncIterable<Buffer | string>;
    const aborted = new Promise<'aborted'>((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
    const it = stream[Symbol.asyncIterator]();
    // A read stays pending across turns when a multiline timeout wins the race.
    let next: Promise<IteratorResult<Buffer | string>> | undefined;
    for (;;) {
      next ??= it.next();
      const due = lines.nextExpiry;
      let timer: NodeJS.Timeout | undefined;
      const expired = due === undefined ? undefined : new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), Math.max(0, due - Date.now()))));
      const r = await Promise.race(expired ? [next, aborted, expired] : [next, aborted]);
      if (timer) clearTimeout(timer);
      if (r === 'aborted') break;
      if (r === 'expired') {
        lines.expire();
        await intake.emit(lines.take(), undefined, 0);
        continue;
      }
      next = undefined;
      if (r.done) break;
      const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      lines.push(chunk);
      await intake.emit(lines.take(), undefined, chunk.length);
    }
    if (!ctx.signal.aborted) lines.flush();
    try {
      await intake.emit(lines.take(), undefined, 0);
    } finally {
      intake.flush();
    }
  }
}
