// The engine's promises, as a user sees them through a pipeline file: a dead sink does not starve a
// healthy one until its own buffer is full; refused events reach a dead-letter output or make the
// run fail; a transform that fails costs only the events it fails on (workers: the CLI fault suite); state errors
// (an unwritable data_dir) stop tern at start; the configuration's limits hold.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createDeliverySink, LogEvent, loadPipeline, Pipeline, Registry, type ComponentContext, type SendResult, type SinkDefinition, type SourceDefinition, type TransformDefinition } from '../src/index.ts';
import { memorySink, memorySource, received, silent, tagTransform, tmp, writeYaml } from './helpers.ts';

/** Sink `kit`: a sink on the delivery kit whose server answers `ok`, `permanent` (400) or never. */
const kitSink: SinkDefinition<{ answer: 'ok' | 'permanent' | 'hang'; buffer?: Record<string, unknown> }> = {
  kind: 'sink',
  type: 'kit',
  description: 'test sink on the delivery kit',
  schema: { type: 'object', additionalProperties: false, properties: { answer: { enum: ['ok', 'permanent', 'hang'], default: 'ok' } } },
  build(cfg, ctx: ComponentContext) {
    const got: unknown[] = [];
    received.set(ctx.id, got);
    return createDeliverySink(
      {
        encode: (events) => ({ body: events.map((e) => e.toJson()).join('\n'), events }),
        send: (req: { body: string; events: readonly LogEvent[] }, _p, signal): Promise<SendResult> => {
          if (cfg.answer === 'hang') return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
          if (cfg.answer === 'permanent') return Promise.resolve({ kind: 'permanent', reason: 'HTTP 400: refused', status: 400 });
          for (const e of req.events) got.push(JSON.parse(e.toJson()));
          return Promise.resolve({ kind: 'ok' });
        },
      },
      { ...(cfg as object), batch: { max_events: 50, timeout_ms: 5 }, request: { retry_initial_ms: 5, retry_max_ms: 20, timeout_ms: 60_000 }, compression: 'none', healthcheck: false },
      ctx,
    );
  },
};

/** Transform `explode`: throws on the event with `n == 3` (a plugin bug), passes the others. */
const explode: TransformDefinition<Record<string, never>> = {
  kind: 'transform',
  type: 'explode',
  description: 'test: throws on n == 3',
  mutates: false,
  schema: { type: 'object', additionalProperties: false, properties: {} },
  build: () => ({
    process(events, emit) {
      for (const e of events) if (e.data.n === 3) throw new Error('boom on 3');
      emit(events);
    },
  }),
};

/** Source `lines`: emits the given JSON lines as one batch, decoded lazily. */
const linesSource: SourceDefinition<{ lines: string[] }> = {
  kind: 'source',
  type: 'lines',
  description: 'test source',
  schema: { type: 'object', additionalProperties: false, properties: { lines: { type: 'array', items: { type: 'string' } } } },
  build: (cfg, ctx) => ({
    async run() {
      const origin = { sourceId: ctx.id, path: 'lines', host: 'test' };
      await ctx.emit(cfg.lines.map((l, i) => new LogEvent(origin, l, 'json', undefined, i)));
    },
  }),
};

const registry = () => new Registry().register(memorySource, memorySink, linesSource, kitSink, explode, tagTransform);

async function run(yaml: string, once = true) {
  const dir = tmp();
  const cfg = loadPipeline([writeYaml(dir, 'p.yaml', yaml)], registry(), { env: {} });
  const p = new Pipeline(cfg, { logger: silent, once });
  const result = await p.run();
  return { result, p, dir };
}

