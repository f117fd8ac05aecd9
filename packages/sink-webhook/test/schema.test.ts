// Cross-field validation of the webhook options: every rule names its option.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { OptionsInput } from '@tern/core';
import { type WebhookConfig } from '../src/index.ts';
import { check } from './fixtures.ts';

const v = (c: OptionsInput<WebhookConfig>): string[] => check({ url: 'https://hooks.example/x', ...c });

it('a plain webhook is valid', () => {
  assert.deepEqual(v({}), []);
  assert.deepEqual(v({ format: 'slack', rate_limit: { key_fields: ['rule', 'output_fields["k8s.pod.name"]'] }, signature: { secret: 'k' } }), []);
  assert.deepEqual(v({ format: 'template', body: 'ndjson', template: '{"a":"{{b}}"}' }), []);
});

it('cross-field rules name the option', () => {
  const cases: Array<[OptionsInput<WebhookConfig>, RegExp]> = [
    [{ url: 'https://user:pw@hooks.example/x' }, /^url: credentials in the URL/],
    [{ format: 'template' }, /^template: required with format template/],
    [{ format: 'template', template: 'x {{ y' }, /^template: unterminated/],
    [{ template: '{{a}}' }, /^template: only used with format template/],
    [{ format: 'slack', body: 'array' }, /^body: format slack sends one message per request/],
    [{ format: 'teams', method: 'PUT' }, /^method: teams webhooks take POST/],
    [{ format: 'slack', compression: 'gzip' }, /^compression: Slack/],
    [{ message: { text: 'x' } }, /^message: only used with format slack or teams/],
    [{ format: 'slack', message: { title: '{{}}' } }, /^message.title: empty placeholder/],
    [{ format: 'slack', message: { fields: ['a..b'] } }, /^message.fields\[0\]: .*empty segment/],
    [{ rate_limit: { key_fields: ['x["y'] } }, /^rate_limit.key_fields\[0\]: unterminated/],
    [{ signature: {} }, /^signature: needs secret or secret_file/],
    [{ signature: { secret: 'a', secret_file: '/f' } }, /^signature: set secret or secret_file, not both/],
    [{ auth: { strategy: 'bearer' } }, /^auth: strategy bearer needs token/],
  ];
  for (const [c, re] of cases) {
    const errs = v(c);
    assert.ok(errs.some((e) => re.test(e)), `${JSON.stringify(c)} → ${JSON.stringify(errs)}`);
  }
});
