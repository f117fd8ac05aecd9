/**
 * The source helper: CRI framing (partial lines joined per stream, JSON or text content, the
 * runtime's time and stream kept, offsets that never pass a held line), multiline grouping, request
 * documents (object, array, NDJSON, text, audit EventList, and what is wrong with a bad one), and
 * `submit`'s outcomes against a real pipeline budget.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AckGroup, budgetShares, DecodeError, decodeDocument, eventBytes, InFlightBudget, Intake, MULTILINE_DEFAULTS, multilineSchema, withDefaults, type AckRef, type MultilineOptions, type SourceDefinition, type DeliveryStatus, type EventOrigin, type LogEvent, type SourceContext } from '../src/index.ts';
import { testContext } from '../src/testing/index.ts';

const ORIGIN: EventOrigin = { sourceId: 'src', path: '/var/log/pods/ns_pod_uid/c/0.log', host: 'node-1' };

/** A source context whose emit takes budget like the engine's and hands every batch's group to `groups`. */
function sourceContext(budget = new InFlightBudget(1000, 1 << 20)) {
  const base = testContext('src', 'test', { kind: 'source' });
  const groups: AckRef[] = [];
  const emitted: LogEvent[][] = [];
  const ctx = {
    ...base,
    emit(events: LogEvent[], onAck?: (s: DeliveryStatus, g: AckGroup) => void, bytes?: number, signal?: AbortSignal): Promise<void> {
      const dispatch = (): void => {
        const g = new AckGroup(events.length, bytes ?? 0, (s, grp) => {
          budget.release(grp.events, grp.bytes);
          onAck?.(s, grp);
        });
        const own = g.ref();
        groups.push(g.ref()); // one sink's reference
        emitted.push(events);
        own.release();
      };
      const wait = budget.acquire(events.length, bytes ?? 0, signal);
      if (wait === undefined) {
        dispatch();
        return Promise.resolve();
      }
      return wait.then(dispatch);
    },
    get inFlight() {
      return { max_events: budget.maxEvents, max_bytes: budget.maxBytes };
    },
  } as SourceContext & { records: typeof base.records };
  return { ctx, groups, emitted, budget, base };
}

function feed(intake: Intake, text: string, chunk = 7) {
  const s = intake.lines(ORIGIN, 0);
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += chunk) s.push(buf.subarray(i, i + chunk));
  return s;
}