describe('a dead sink beside a healthy one', () => {
  it('drop_newest: the healthy sink gets everything at full pace; the dead one drops what does not fit, counted', async () => {
    const { result } = await run(`shutdown_timeout_ms: 300
in_flight: { max_events: 200 }
sources:
  src: { type: memory, count: 5000, batch: 50 }
sinks:
  healthy: { type: kit, inputs: [src] }
  dead: { type: kit, inputs: [src], answer: hang, buffer: { max_events: 100, when_full: drop_newest } }
`);
    assert.equal(received.get('healthy')?.length, 5000, 'the healthy sink was not held up');
    const dead = result.summary.sinks.dead;
    assert.ok(dead, 'dead sink reported');
    assert.equal(dead.dropped + dead.undelivered, 5000);
    assert.ok(dead.undelivered <= 100, 'at most its buffer held in memory');
    assert.equal(result.ok, false, 'events left undelivered: the run does not claim success');
    assert.match(result.summary.problems.join('\n'), /sink dead: \d+ events? not delivered before the deadline/);
  });

  it('block (the default): once its buffer is full, the dead sink holds up the sources, and the run ends at the deadline', async () => {
    const started = Date.now();
    const { result } = await run(`shutdown_timeout_ms: 400
in_flight: { max_events: 200 }
sources:
  src: { type: memory, count: 5000, batch: 50 }
sinks:
  healthy: { type: kit, inputs: [src] }
  dead: { type: kit, inputs: [src], answer: hang, buffer: { max_events: 100 } }
`);
    const got = received.get('healthy')?.length ?? 0;
    assert.ok(got >= 100 && got < 5000, `backpressure reached the healthy sink only after the dead one's buffer filled (${got})`);
    assert.equal(result.ok, false);
    assert.match(String(result.error?.message), /no progress/);
    assert.ok(Date.now() - started < 5000, 'ended by the stall deadline, not hanging');
  });
});

describe('dead letters', () => {
  it('refused events arrive at the dead-letter consumer with the original event, who refused it and why; the run succeeds', async () => {
    const { result } = await run(`sources:
  src: { type: memory, count: 7, batch: 7 }
sinks:
  es: { type: kit, inputs: [src], answer: permanent }
  dlq: { type: memory, inputs: [es.dead_letter] }
`);
    const dl = received.get('dlq') as Array<Record<string, any>>;
    assert.equal(dl.length, 7);
    const first = dl.find((d) => JSON.parse(d.event.original).n === 0);
    assert.ok(first);
    assert.equal(first.event.kind, 'pipeline_error');
    assert.equal(first.tern.dead_letter.component, 'es');
    assert.equal(first.tern.dead_letter.status, 400);
    assert.match(first.error.message, /HTTP 400: refused/);
    assert.equal(result.ok, true, 'every event was delivered or dead-lettered');
    assert.equal(result.summary.sinks.es?.dead_lettered, 7);
    assert.equal(result.summary.rejected, 0);
  });

  it('with no dead-letter consumer the refused events are counted as rejected and the run fails, saying why', async () => {
    const { result } = await run(`sources:
  src: { type: memory, count: 7, batch: 7 }
sinks:
  es: { type: kit, inputs: [src], answer: permanent }
`);
    assert.equal(result.ok, false);
    assert.equal(result.summary.rejected, 7);
    assert.match(result.summary.problems.join('\n'), /sink es: 7 events refused for good with no dead-letter output \(read es.dead_letter to keep them\)/);
  });
});

