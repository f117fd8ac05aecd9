// The {{field.path}} templates: paths (dotted, bracketed, dotted keys), fallbacks, escaping of
// substituted values only, derived `_` fields, JSON templates keeping types, and compile errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileJson, compileText, parsePath, templateError, getIn } from '../src/index.ts';
import { FALCO } from './fixtures.ts';

describe('paths', () => {
  it('parses dotted and bracketed segments', () => {
    assert.deepEqual(parsePath('a.b.c'), ['a', 'b', 'c']);
    assert.deepEqual(parsePath('output_fields["k8s.pod.name"]'), ['output_fields', 'k8s.pod.name']);
    assert.deepEqual(parsePath("a['x.y'].z"), ['a', 'x.y', 'z']);
    assert.throws(() => parsePath('a..b'), /empty segment/);
    assert.throws(() => parsePath('a["x'), /unterminated/);
  });
  it('reads keys that contain dots without brackets (Falco output_fields)', () => {
    assert.equal(getIn(FALCO, parsePath('output_fields.k8s.pod.name')), 'web-1');
    assert.equal(getIn(FALCO, parsePath('output_fields["proc.exepath"]')), '/usr/bin/cat');
    assert.equal(getIn(FALCO, parsePath('output_fields.nope.x')), undefined);
  });
});

describe('text templates', () => {
  const scope = (data: unknown) => ({ data, derived: () => ({ pod: 'default/web-1' }) });
  it('renders fields, fallbacks, objects as JSON and {{{{ as a literal', () => {
    const t = compileText('{{rule}} on {{_.pod}} tags={{tags}} user={{nobody | unknown}} {{{{x}}');
    assert.equal(t.render(scope(FALCO)), 'Read sensitive file untrusted on default/web-1 tags=["filesystem","mitre_credential_access"] user=unknown {{x}}');
    assert.equal(t.usesDerived, true);
  });
  it('escapes substituted values, not the template text', () => {
    const t = compileText('*{{a}}* <{{b}}>');
    assert.equal(t.render({ data: { a: '<b>&', b: 'x' } }, (s) => s.replace(/</g, '&lt;')), '*&lt;b>&* <x>');
  });
  it('a single placeholder keeps the value type', () => {
    assert.equal(compileText('{{output_fields["evt.time"]}}').value({ data: FALCO }), 1732270805408091526);
  });
  it('reports bad placeholders with their column', () => {
    assert.match(templateError('abc {{ ') ?? '', /unterminated "\{\{" at column 5/);
    assert.match(templateError('{{}}') ?? '', /empty placeholder at column 1/);
    assert.equal(templateError('{{a.b}}'), undefined);
  });
});

describe('JSON templates', () => {
  it('substitutes inside strings with correct escaping and keeps types of whole placeholders', () => {
    const t = compileJson('{"summary":"{{rule}} \\"{{output_fields.proc.cmdline}}\\"","fields":"{{output_fields}}","n":"{{output_fields.evt.time}}","missing":"{{nope}}","list":["{{priority}}",1]}');
    const v = t.render({ data: FALCO }) as Record<string, unknown>;
    assert.equal(v['summary'], 'Read sensitive file untrusted "cat /etc/shadow"');
    assert.deepEqual(v['fields'], FALCO.output_fields);
    assert.equal(v['n'], 1732270805408091526);
    assert.equal(v['missing'], null);
    assert.deepEqual(v['list'], ['Warning', 1]);
    // Values with quotes and newlines stay valid JSON.
    const w = compileJson('{"t":"x {{m}} y"}').render({ data: { m: 'a"b\nc' } });
    assert.deepEqual(JSON.parse(JSON.stringify(w)), { t: 'x a"b\nc y' });
  });
});
