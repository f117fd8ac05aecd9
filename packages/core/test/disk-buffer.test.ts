// The disk buffer as a sink sees it: batches written durably release their sources' acks, the
// dispatcher reads them back in order, acknowledged segments are deleted, a restart replays what
// was not acknowledged, and damage (a flipped byte, a torn tail) is reported with its byte range and
// skipped without losing the records around it.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskBuffer } from '../src/buffer/disk.ts';
import { AckGroup } from '../src/event/ack.ts';
import { Ticket, type Job, type Span } from '../src/sink-kit/job.ts';
import { backgroundClock } from '../src/time/clock.ts';
import { captureLogger, makeEvents, waitFor } from '../src/testing/helpers.ts';
import { ComponentTelemetry } from '../src/telemetry/telemetry.ts';

function buffer(dir: string, opts: Partial<{ maxBytes: number; segmentBytes: number; sync: 'batch' | 'none' }> = {}) {
  const { logger, records } = captureLogger();
  const telemetry = new ComponentTelemetry('disk');
  const b = new DiskBuffer({ dir, maxBytes: opts.maxBytes ?? 64 << 20, stagingBytes: 4 << 20, sync: opts.sync ?? 'batch', logger, telemetry, clock: backgroundClock, ...(opts.segmentBytes ? { segmentBytes: opts.segmentBytes } : {}) });
  return { b, records, telemetry };
}

/** Pushes `n` events as one closed batch under a real ticket; returns what its source would see. */
function push(b: DiskBuffer, start: number, n: number) {
  const events = makeEvents(n, start);
  const bytes = events.reduce((a, e) => a + e.size, 0);
  const seen = { settled: 0, outcomes: [] as string[] };
  const group = new AckGroup(n, bytes, (status) => {
    seen.settled = n;
    seen.outcomes.push(status);
  });
  const own = group.ref();
  const t = new Ticket(group.ref(), n, bytes, b);
  own.release();
  b.reserve(n, bytes);
  b.push({ partition: 'p', events, spans: [{ to: t, count: n }], bytes });
  return seen;
}

async function takeAll(b: DiskBuffer): Promise<Job[]> {
  const jobs: Job[] = [];
  for (;;) {
    const j = await b.take();
    if (j === undefined) return jobs;
    jobs.push(j);
  }
}

function seqs(jobs: Job[]): number[] {
  return jobs.flatMap((j) => j.events.map((e) => e.data.seq as number));
}

function ack(jobs: Job[]): void {
  for (const j of jobs) for (const s of j.spans as Span[]) s.to.settle(s.count, 'delivered');
}

const tmp = () => mkdtempSync(join(tmpdir(), 'tern-disk-'));
const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();