describe('bad input and failing stages cost only themselves', () => {
  it('a transform that throws on one event: every other event arrives; that one is dead-lettered', async () => {
    const { result } = await run(`sources:
  src: { type: memory, count: 10, batch: 10 }
transforms:
  t: { type: explode, inputs: [src] }
sinks:
  out: { type: memory, inputs: [t] }
  dlq: { type: memory, inputs: [t.dead_letter] }
`);
    const out = (received.get('out') as Array<{ n: number }>).map((e) => e.n).sort((a, b) => a - b);
    assert.deepEqual(out, [0, 1, 2, 4, 5, 6, 7, 8, 9]);
    const dl = received.get('dlq') as Array<Record<string, any>>;
    assert.equal(dl.length, 1);
    assert.equal(JSON.parse(dl[0]?.event.original).n, 3);
    assert.match(dl[0]?.error.message, /boom on 3/);
    assert.equal(result.ok, true);
  });

  it('a 5,000-level nested event through a changing stage is refused alone; the good ones arrive', async () => {
    const nested = `{"n":99,"deep":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const { result } = await run(`sources:
  src: { type: lines, lines: ['{"n":1}', ${JSON.stringify(nested)}, '{"n":2}'] }
transforms:
  t: { type: tag, inputs: [src], value: seen }
sinks:
  out: { type: kit, inputs: [t] }
  dlq: { type: memory, inputs: [out.dead_letter] }
`);
    assert.deepEqual((received.get('out') as Array<{ n: number }>).map((e) => e.n), [1, 2]);
    const dl = received.get('dlq') as Array<Record<string, any>>;
    assert.equal(dl.length, 1);
    assert.equal(dl[0]?.event.original, nested, 'the original line, since the changed event cannot be serialised');
    assert.equal(dl[0]?.error.code, 'TERN_ERR_EVENT_ENCODE');
    assert.equal(result.ok, true);
  });
});

describe('state errors stop tern at start', () => {
  it('an unwritable data_dir is TERN_ERR_DATA_DIR naming the path and the errno, before anything is read', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'afile'), 'x');
    const cfg = loadPipeline([writeYaml(dir, 'p.yaml', 'data_dir: ./afile/state\nsources:\n  src: { type: memory }\nsinks:\n  out: { type: memory, inputs: [src] }\n')], registry(), { env: {} });
    const p = new Pipeline(cfg, { logger: silent, once: true });
    await assert.rejects(p.run(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'TERN_ERR_DATA_DIR');
      assert.match(e.message, /afile\/state/);
      assert.match(e.message, /ENOTDIR|EEXIST/);
      return true;
    });
  });
});

describe('configuration limits', () => {
  const load = (yaml: string) => {
    const dir = tmp();
    return () => loadPipeline([writeYaml(dir, 'p.yaml', yaml)], registry(), { env: {} });
  };

  it('an empty pipeline is an error, not a run that does nothing', () => {
    assert.throws(load(''), /defines no source/);
    assert.throws(load('sources:\n  s: { type: memory }\n'), /defines no sink/);
  });

  it('an alias bomb is refused with file:line, not a stack trace', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    assert.throws(load(lines.join('\n') + '\n'), /p\.yaml:2:\d+: error: the YAML aliases \(\*name\) expand to too much data/);
    const many = ['a: &a 1', `b: [${Array(101).fill('*a').join(', ')}]`];
    assert.throws(load(many.join('\n') + '\n'), /p\.yaml:2:\d+: error: more than 100 YAML aliases/);
  });

  it('a pipeline file over 1 MiB is refused before it is parsed', () => {
    assert.throws(load(`# ${'x'.repeat(1024 * 1024)}\n`), /over the limit of 1048576/);
  });

  it('tls.verify: false is a warning that says what it costs', () => {
    const tlsSink: SinkDefinition<{ tls?: { verify?: boolean } }> = {
      kind: 'sink',
      type: 'tls_sink',
      description: 'test',
      schema: { type: 'object', additionalProperties: false, properties: { tls: { type: 'object', properties: { verify: { type: 'boolean' } } } } },
      build: () => ({ accept: () => undefined, stop: () => Promise.resolve() }),
    };
    const dir = tmp();
    const cfg = loadPipeline([writeYaml(dir, 'p.yaml', 'sources:\n  s: { type: memory }\nsinks:\n  out:\n    type: tls_sink\n    inputs: [s]\n    tls: { verify: false }\n')], registry().register(tlsSink), { env: {} });
    assert.equal(cfg.warnings.length, 1);
    assert.equal(cfg.warnings[0]?.line, 7);
    assert.match(cfg.warnings[0]?.message ?? '', /tls.verify is false: the server's certificate is not checked/);
  });
});

describe('state directories', () => {
  it('data_dir is created owner-and-group only (0750), whatever the umask', async () => {
    const { ensureDataDir } = await import('../src/topology/data-dir.ts');
    const { statSync } = await import('node:fs');
    const old = process.umask(0);
    try {
      const d = join(tmp(), 'a/b/state');
      ensureDataDir(d);
      assert.equal(statSync(d).mode & 0o777, 0o750);
      assert.equal(statSync(join(d, '..')).mode & 0o777, 0o750, 'parents it creates too');
    } finally {
      process.umask(old);
    }
  });

  it('nothing a disk-buffered run leaves in data_dir is open to other users, whatever the umask', async () => {
    const { readdirSync, statSync } = await import('node:fs');
    const old = process.umask(0);
    let dir: string;
    try {
      // The sink hangs, so the buffer keeps its segments and saves its read position at close.
      ({ dir } = await run(`data_dir: ./state
shutdown_timeout_ms: 300
sources:
  src: { type: memory, count: 200, batch: 50 }
sinks:
  out: { type: kit, inputs: [src], answer: hang, buffer: { type: disk } }
`));
    } finally {
      process.umask(old);
    }
    const open: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const path = join(d, e.name);
        if ((statSync(path).mode & 0o007) !== 0) open.push(`${path} ${(statSync(path).mode & 0o777).toString(8)}`);
        if (e.isDirectory()) walk(path);
      }
    };
    walk(join(dir, 'state'));
    assert.ok(readdirSync(join(dir, 'state/buffers/out')).includes('ledger.json'), 'the buffer saved its position');
    assert.deepEqual(open, []);
  });
});