describe('CRI framing', () => {
  it('joins partial lines per stream, decodes JSON content, keeps the runtime time and stream', () => {
    const { ctx } = sourceContext();
    const intake = new Intake(ctx, { decoding: 'cri' });
    const falco = '{"rule":"Terminal shell in container","priority":"Notice","output":"a shell"}';
    const text =
      `2024-11-22T10:20:05.000000001Z stdout P ${falco.slice(0, 20)}\n` +
      '2024-11-22T10:20:05.000000002Z stderr F plain text on stderr\n' +
      `2024-11-22T10:20:05.000000003Z stdout P ${falco.slice(20, 50)}\n` +
      `2024-11-22T10:20:05.000000004Z stdout F ${falco.slice(50)}\n`;
    const s = feed(intake, text);
    const evs = s.take();
    assert.equal(evs.length, 2);
    const [err, alert] = evs as [LogEvent, LogEvent];
    assert.deepEqual(err.data, { '@timestamp': '2024-11-22T10:20:05.000000002Z', stream: 'stderr', message: 'plain text on stderr' });
    assert.equal(alert.data.rule, 'Terminal shell in container');
    assert.equal(alert.data.stream, 'stdout');
    assert.equal(alert.data['@timestamp'], '2024-11-22T10:20:05.000000001Z', 'time of the first fragment');
    assert.equal(alert.offset, 0, 'offset of the first fragment');
    // The original text with the two fields spliced in: forwarded without a stringify, and valid JSON.
    assert.equal(alert.modified, false);
    assert.deepEqual(JSON.parse(alert.toJson()), alert.data);
    assert.equal(s.committedOffset, Buffer.byteLength(text));
  });

  it('keeps @timestamp and stream an object already has; an empty object gets both', () => {
    const { ctx } = sourceContext();
    const s = feed(new Intake(ctx, { decoding: 'cri' }), '2024-11-22T10:00:00Z stdout F {"@timestamp":"mine","stream":"x"}\n2024-11-22T10:00:01Z stdout F {}\n');
    const [a, b] = s.take() as [LogEvent, LogEvent];
    assert.equal(a.toJson(), '{"@timestamp":"mine","stream":"x"}');
    assert.deepEqual(JSON.parse(b.toJson()), { '@timestamp': '2024-11-22T10:00:01Z', stream: 'stdout' });
  });

  it('holds a partial line: the committed offset stays before it until its final fragment', () => {
    const { ctx } = sourceContext();
    const s = new Intake(ctx, { decoding: 'cri' }).lines(ORIGIN, 100);
    const first = '2024-11-22T10:00:00Z stdout F done\n';
    const part = '2024-11-22T10:00:01Z stdout P half';
    s.push(Buffer.from(`${first}${part}\n`));
    assert.equal(s.take().length, 1);
    assert.equal(s.committedOffset, 100 + first.length);
    assert.equal(s.held, true);
    s.push(Buffer.from('2024-11-22T10:00:02Z stdout F -way\n'));
    const [ev] = s.take();
    assert.equal(ev?.data.message, 'half-way');
    assert.equal(s.committedOffset, 100 + first.length + part.length + 1 + '2024-11-22T10:00:02Z stdout F -way\n'.length);
    assert.equal(s.held, false);
  });

  it('counts and reports lines without CRI framing, and a joined line over max_line_bytes', () => {
    const { ctx, base } = sourceContext();
    const intake = new Intake(ctx, { decoding: 'cri', max_line_bytes: 100 });
    const p = (c: string): string => `2024-11-22T10:00:00Z stdout P ${c.repeat(40)}\n`;
    const s = feed(intake, `{"not":"cri"}\n${p('a')}${p('b')}${p('c')}2024-11-22T10:00:00Z stdout F end\n2024-11-22T10:00:01Z stdout F ok\n`);
    assert.deepEqual(s.take().map((e) => e.data.message), ['ok']);
    const t = ctx.telemetry.snapshot();
    assert.equal(t.decode_errors, 1);
    assert.equal(t.lines_too_long, 1);
    assert.ok(base.records.some((r) => String(r.msg).startsWith('not a CRI log line') && r.path === ORIGIN.path && r.offset === 0));
  });
});