describe('disk buffer', () => {
  it('a written batch releases its source acks; it is read back in order; acknowledged segments are deleted', async () => {
    const dir = tmp();
    const { b, telemetry } = buffer(dir, { segmentBytes: 4096 });
    await b.open();
    const tickets = [];
    for (const start of [0, 10, 20]) {
      const t = push(b, start, 10);
      tickets.push(t);
      await waitFor(() => t.settled === 10, 5000, 'durable write');
    }
    assert.deepEqual(tickets.map((t) => t.outcomes), [['delivered'], ['delivered'], ['delivered']]);
    assert.equal(b.durableEvents, 30);
    assert.equal(b.stagedEvents, 0);
    assert.ok(segments(dir).length >= 2, 'rotated into several segments');
    const jobs = await takeAll(b);
    assert.deepEqual(seqs(jobs), Array.from({ length: 30 }, (_, i) => i));
    assert.equal(jobs[0]?.events[0]?.toJson(), makeEvents(1, 0)[0]?.toJson(), 'the original line comes back byte for byte');
    ack(jobs);
    assert.equal(b.durableEvents, 0);
    await waitFor(() => segments(dir).length === 1, 5000, 'delivered segments deleted (only the active one stays)');
    assert.equal(telemetry.snapshot().buffer_events_written, 30);
    await b.close(AbortSignal.timeout(1000));
  });

  it('after a restart (or SIGKILL) it replays exactly the records not acknowledged, from the ledger', async () => {
    const dir = tmp();
    const first = buffer(dir).b;
    await first.open();
    push(first, 0, 5);
    push(first, 5, 5);
    const t3 = push(first, 10, 5);
    await waitFor(() => t3.settled === 5, 5000, 'written');
    const jobs = await takeAll(first);
    ack(jobs.slice(0, 1)); // only the first record was delivered
    await first.close(AbortSignal.timeout(1000));

    const again = buffer(dir);
    await again.b.open();
    assert.equal(again.b.durableEvents, 10);
    assert.equal(again.telemetry.snapshot().buffer_events_replayed, 10);
    const replay = await takeAll(again.b);
    assert.deepEqual(seqs(replay), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    await again.b.close(AbortSignal.timeout(1000));
  });

  it('a corrupt record in the middle is reported with its byte range and skipped; the records around it are delivered', async () => {
    const dir = tmp();
    const w = buffer(dir).b;
    await w.open();
    push(w, 0, 3);
    push(w, 3, 3);
    const t = push(w, 6, 3);
    await waitFor(() => t.settled === 3, 5000, 'written');
    await w.close(AbortSignal.timeout(1000));
    // Flip one byte inside the second record's payload.
    const seg = join(dir, segments(dir)[0] as string);
    const bytes = readFileSync(seg);
    const second = bytes.indexOf('TERN', 1, 'latin1');
    bytes[second + 40] = (bytes[second + 40] as number) ^ 0xff;
    writeFileSync(seg, bytes);

    const r = buffer(dir);
    await r.b.open();
    const jobs = await takeAll(r.b);
    assert.deepEqual(seqs(jobs), [0, 1, 2, 6, 7, 8]);
    const err = r.records.find((x) => x.code === 'TERN_ERR_BUFFER');
    assert.ok(err, 'reported');
    assert.match(err.msg, new RegExp(`corrupt record \\(checksum mismatch\\).* at bytes ${second}-\\d+`));
    assert.equal(r.telemetry.snapshot().buffer_corrupt_regions, 1);
    await r.b.close(AbortSignal.timeout(1000));
  });

  it('a torn tail (a write cut by SIGKILL) is reported with its byte range and ignored; the whole records are delivered', async () => {
    const dir = tmp();
    const w = buffer(dir).b;
    await w.open();
    push(w, 0, 4);
    const t = push(w, 4, 4);
    await waitFor(() => t.settled === 4, 5000, 'written');
    await w.close(AbortSignal.timeout(1000));
    const seg = join(dir, segments(dir)[0] as string);
    const size = statSync(seg).size;
    truncateSync(seg, size - 25);

    const r = buffer(dir);
    await r.b.open();
    assert.equal(r.b.durableEvents, 4);
    const torn = r.records.find((x) => /torn tail/.test(x.msg));
    assert.ok(torn, 'reported');
    assert.match(torn.msg, /at bytes \d+-\d+/);
    assert.deepEqual(seqs(await takeAll(r.b)), [0, 1, 2, 3]);
    await r.b.close(AbortSignal.timeout(1000));
  });

  it('max_bytes bounds what it admits; delivered segments give the room back', async () => {
    const dir = tmp();
    const { b } = buffer(dir, { maxBytes: 64 * 1024, segmentBytes: 8 * 1024 });
    await b.open();
    let n = 0;
    while (b.hasRoom(10, 2000)) {
      const t = push(b, n, 10);
      n += 10;
      await waitFor(() => t.settled === 10, 5000, 'written');
    }
    assert.ok(b.bytes >= 60 * 1024 && b.bytes <= 80 * 1024, `about max_bytes on disk: ${b.bytes}`);
    ack(await takeAll(b));
    await waitFor(() => b.hasRoom(10, 2000), 5000, 'room again');
    await b.close(AbortSignal.timeout(1000));
  });
});
