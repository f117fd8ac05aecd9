/**
 * The `stdin` source: reads lines from standard input until end of file, then finishes, which lets
 * the pipeline flush every sink and exit 0 (`tail -f x | tern run`, or a one-off backfill). Reading
 * pauses while the pipeline's in-flight budget is spent, so a slow sink slows the producer through
 * the pipe instead of growing memory.
 */
import { DecodeError, decodeLine, LineSplitter, RateLimitedWarn, type Decoding, type EventOrigin, type LogEvent, type Source, type SourceContext } from '@tern/core';

export interface StdinSourceConfig {
  decoding: Decoding;
  max_line_bytes: number;
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
    const warn = new RateLimitedWarn();
    const decodeErrors = ctx.telemetry.counter('decode_errors');
    const tooLong = ctx.telemetry.counter('lines_too_long');
    const read = ctx.telemetry.counter('events_read');
    let batch: LogEvent[] = [];
    const report = (offset: number, message: string): void => {
      const s = warn.take();
      if (s >= 0) ctx.logger.warn({ path: '-', offset, ...(s ? { suppressed_since_last: s } : {}) }, message);
    };
    const splitter = new LineSplitter(
      {
        line(text, offset) {
          const ev = decodeLine(origin, text, offset, cfg.decoding);
          if (ev instanceof DecodeError) {
            decodeErrors.inc();
            report(offset, `malformed line skipped: ${ev.message}`);
          } else batch.push(ev);
        },
        oversize(offset, length) {
          tooLong.inc();
          report(offset, `line longer than max_line_bytes (${length} > ${cfg.max_line_bytes} bytes); skipped`);
        },
      },
      cfg.max_line_bytes,
    );
    const flush = async (bytes: number): Promise<void> => {
      if (batch.length === 0) return;
      const events = batch;
      batch = [];
      read.inc(events.length);
      await ctx.emit(events, undefined, bytes);
    };
    const stream = this.input as AsyncIterable<Buffer | string>;
    const aborted = new Promise<'aborted'>((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
    const it = stream[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next === 'aborted' || next.done) break;
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      splitter.push(chunk);
      await flush(chunk.length);
    }
    if (!ctx.signal.aborted) splitter.flush();
    await flush(0);
  }
}
