// Falcosidekick parity, against the webhook emulator: minimum_priority in Falco's order (what is
// below is acknowledged, counted, never sent, and opens no rate-limit window), Slack messages that
// show a Falco alert's rule, priority and output with pod/namespace/node only when the alert carries
// them, custom fields on every alert (Falco's output_fields, or the top level), and url_file.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { OptionsInput } from '@tern/core';
import { testContext, trackedBatch } from '@tern/core/testing';
import { startWebhook, type WebhookEmulator } from '@tern/test-kit';
import { describe as derive, MessageFormatter, priorityRank, teamsMessage, type WebhookConfig } from '../src/index.ts';
import { AUDIT, check, createSink, encoder, events, FALCO } from './fixtures.ts';

const FAST = { retry_initial_ms: 5, retry_max_ms: 50, timeout_ms: 5000 };
const SLACK = '/services/T0000000/B0000000/emulator';

async function sinkTo(emu: WebhookEmulator, config: OptionsInput<WebhookConfig>) {
  const ctx = testContext('hook', 'webhook');
  const sink = createSink({ url: `${emu.url}${SLACK}`, request: FAST, ...config }, ctx);
  sink.start();
  after(() => sink.stop(AbortSignal.timeout(500)));
  return { sink, ctx };
}

const alert = (priority: string, fields: Record<string, unknown> = FALCO.output_fields) => ({ ...FALCO, priority, output_fields: fields });
type SlackBody = { text: string; attachments: Array<{ blocks: Array<{ fields?: Array<{ text: string }>; elements?: Array<{ text: string }> }> }> };
const fieldsOf = (m: unknown): string[] => (m as SlackBody).attachments[0]?.blocks.flatMap((b) => (b.fields ?? []).map((f) => f.text)) ?? [];

describe('minimum_priority', () => {
  it('Falco\'s order: Critical and above go out; the rest is acknowledged, counted, and not sent', async () => {
    const emu = await startWebhook({ mode: 'slack' });
    after(() => emu.close());
    const { sink, ctx } = await sinkTo(emu, { format: 'slack', minimum_priority: 'critical', rate_limit: { key_fields: ['rule'] } });
    const prios = ['Debug', 'Informational', 'Info', 'Notice', 'Warning', 'Error', 'Critical', 'Alert', 'Emergency'];
    const b = trackedBatch(events([...prios.map((p) => alert(p)), AUDIT]));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    // Only the first of the three (one rule): the Warning below the minimum opened no window.
    assert.equal(emu.received.length, 1);
    assert.match((emu.received[0]?.body as SlackBody).text, /^Read sensitive file untrusted: /);
    assert.ok(fieldsOf(emu.received[0]?.body).includes('*Priority*\nCritical'));
    const c = ctx.telemetry.snapshot();
    assert.equal(c.events_below_priority, 7, 'six Falco priorities below critical, and an audit event (warning)');
    assert.equal(c.events_suppressed, 2);
  });

  it('the ranks, and validation of the option', () => {
    assert.ok(priorityRank('Emergency') > priorityRank('alert'));
    assert.equal(priorityRank('info'), priorityRank('Informational'));
    assert.equal(priorityRank('whatever'), -1);
    assert.deepEqual(check({ url: 'https://x.example/', minimum_priority: 'critical' }), []);
  });
});