describe('multiline', () => {
  const trace = ['2024-11-22 10:00:00 ERROR boom', 'java.lang.IllegalStateException: x', '    at a.b(C.java:1)', '    at d.e(F.java:2)', '2024-11-22 10:00:01 INFO next', ''].join('\n');

  it('start_pattern: lines until the next start are one event; the last waits for more (held, offset before it)', () => {
    const { ctx } = sourceContext();
    const s = feed(new Intake(ctx, { decoding: 'text', multiline: { ...MULTILINE_DEFAULTS, start_pattern: '^\\d{4}-' } }), trace);
    const [ev] = s.take();
    assert.equal(ev?.data.message, '2024-11-22 10:00:00 ERROR boom\njava.lang.IllegalStateException: x\n    at a.b(C.java:1)\n    at d.e(F.java:2)');
    assert.equal(s.held, true);
    assert.equal(s.committedOffset, trace.indexOf('2024-11-22 10:00:01'));
    s.flush();
    assert.deepEqual(s.take().map((e) => e.data.message), ['2024-11-22 10:00:01 INFO next']);
  });

  it('continuation_pattern groups the same way; a held event goes out after timeout_ms', () => {
    const { ctx } = sourceContext();
    const s = feed(new Intake(ctx, { decoding: 'text', multiline: { ...MULTILINE_DEFAULTS, continuation_pattern: '^\\s|^java\\.', timeout_ms: 50 } }), trace);
    assert.equal(s.take().length, 1);
    const due = s.nextExpiry as number;
    assert.equal(s.expire(due - 1), false);
    assert.equal(s.expire(due), true);
    assert.deepEqual(s.take().map((e) => e.data.message), ['2024-11-22 10:00:01 INFO next']);
    assert.equal(s.held, false);
  });

  it('max_lines cuts a long group into several events, losing nothing', () => {
    const { ctx } = sourceContext();
    const s = feed(new Intake(ctx, { decoding: 'text', multiline: { ...MULTILINE_DEFAULTS, continuation_pattern: '^ ', max_lines: 3 } }), 'a\n 1\n 2\n 3\n 4\nb\n');
    s.flush();
    assert.deepEqual(s.take().map((e) => e.data.message), ['a\n 1\n 2', ' 3\n 4', 'b']);
  });

  it('a block that names only its pattern gets timeout_ms and max_lines from the schema: a 1,200-line trace is cut at 500 lines', () => {
    const lines: SourceDefinition<{ multiline: MultilineOptions }> = {
      kind: 'source',
      type: 'lines',
      description: 'a line source',
      schema: { type: 'object', additionalProperties: false, properties: { multiline: multilineSchema } },
      build: () => ({ run: () => Promise.resolve() }),
    };
    const { multiline } = withDefaults(lines, { multiline: { continuation_pattern: '^\\s' } });
    assert.deepEqual(multiline, { continuation_pattern: '^\\s', timeout_ms: 1000, max_lines: 500 });
    const { ctx } = sourceContext();
    const s = feed(new Intake(ctx, { decoding: 'text', multiline }), `Exception\n${'  at frame\n'.repeat(1199)}`);
    s.flush();
    assert.deepEqual(s.take().map((e) => String(e.data.message).split('\n').length), [500, 500, 200]);
  });
});

