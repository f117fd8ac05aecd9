/**
 * `{{field}}` templates (field/template.ts, field/json-template.ts), table-driven. The rows are the
 * cases on which the four compilers this one replaced disagreed: core's (LogScale tags, Parseable
 * streams) and the Elasticsearch sink's rendered a missing field as `unknown`, the transforms' as
 * `''`, the webhook's as its fallback; only two knew `{{{{` and bracket paths; the webhook read
 * `{{_.file | arguments}}` as the literal word "arguments". Each difference is now an explicit
 * option, and the grammar is one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventOrigin } from '../src/event/event.ts';
import { compileJsonTemplate, compileTemplate, isJsonTemplate, templateError, type TemplateInput, type TemplateOptions } from '../src/field/index.ts';

const ORIGIN: EventOrigin = { sourceId: 'tetragon', path: '/var/run/cilium/tetragon/tetragon.log', host: 'node-1', fields: { 'k8s.pod.name': 'web-1' } };
const DATA = {
  node_name: 'Kind-Worker',
  process: { pid: 42, binary: '/usr/bin/cat', arguments: '/etc/shadow' },
  labels: { 'app.kubernetes.io/name': 'web' },
  list: ['a', 'b'],
  empty: '',
  nothing: null,
  output_fields: { 'k8s.ns.name': 'default' },
};
const input: TemplateInput = { data: DATA, origin: ORIGIN, offset: 7, derived: () => ({ file: '/etc/shadow', pod: 'default/web-1' }) };

const NAMES: TemplateOptions = { missing: 'unknown', objects: 'missing' }; // LogScale tags, Parseable streams
const INDEX: TemplateOptions = { ...NAMES, case: 'lower', dates: true }; // Elasticsearch targets
const TEXT: TemplateOptions = {}; // remap values
const ALERT: TemplateOptions = { dottedKeys: true, derived: true }; // webhook texts and bodies

describe('render: one grammar, explicit options', () => {
  // [template, options, rendered]
  const rows: Array<[string, TemplateOptions, string]> = [
    ['plain', TEXT, 'plain'],
    ['{{node_name}}', TEXT, 'Kind-Worker'],
    ['{{ node_name }}', NAMES, 'Kind-Worker'],
    // A missing field: '' by default, the name's `unknown` where the result names something.
    ['x-{{no.such}}-y', TEXT, 'x--y'],
    ['x-{{no.such}}-y', NAMES, 'x-unknown-y'],
    // Empty and null count as missing too (the ES sink used to write `tetragon--2024`).
    ['{{empty}}|{{nothing}}', TEXT, '|'],
    ['{{empty}}|{{nothing}}', NAMES, 'unknown|unknown'],
    // Objects: JSON text in texts, missing in names.
    ['{{process}}', TEXT, '{"pid":42,"binary":"/usr/bin/cat","arguments":"/etc/shadow"}'],
    ['{{list}}', TEXT, '["a","b"]'],
    ['{{process}}', NAMES, 'unknown'],
    // Bracket paths and list indexes work everywhere (core's and the ES compiler split on dots only).
    ['{{labels["app.kubernetes.io/name"]}}', NAMES, 'web'],
    ['{{list[1]}}', NAMES, 'b'],
    // `{{{{` is a literal `{{` everywhere; a stray `}}` is literal text.
    ['{{{{node_name}} and }}', NAMES, '{{node_name}} and }}'],
    // Alternatives: bare = field path, quoted = literal text.
    ['{{no.such | process.arguments}}', TEXT, '/etc/shadow'],
    ['{{no.such | "arguments"}}', TEXT, 'arguments'],
    ["{{no.such | 'n/a'}}", TEXT, 'n/a'],
    ['{{no.such | also.missing}}', NAMES, 'unknown'],
    ['{{empty | "-"}}', TEXT, '-'],
    ['{{no | "a | b"}}', TEXT, 'a | b'],
    ['{{no | "}}"}}', TEXT, '}}'],
    // Origin fields everywhere (the transforms knew five, core three).
    ['{{@host}}/{{@source}}/{{@offset}}/{{@fields.k8s.pod.name}}', NAMES, 'node-1/tetragon/7/web-1'],
    ['{{@path}}', NAMES, '/var/run/cilium/tetragon/tetragon.log'],
    // Case.
    ['Tetragon-{{node_name}}', INDEX, 'tetragon-kind-worker'],
    // Dates (UTC, from the time given); `%%` writes `%`; no dates option: `%` is text.
    ['t-%Y.%m.%d-%H', INDEX, 't-2024.11.05-09'],
    ['100%%-{{process.pid}}', INDEX, '100%-42'],
    ['100%Y', TEXT, '100%Y'],
    // Falco's dotted keys, and derived fields, on request.
    ['{{output_fields.k8s.ns.name}}', ALERT, 'default'],
    ['{{output_fields.k8s.ns.name}}', NAMES, 'unknown'],
    ['{{_.file}} by {{_.pod}}', ALERT, '/etc/shadow by default/web-1'],
    ['{{_.file}}', TEXT, ''], // `_` is an ordinary field without the option
    ['{{_.nope | _.file}}', ALERT, '/etc/shadow'],
  ];
  for (const [src, o, want] of rows) {
    it(`${src} ${JSON.stringify(o)}`, () => assert.equal(compileTemplate(src, o).render(input, Date.UTC(2024, 10, 5, 9, 14)), want));
  }

  it('escape applies to substituted values only', () => {
    const t = compileTemplate('*{{a}}* <{{b | "<none>"}}>');
    assert.equal(t.render({ data: { a: '<b>&' } }, undefined, (s) => s.replace(/</g, '&lt;')), '*&lt;b>&* <&lt;none>>');
  });

  it('flags: constant, readsData, usesTime, usesDerived', () => {
    assert.equal(compileTemplate('Logs', { case: 'lower' }).constant, 'logs');
    assert.equal(compileTemplate('{{{{x}}').constant, '{{x}}');
    assert.equal(compileTemplate('{{@host}}').constant, undefined);
    assert.equal(compileTemplate('{{@host}}-{{@fields.x}}').readsData, false);
    assert.equal(compileTemplate('{{@host}}-{{a}}').readsData, true);
    assert.equal(compileTemplate('%Y', { dates: true }).usesTime, true);
    assert.equal(compileTemplate('{{_.pod}}', { derived: true }).usesDerived, true);
    assert.equal(compileTemplate('{{_.pod}}').usesDerived, false);
  });

  it('derived fields are computed at most once per render, and only when read', () => {
    let calls = 0;
    const inp = { data: {}, derived: () => (calls++, { a: 1, b: 2 }) };
    compileTemplate('{{_.a}}{{_.b}}{{_.c | _.a}}', ALERT).render(inp);
    assert.equal(calls, 1);
    compileTemplate('{{x}}', ALERT).render(inp);
    assert.equal(calls, 1);
  });
});

describe('value: a lone placeholder keeps its type', () => {
  const rows: Array<[string, TemplateOptions, unknown]> = [
    ['{{process.pid}}', TEXT, 42],
    ['{{process}}', TEXT, DATA.process],
    ['{{no.such}}', TEXT, undefined],
    ['{{empty}}', TEXT, ''], // nothing present: the first alternative's value as it is
    ['{{nothing | "fallback"}}', TEXT, 'fallback'],
    ['{{no | process.pid}}', TEXT, 42],
    ['pid {{process.pid}}', TEXT, 'pid 42'],
    ['{{@offset}}', TEXT, 7],
  ];
  for (const [src, o, want] of rows) it(src, () => assert.deepEqual(compileTemplate(src, o).value(input), want));
});

describe('errors name the column', () => {
  const rows: Array<[string, TemplateOptions, RegExp | undefined]> = [
    ['abc {{ ', TEXT, /unterminated "\{\{" at column 5/],
    ['{{}}', TEXT, /empty placeholder at column 1/],
    ['{{ a | }}', TEXT, /empty placeholder at column 1/],
    ['x{{a..b}}', TEXT, /bad placeholder at column 2: invalid field path "a\.\.b"/],
    ['{{a | "open}}', TEXT, /unterminated/],
    ['tern-%Y.%q', INDEX, /unknown date directive %q at column 9/],
    ['tern-%q', TEXT, undefined],
    ['{{a.b}}', TEXT, undefined],
  ];
  for (const [src, o, want] of rows) {
    it(src, () => {
      const e = templateError(src, o);
      if (want === undefined) assert.equal(e, undefined);
      else assert.match(e ?? '', want);
    });
  }
});

describe('JSON templates', () => {
  it('substitutes inside strings with correct escaping and keeps the type of whole placeholders', () => {
    const t = compileJsonTemplate('{"summary":"{{process.binary}} \\"{{process.arguments}}\\"","proc":"{{process}}","pid":"{{process.pid}}","missing":"{{nope}}","list":["{{node_name}}",1]}');
    const v = t.render(input) as Record<string, unknown>;
    assert.equal(v['summary'], '/usr/bin/cat "/etc/shadow"');
    assert.deepEqual(v['proc'], DATA.process);
    assert.equal(v['pid'], 42);
    assert.equal(v['missing'], null);
    assert.deepEqual(v['list'], ['Kind-Worker', 1]);
    const w = compileJsonTemplate('{"t":"x {{m}} y"}').render({ data: { m: 'a"b\nc' } });
    assert.deepEqual(JSON.parse(JSON.stringify(w)), { t: 'x a"b\nc y' });
  });
  it('tells JSON sources from text', () => {
    assert.equal(isJsonTemplate(' {"a":"{{b}}"}'), true);
    assert.equal(isJsonTemplate('[1,2]'), true);
    assert.equal(isJsonTemplate('{{a}}'), false);
    assert.equal(isJsonTemplate('{not json'), false);
  });
});
