/** Line splitting across chunk boundaries, CRLF, long lines and offsets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter } from '../src/index.ts';

function split(chunks: string[], max = 100) {
  const lines: Array<[string, number, number]> = [];
  const over: Array<[number, number]> = [];
  const s = new LineSplitter({ line: (t, o, e) => lines.push([t, o, e]), oversize: (o, l) => over.push([o, l]) }, max);
  for (const c of chunks) s.push(Buffer.from(c));
  return { lines, over, s };
}

describe('LineSplitter', () => {
  it('splits lines across chunks with byte offsets', () => {
    const { lines, s } = split(['ab', 'c\nde\r\n', 'f']);
    assert.deepEqual(lines, [['abc', 0, 4], ['de', 4, 8]]);
    assert.equal(s.committedOffset, 8);
    assert.equal(s.pendingBytes, 1);
    s.flush();
    assert.deepEqual(lines[2], ['f', 8, 9]);
  });

  it('keeps a partial line intact when the caller reuses its buffer', () => {
    const lines: string[] = [];
    const s = new LineSplitter({ line: (t) => lines.push(t), oversize: () => undefined }, 100);
    const buf = Buffer.alloc(4);
    buf.write('ab\ncd');
    s.push(buf.subarray(0, 4));
    buf.write('ef\n\n');
    s.push(buf.subarray(0, 3));
    assert.deepEqual(lines, ['ab', 'cef']);
  });

  it('counts offsets in bytes for multi-byte characters', () => {
    const { lines } = split(['é\nx\n']);
    assert.deepEqual(lines, [['é', 0, 3], ['x', 3, 5]]);
  });

  it('skips an over-long line, even when it spans chunks, and keeps its neighbours', () => {
    const { lines, over } = split(['ok\n' + 'x'.repeat(8), 'x'.repeat(8) + '\nnext\n'], 10);
    assert.deepEqual(lines.map((l) => l[0]), ['ok', 'next']);
    assert.deepEqual(over, [[3, 16]]);
    assert.deepEqual(lines[1], ['next', 20, 25]);
  });
});

describe('decoding', () => {
  it('json (formerly json_lazy) forwards the line unparsed, parses on first read; a bad line reads as a tagged event but keeps its bytes until a stage changes it', async () => {
    const { decodeLine, LogEvent } = await import('../src/index.ts');
    const origin = { sourceId: 's', path: 'p', host: 'h' };
    const ok = decodeLine(origin, '{"a":1}', 0, 'json_lazy') as InstanceType<typeof LogEvent>;
    assert.equal(ok.parsed, false);
    assert.equal(ok.toJson(), '{"a":1}');
    assert.equal(ok.data.a, 1);
    const bad = decodeLine(origin, '{"a":', 8, 'json_lazy') as InstanceType<typeof LogEvent>;
    assert.equal(bad.toJson(), '{"a":', 'nobody read it: forwarded as it is');
    assert.deepEqual(bad.data.tags, ['_json_parse_failure']);
    assert.equal(bad.invalidJson, true);
    assert.equal(bad.toJson(), '{"a":', 'reading does not change what other sinks sharing the event send');
    bad.mutate().x = 1;
    assert.equal(JSON.parse(bad.toJson()).message, '{"a":', 'a stage that changes it writes the tagged object');
    assert.match(String(decodeLine(origin, 'plain', 0, 'json_lazy')), /not a JSON object/);
    assert.equal((decodeLine(origin, '{"a":1}', 0, 'json') as InstanceType<typeof LogEvent>).parsed, false, 'json is lazy (json_lazy is its former name)');
    assert.match(String(decodeLine(origin, '{"a":', 0, 'json_strict')), /JSON/, 'json_strict parses at the source');
    assert.equal((decodeLine(origin, '{"a":1}', 0, 'json_strict') as InstanceType<typeof LogEvent>).parsed, true);
  });
});