describe('documents', () => {
  const ok = (r: LogEvent[] | DecodeError): LogEvent[] => {
    if (r instanceof DecodeError) throw r;
    return r;
  };
  it('a JSON object keeps its text; an array and NDJSON give one event per item or line', () => {
    const [one] = ok(decodeDocument(ORIGIN, ' {"rule":"x","priority":"Critical"}\n', 'json'));
    assert.equal(one?.toJson(), '{"rule":"x","priority":"Critical"}');
    assert.deepEqual(ok(decodeDocument(ORIGIN, '[{"a":1},{"a":2}]', 'json')).map((e) => e.data.a), [1, 2]);
    const nd = ok(decodeDocument(ORIGIN, '{"a":1}\r\n\n{"a":2}\n', 'json'));
    assert.deepEqual(nd.map((e) => e.toJson()), ['{"a":1}', '{"a":2}']);
    assert.deepEqual(ok(decodeDocument(ORIGIN, '{\n  "a": {\n    "b": 1\n  }\n}\n', 'json')).map((e) => e.toJson()), ['{"a":{"b":1}}']);
  });
  it('text: one event per non-empty line', () => {
    assert.deepEqual(ok(decodeDocument(ORIGIN, 'one\r\n\ntwo', 'text')).map((e) => e.data.message), ['one', 'two']);
  });
  it('says what is wrong: the NDJSON line, the array item, the kind', () => {
    const msg = (r: LogEvent[] | DecodeError): string => (r instanceof DecodeError ? r.message : 'no error');
    assert.match(msg(decodeDocument(ORIGIN, '{"a":1}\n{"a":\n', 'json')), /^NDJSON line 2: /);
    assert.equal(msg(decodeDocument(ORIGIN, '[{"a":1},3]', 'json')), 'item 1 of the array is not a JSON object');
    assert.match(msg(decodeDocument(ORIGIN, 'hello', 'json')), /^not JSON/);
    assert.match(msg(decodeDocument(ORIGIN, '', 'json')), /^empty body/);
    assert.equal(msg(decodeDocument(ORIGIN, '{"kind":"Event","apiVersion":"audit.k8s.io/v1"}', 'k8s_audit')), 'expected kind EventList of apiVersion audit.k8s.io/v1, got kind "Event" of apiVersion "audit.k8s.io/v1"');
  });
  it('k8s_audit: one event per item, with kind and apiVersion as in the audit log file', () => {
    const list = { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [{ auditID: 'a1', verb: 'get' }, { auditID: 'a2', verb: 'list' }] };
    const evs = ok(decodeDocument(ORIGIN, JSON.stringify(list), 'k8s_audit'));
    assert.deepEqual(
      evs.map((e) => e.data),
      [
        { kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID: 'a1', verb: 'get' },
        { kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID: 'a2', verb: 'list' },
      ],
    );
  });
  it('the items of an array or an EventList weigh their share of the body in budgets and sink buffers, not a flat 256 bytes', () => {
    // RequestResponse-level audit events are tens of KB each: counted flat, a sink's max_bytes would not hold them.
    const big = (i: number) => ({ auditID: `a${i}`, verb: 'update', requestObject: { data: 'x'.repeat(20_000 + i) } });
    const list = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: Array.from({ length: 40 }, (_, i) => big(i)) });
    const fromList = ok(decodeDocument(ORIGIN, list, 'k8s_audit'));
    assert.ok(Math.abs(eventBytes(fromList) - list.length) <= 40, `${eventBytes(fromList)} for a ${list.length}-byte EventList`);
    const array = JSON.stringify(Array.from({ length: 40 }, (_, i) => big(i)));
    assert.ok(Math.abs(eventBytes(ok(decodeDocument(ORIGIN, array, 'json'))) - array.length) <= 40);
    const pretty = JSON.stringify(big(0), null, 2);
    assert.equal(eventBytes(ok(decodeDocument(ORIGIN, pretty, 'json'))), pretty.length);
  });
  it('Intake.documents counts and warns about a bad document', () => {
    const { ctx, base } = sourceContext();
    const intake = new Intake(ctx);
    assert.ok(intake.documents(ORIGIN, '[1]', 'json', { remote: '10.0.0.1' }) instanceof DecodeError);
    assert.equal(ctx.telemetry.snapshot().decode_errors, 1);
    assert.ok(base.records.some((r) => r.msg === 'malformed json document refused: item 0 of the array is not a JSON object' && r.remote === '10.0.0.1'));
  });
});