describe('Falco alerts in Slack', () => {
  const fmt = new MessageFormatter();
  const names = (data: unknown) => fmt.format(data, 0).fields.map((f) => `${f.name}: ${f.value}`);

  it('rule, priority, output; the pod with its namespace; no node from Falco\'s hostname', () => {
    const f = fmt.format(FALCO, 0);
    assert.equal(f.title, FALCO.rule);
    assert.equal(f.text, FALCO.output);
    assert.deepEqual(names(FALCO), ['Rule: Read sensitive file untrusted', 'Priority: Warning', 'Pod: default/web-1']);
    assert.equal(derive(FALCO).hostname, 'kind-worker');
    assert.ok(!f.footer.includes('kind-worker'));
  });

  it('a k8s_audit alert shows its namespace and no pod; a host alert no pod at all; a node when the alert names one', () => {
    const audit = { ...FALCO, source: 'k8s_audit', output_fields: { 'ka.target.namespace': 'payments', 'ka.user.name': 'alice', 'ka.verb': 'delete' } };
    assert.deepEqual(names(audit), ['Rule: Read sensitive file untrusted', 'Priority: Warning', 'Namespace: payments']);
    assert.equal(derive(audit).user, 'alice');
    const host = { ...FALCO, output_fields: { 'proc.cmdline': 'cat /etc/shadow' } };
    assert.deepEqual(names(host), ['Rule: Read sensitive file untrusted', 'Priority: Warning']);
    assert.deepEqual(names({ ...FALCO, output_fields: { ...FALCO.output_fields, 'k8s.node.name': 'worker-3' } }).at(-1), 'Node: worker-3');
  });

  it('Teams and template formats show the same: rule, priority, output; a k8s_audit alert\'s namespace, no pod, no node from Falco\'s hostname', () => {
    const audit = { ...FALCO, source: 'k8s_audit', output: '10:20:05: Warning K8s secret deleted (user=alice ns=payments)', output_fields: { 'ka.target.namespace': 'payments', 'ka.user.name': 'alice' } };
    type Card = { attachments: Array<{ content: { body: Array<{ type: string; text?: string; items?: Array<{ text: string }>; facts?: Array<{ title: string; value: string }> }> } }> };
    const body = (teamsMessage(fmt.format(audit, 0)) as Card).attachments[0]?.content.body ?? [];
    assert.equal(body[0]?.items?.[0]?.text, 'Read sensitive file untrusted', 'the rule is the title');
    assert.equal(body[1]?.text, audit.output);
    assert.deepEqual(
      body.find((b) => b.type === 'FactSet')?.facts?.map((f) => `${f.title}: ${f.value}`),
      ['Rule: Read sensitive file untrusted', 'Priority: Warning', 'Namespace: payments'],
    );
    assert.ok(!JSON.stringify(body).includes('kind-worker'), 'Falco\'s hostname is not shown as the node');
    const tpl = encoder({ format: 'template', body: 'single', template: '{{_.rule}}|{{_.priority}}|{{_.namespace}}|{{_.pod}}|{{_.node}}|{{output}}' });
    assert.equal(tpl.encode(events([audit])).body, `Read sensitive file untrusted|Warning|payments|||${audit.output}`);
    assert.equal(tpl.encode(events([FALCO])).body, `Read sensitive file untrusted|Warning|default|default/web-1||${FALCO.output}`);
  });
});

describe('custom_fields', () => {
  it('json: into a Falco alert\'s output_fields, at the top level of other events; the event\'s own values win', async () => {
    const emu = await startWebhook();
    after(() => emu.close());
    const { sink } = await sinkTo(emu, { url: `${emu.url}/in`, custom_fields: { cluster: 'prod-eu1', 'k8s.pod.name': 'not-this' } });
    const b = trackedBatch(events([FALCO, AUDIT]));
    sink.accept(b);
    await b.done;
    const [falco, audit] = emu.received.map((m) => m.body as Record<string, unknown>);
    assert.deepEqual(falco?.output_fields, { ...FALCO.output_fields, cluster: 'prod-eu1' });
    assert.equal(falco?.cluster, undefined);
    assert.equal(audit?.cluster, 'prod-eu1');
    assert.equal(audit?.['k8s.pod.name'], 'not-this');
  });

  it('slack: listed after the default fields', async () => {
    const emu = await startWebhook({ mode: 'slack' });
    after(() => emu.close());
    const { sink } = await sinkTo(emu, { format: 'slack', custom_fields: { cluster: 'prod-eu1' } });
    const b = trackedBatch(events([FALCO]));
    sink.accept(b);
    await b.done;
    assert.deepEqual(fieldsOf(emu.received[0]?.body).at(-1), '*cluster*\nprod-eu1');
  });
});

describe('url_file', () => {
  it('reads the URL (a Slack webhook is its own secret) from a file, trailing newline ignored', async () => {
    const emu = await startWebhook({ mode: 'slack' });
    after(() => emu.close());
    const dir = mkdtempSync(join(tmpdir(), 'tern-url-'));
    writeFileSync(join(dir, 'slack-url'), `${emu.url}${SLACK}\n`);
    const ctx = testContext('hook', 'webhook', { configDir: dir });
    const sink = createSink({ url_file: 'slack-url', format: 'slack', request: FAST }, ctx);
    sink.start();
    after(() => sink.stop(AbortSignal.timeout(500)));
    const b = trackedBatch(events([FALCO]));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.received[0]?.path, SLACK);
    assert.ok(!ctx.records.some((r) => JSON.stringify(r).includes('B0000000')), 'the path (the secret) is never logged');
  });

  it('one of url and url_file; a file without a URL fails the build naming the option', () => {
    assert.deepEqual(check({}), ['url: set url or url_file (one of them)']);
    assert.deepEqual(check({ url: 'https://a.example/', url_file: '/x' }), ['url: set url or url_file (one of them)']);
    const dir = mkdtempSync(join(tmpdir(), 'tern-url-'));
    writeFileSync(join(dir, 'bad'), 'hooks.slack.com/services/x\n');
    assert.throws(() => createSink({ url_file: 'bad' }, testContext('hook', 'webhook', { configDir: dir })), /url_file \(bad\): not a valid URL/);
    assert.throws(() => createSink({ url_file: 'missing' }, testContext('hook', 'webhook', { configDir: dir })), /url_file: cannot read/);
  });
});
