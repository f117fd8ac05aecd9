// The webhook's templates: core's one compiler with ALERT_TEMPLATE (dotted Falco keys unquoted,
// `_.` derived fields), against real alert shapes. The grammar itself is tested in core
// (packages/core/test/field-template.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileJsonTemplate, compileTemplate, fieldTemplate, parsePath, getPathDotted } from '@tern/core';
import { ALERT_TEMPLATE } from '../src/index.ts';
import { check, FALCO } from './fixtures.ts';

describe('paths', () => {
  it('reads keys that contain dots without brackets (Falco output_fields)', () => {
    assert.equal(getPathDotted(FALCO, parsePath('output_fields.k8s.pod.name')), 'web-1');
    assert.equal(fieldTemplate('output_fields.k8s.pod.name', ALERT_TEMPLATE).value({ data: FALCO }), 'web-1');
    assert.equal(fieldTemplate('output_fields["proc.exepath"]', ALERT_TEMPLATE).value({ data: FALCO }), '/usr/bin/cat');
    assert.equal(fieldTemplate('output_fields.nope.x', ALERT_TEMPLATE).render({ data: FALCO }), '');
  });
});

describe('text templates', () => {
  const scope = (data: unknown) => ({ data, derived: () => ({ pod: 'default/web-1' }) });
  it('renders fields, alternatives, objects as JSON and {{{{ as a literal', () => {
    const t = compileTemplate('{{rule}} on {{_.pod}} tags={{tags}} user={{nobody | "unknown"}} {{{{x}}', ALERT_TEMPLATE);
    assert.equal(t.render(scope(FALCO)), 'Read sensitive file untrusted on default/web-1 tags=["filesystem","mitre_credential_access"] user=unknown {{x}}');
    assert.equal(t.usesDerived, true);
  });
  it('an unquoted alternative is a field path, not text (it was read as the word before)', () => {
    const t = compileTemplate('{{_.file | rule}}', ALERT_TEMPLATE);
    assert.equal(t.render(scope(FALCO)), 'Read sensitive file untrusted');
  });
  it('a single placeholder keeps the value type', () => {
    assert.equal(compileTemplate('{{output_fields["evt.time"]}}', ALERT_TEMPLATE).value({ data: FALCO }), 1732270805408091526);
  });
  it('validate reports bad placeholders with their column', () => {
    assert.match(check({ format: 'template', template: 'abc {{ ' }).join(), /template: unterminated "\{\{" at column 5/);
    assert.match(check({ format: 'template', template: '{{}}' }).join(), /template: empty placeholder at column 1/);
    assert.deepEqual(check({ url: 'https://hooks.example/x', format: 'template', template: '{{a.b}}' }), []);
  });
});

describe('JSON templates', () => {
  it('substitutes inside strings with correct escaping and keeps types of whole placeholders', () => {
    const t = compileJsonTemplate('{"summary":"{{rule}} \\"{{output_fields.proc.cmdline}}\\"","fields":"{{output_fields}}","n":"{{output_fields.evt.time}}","missing":"{{nope}}","list":["{{priority}}",1]}', ALERT_TEMPLATE);
    const v = t.render({ data: FALCO }) as Record<string, unknown>;
    assert.equal(v['summary'], 'Read sensitive file untrusted "cat /etc/shadow"');
    assert.deepEqual(v['fields'], FALCO.output_fields);
    assert.equal(v['n'], 1732270805408091526);
    assert.equal(v['missing'], null);
    assert.deepEqual(v['list'], ['Warning', 1]);
  });
});
