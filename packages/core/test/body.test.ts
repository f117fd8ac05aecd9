/** BodyWriter: one pass from strings to the request bytes, growing as needed, exact UTF-8. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyWriter, recycleBody } from '../src/index.ts';

describe('BodyWriter', () => {
  it('writes UTF-8 exactly and grows past its size hint', () => {
    const w = new BodyWriter(1);
    const parts = ['{"a":"é"}\n', 'x'.repeat(5000), '\n', '{"emoji":"🦅"}\n'];
    for (const p of parts) w.write(p);
    assert.deepEqual(w.toBuffer(), Buffer.from(parts.join(''), 'utf8'));
    assert.equal(w.length, Buffer.byteLength(parts.join('')));
  });

  it('reuses a recycled body for the next writer, and never one it did not make', () => {
    const a = new BodyWriter(200_000);
    a.write('first body');
    const first = a.toBuffer();
    recycleBody(first);
    const b = new BodyWriter(150_000);
    b.write('second');
    const second = b.toBuffer();
    assert.equal(second.buffer, first.buffer, 'the recycled memory is reused');
    assert.equal(second.toString(), 'second');
    // Recycled twice (or a view at an offset, or a foreign buffer): not pooled twice, not pooled at all.
    recycleBody(second);
    recycleBody(second);
    const c = new BodyWriter(150_000);
    const d = new BodyWriter(150_000);
    assert.notEqual(c.toBuffer().buffer, d.toBuffer().buffer, 'one pooled body serves one writer');
    const foreign = Buffer.alloc(300_000);
    recycleBody(foreign);
    recycleBody(second.subarray(1));
    assert.notEqual(new BodyWriter(250_000).toBuffer().buffer, foreign.buffer);
  });

  it('gives a small writer no large pooled body, and recycles what it outgrows', () => {
    const big = new BodyWriter(4_000_000);
    big.write('x');
    recycleBody(big.toBuffer());
    const small = new BodyWriter(2048);
    assert.ok(small.toBuffer().buffer !== big.toBuffer().buffer, 'a 2 KiB body does not pin 4 MB');
    const grower = new BodyWriter(2000);
    const before = grower.toBuffer().buffer;
    grower.write('y'.repeat(2000)); // outgrows its first buffer, which goes back to the pool
    assert.ok(grower.toBuffer().buffer !== before);
    assert.ok(new BodyWriter(1500).toBuffer().buffer === before, 'the outgrown buffer serves the next writer');
  });
});
