/** BodyWriter: one pass from strings to the request bytes, growing as needed, exact UTF-8. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyWriter } from '../src/index.ts';

describe('BodyWriter', () => {
  it('writes UTF-8 exactly and grows past its size hint', () => {
    const w = new BodyWriter(1);
    const parts = ['{"a":"é"}\n', 'x'.repeat(5000), '\n', '{"emoji":"🦅"}\n'];
    for (const p of parts) w.write(p);
    assert.deepEqual(w.toBuffer(), Buffer.from(parts.join(''), 'utf8'));
    assert.equal(w.length, Buffer.byteLength(parts.join('')));
  });
});
