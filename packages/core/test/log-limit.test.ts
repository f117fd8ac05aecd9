// The one rate-limited logger: the first occurrence logs at once with its sample; the rest of the
// interval is folded into one summary line that says how many more there were (never silently hidden).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogLimiter } from '../src/telemetry/log-limit.ts';
import { captureLogger, ManualClock } from '../src/testing/helpers.ts';

describe('LogLimiter', () => {
  it('logs the first of a kind, then one summary per interval with how many were folded', async () => {
    const { logger, records } = captureLogger();
    const clock = new ManualClock();
    const l = new LogLimiter(logger, 5000, clock);
    for (let i = 0; i < 7; i++) l.log('warn', 'bad-line', { offset: i }, 'malformed line');
    assert.equal(records.length, 1);
    assert.equal(records[0]?.offset, 0, 'the first one, with its sample');
    await clock.advance(5000);
    assert.equal(records.length, 2, 'the interval ended: a summary');
    assert.equal(records[1]?.suppressed, 6);
    assert.match(records[1]?.msg ?? '', /malformed line \(6 more like this in the last 5 s\)/);
    await clock.advance(20_000);
    assert.equal(records.length, 2, 'nothing new, nothing logged');
    l.log('warn', 'bad-line', { offset: 99 }, 'malformed line');
    assert.equal(records.length, 3);
    l.log('warn', 'other', {}, 'another kind');
    assert.equal(records.length, 4, 'kinds are limited separately');
  });

  it('flush() logs what is pending at once (shutdown)', () => {
    const { logger, records } = captureLogger();
    const l = new LogLimiter(logger, 10_000, new ManualClock());
    l.log('error', 'k', {}, 'refused');
    l.log('error', 'k', {}, 'refused');
    l.flush();
    assert.equal(records.length, 2);
    assert.equal(records[1]?.suppressed, 1);
  });
});
