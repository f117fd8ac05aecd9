/**
 * Field paths (field/path.ts, field/origin.ts), table-driven. The cases are those on which the
 * copies this library replaced disagreed: core's `getPath`/`setPath` (split on dots, arrays
 * replaced by objects on the way), the transforms' `getIn`/`setIn` (brackets, arrays written into
 * as objects), the webhook's `getIn` (unquoted dotted keys) and the timestamp transform's lookup
 * (dotted keys, longest first).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deletePath, getOrigin, getPath, getPathDotted, isOriginPath, parsePath, pathError, setPath } from '../src/field/index.ts';
import type { EventOrigin } from '../src/event/event.ts';

describe('parsePath', () => {
  const ok: Array<[string, string[]]> = [
    ['a', ['a']],
    ['a.b.c', ['a', 'b', 'c']],
    ['output_fields["k8s.pod.name"]', ['output_fields', 'k8s.pod.name']],
    ["a['x.y'].z", ['a', 'x.y', 'z']],
    ['args[0].file_arg.path', ['args', '0', 'file_arg', 'path']],
    ['a.b[0]["x.y"].c', ['a', 'b', '0', 'x.y', 'c']],
    ['["@timestamp"]', ['@timestamp']],
    ['@fields.k8s.pod.name', ['@fields', 'k8s', 'pod', 'name']],
    ['a["q\\"uote"]', ['a', 'q"uote']],
  ];
  for (const [src, want] of ok) it(`parses ${src}`, () => assert.deepEqual(parsePath(src), want));

  const bad: Array<[string, RegExp]> = [
    ['', /empty path/],
    ['a..b', /column 3: empty segment/],
    ['a.', /ends with "."/],
    ['.a', /column 1: empty segment/],
    ['a[b]', /list index/],
    ['a["x', /unterminated quote/],
    ['a[0]b', /column 5: expected "\." or "\[" after "\]"/],
    ['a.__proto__.b', /"__proto__" is not a field name/],
  ];
  for (const [src, want] of bad) it(`refuses ${JSON.stringify(src)}`, () => assert.match(pathError(src) ?? '', want));
});

describe('getPath / getPathDotted: one array rule, dotted keys on request', () => {
  const doc = {
    a: { b: 1, list: [{ x: 'first' }, { x: 'second' }], empty: '' },
    output_fields: { 'k8s.pod.name': 'web-1', 'proc.exepath': '/usr/bin/cat' },
    'a.b.c': 'root-dotted',
    n: null,
  };
  // [path, getPath, getPathDotted]
  const rows: Array<[string, unknown, unknown]> = [
    ['a.b', 1, 1],
    ['a.list[1].x', 'second', 'second'],
    ['a.list.0.x', 'first', 'first'], // an index may be written as a plain segment
    ['a.list.length', undefined, undefined], // a list has no named fields (was 2 in every copy)
    ['a.list[5]', undefined, undefined],
    ['a.b.c', undefined, undefined], // through a number
    ['a.constructor', undefined, undefined], // inherited methods are not fields
    ['n.x', undefined, undefined],
    ['a.empty', '', ''],
    ['output_fields["k8s.pod.name"]', 'web-1', 'web-1'],
    ['output_fields.k8s.pod.name', undefined, 'web-1'], // the webhook's and timestamp's rule, now opt-in
    ['output_fields.proc.exepath', undefined, '/usr/bin/cat'],
    ['output_fields.nope.x', undefined, undefined],
  ];
  for (const [src, strict, dotted] of rows) {
    it(src, () => {
      assert.deepEqual(getPath(doc, parsePath(src)), strict);
      assert.deepEqual(getPathDotted(doc, parsePath(src)), dotted);
    });
  }
  it('dotted keys at any level, longest first after the nested reading', () => {
    const p = parsePath('a.b.c');
    assert.equal(getPathDotted({ a: { b: { c: 1 } } }, p), 1);
    assert.equal(getPathDotted({ 'a.b.c': 2 }, p), 2);
    assert.equal(getPathDotted({ a: { 'b.c': 3 } }, p), 3);
    assert.equal(getPathDotted({ 'a.b': { c: 4 } }, p), 4);
    assert.equal(getPathDotted({ a: { b: 'leaf' } }, p), undefined);
  });
});

describe('setPath / deletePath', () => {
  // [start, path, value, result]: what a write does to each shape on the way.
  const writes: Array<[unknown, string, unknown, unknown]> = [
    [{}, 'a.b.c', 1, { a: { b: { c: 1 } } }],
    [{ a: 5 }, 'a.b', 1, { a: { b: 1 } }], // a scalar on the way is replaced by an object
    [{ a: null }, 'a.b', 1, { a: { b: 1 } }],
    [{ a: [{ x: 1 }, { x: 2 }] }, 'a[1].x', 9, { a: [{ x: 1 }, { x: 9 }] }], // lists are entered by index (core used to replace the list)
    [{ a: [1, 2] }, 'a[1]', 9, { a: [1, 9] }],
    [{ a: [1, 2] }, 'a.b', 9, { a: { b: 9 } }], // a name on a list: the list is replaced (the transforms wrote an invisible property)
    [{ a: { b: 1 } }, 'a["x.y"]', 2, { a: { b: 1, 'x.y': 2 } }],
  ];
  for (const [start, src, value, want] of writes) {
    it(`set ${src} on ${JSON.stringify(start)}`, () => {
      const d = structuredClone(start) as Record<string, unknown>;
      setPath(d, parsePath(src), value);
      assert.deepEqual(d, want);
    });
  }

  const deletes: Array<[unknown, string, boolean, unknown]> = [
    [{ a: { b: 1, c: 2 } }, 'a.b', true, { a: { c: 2 } }],
    [{ a: [1, 2, 3] }, 'a[1]', true, { a: [1, 3] }], // spliced, not left as a hole
    [{ a: [1, 2, 3] }, 'a[7]', false, { a: [1, 2, 3] }],
    [{ a: [1, 2, 3] }, 'a.length', false, { a: [1, 2, 3] }],
    [{ a: 1 }, 'a.b', false, { a: 1 }],
    [{ a: {} }, 'a.toString', false, { a: {} }],
  ];
  for (const [start, src, removed, want] of deletes) {
    it(`delete ${src} on ${JSON.stringify(start)}`, () => {
      const d = structuredClone(start) as Record<string, unknown>;
      assert.equal(deletePath(d, parsePath(src)), removed);
      assert.deepEqual(d, want);
    });
  }
});

describe('origin fields', () => {
  const origin: EventOrigin = { sourceId: 'pods', path: '/var/log/pods/x.log', host: 'node-1', fields: { 'k8s.pod.name': 'web-1' } };
  const rows: Array<[string, unknown]> = [
    ['@host', 'node-1'],
    ['@source', 'pods'],
    ['@path', '/var/log/pods/x.log'],
    ['@offset', 120],
    ['@fields.k8s.pod.name', 'web-1'],
    ['@fields', { 'k8s.pod.name': 'web-1' }],
    ['@host.x', undefined],
  ];
  for (const [src, want] of rows) {
    it(src, () => {
      assert.equal(isOriginPath(parsePath(src)), true);
      assert.deepEqual(getOrigin({ origin, offset: 120 }, parsePath(src)), want);
    });
  }
  it('no offset, no origin', () => {
    assert.equal(getOrigin({ origin, offset: -1 }, ['@offset']), undefined);
    assert.equal(getOrigin({}, ['@host']), undefined);
    assert.equal(isOriginPath(['@timestamp']), false);
  });
});