describe('submit', () => {
  const events = (n: number): LogEvent[] => ok(decodeDocument(ORIGIN, Array.from({ length: n }, (_, i) => `{"i":${i}}`).join('\n'), 'json'));
  const ok = (r: LogEvent[] | DecodeError): LogEvent[] => {
    if (r instanceof DecodeError) throw r;
    return r;
  };

  it('acknowledged once the sink releases; queued at once without acknowledgements', async () => {
    const { ctx, groups } = sourceContext();
    const intake = new Intake(ctx);
    const p = intake.submit(events(2), 10, { acknowledge: true });
    await new Promise((r) => setImmediate(r));
    groups[0]?.release('rejected'); // any status means "done"
    assert.equal(await p, 'acknowledged');
    assert.equal(await intake.submit(events(1), 10, { acknowledge: false }), 'queued');
    assert.equal(await intake.submit([], 0, { acknowledge: true }), 'acknowledged', 'an empty batch does not wait forever');
    assert.equal(ctx.telemetry.snapshot().events_read, 3);
  });

  it('refused when the budget stays full until the signal aborts; unacknowledged when dispatched but not done', async () => {
    const budget = new InFlightBudget(2, 1 << 20);
    const { ctx, groups } = sourceContext(budget);
    const intake = new Intake(ctx);
    const first = intake.submit(events(2), 10, { acknowledge: true, signal: AbortSignal.timeout(30) });
    assert.equal(await first, 'unacknowledged');
    assert.equal(await intake.submit(events(2), 10, { acknowledge: true, signal: AbortSignal.timeout(30) }), 'refused');
    // A budget of 2 events has shares of 1: the first batch went in two.
    assert.equal(groups.length, 2, 'the refused batch was never dispatched');
    assert.equal(ctx.telemetry.snapshot().events_read, 2);
    for (const g of groups) g.release();
    assert.equal(budget.events, 0);
  });

  it('a batch larger than the whole budget goes in shares beside a holder that never lets go: acknowledged, and the budget was never emptied', async () => {
    // 320 events of budget: shares of 10. Another source holds 300 and keeps them (a file source
    // catching up); taking the batch whole would need all 320 free, which never happens.
    const budget = new InFlightBudget(320, 1 << 20);
    assert.equal(budget.acquire(300, 3000), undefined);
    const { ctx, groups, emitted } = sourceContext(budget);
    const intake = new Intake(ctx);
    const p = intake.submit(events(400), 4000, { acknowledge: true, signal: AbortSignal.timeout(1000) });
    // The sink admits and delivers each share as it comes.
    let settled = false;
    void p.finally(() => (settled = true));
    let released = 0;
    while (!settled) {
      for (; released < groups.length; released++) groups[released]?.release();
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await p, 'acknowledged');
    assert.equal(emitted.length, 40);
    assert.ok(emitted.every((b) => b.length === 10));
    assert.equal(budget.events, 300, 'the other holder kept its 300 all along');
    assert.equal(budget.bytes, 3000, 'the shares returned exactly the bytes they took');
    assert.equal(ctx.telemetry.snapshot().events_read, 400);
  });

  it('the first share waits at most `signal`, each later one at most its own `shareSignal()`; a later one that times out: unacknowledged', async () => {
    const budget = new InFlightBudget(32, 1 << 20); // shares of 1 event
    assert.equal(budget.acquire(31, 31), undefined);
    const { ctx, groups } = sourceContext(budget);
    const intake = new Intake(ctx);
    const waits: AbortController[] = [];
    const shareSignal = (): AbortSignal => {
      waits.push(new AbortController());
      return (waits.at(-1) as AbortController).signal;
    };
    const p = intake.submit(events(3), 30, { acknowledge: true, signal: AbortSignal.timeout(20), ackSignal: new AbortController().signal, shareSignal });
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(groups.length, 1, 'one share in, the next waiting for room past `signal`');
    assert.equal(waits.length, 1);
    groups[0]?.release();
    await new Promise((r) => setImmediate(r));
    assert.equal(groups.length, 2);
    assert.equal(waits.length, 2, 'a fresh signal for each share');
    waits[1]?.abort();
    assert.equal(await p, 'unacknowledged', 'part was taken: the sender may send it all again');
    assert.equal(ctx.telemetry.snapshot().events_read, 2);
  });
});

describe('budgetShares', () => {
  const limits = { max_events: 320, max_bytes: 3200 }; // shares: 10 items, 100 bytes
  it('cuts on items and on bytes; spreads the caller\'s bytes in proportion; one oversize item is a share of its own', () => {
    const sizes = [30, 30, 30, 30, 500, 10, 10];
    const shares = budgetShares(sizes, 640, (x) => x, limits);
    assert.deepEqual(
      shares.map((s) => s.items),
      [[30, 30, 30], [30], [500], [10, 10]],
    );
    assert.deepEqual(
      shares.map((s) => s.bytes),
      [90, 30, 500, 20],
    );
    // The caller counts twice the estimate (a body with its wrapper): shares are cut on its bytes.
    const doubled = budgetShares(sizes, 1280, (x) => x, limits);
    assert.deepEqual(
      doubled.map((s) => s.bytes),
      [60, 60, 60, 60, 1000, 40],
    );
    const many = budgetShares(Array.from({ length: 25 }, () => 1), 25, (x) => x, limits);
    assert.deepEqual(
      many.map((s) => s.items.length),
      [10, 10, 5],
    );
    assert.equal(budgetShares([1, 2], 3, (x) => x, limits).length, 1, 'a small batch is one share');
  });
});
