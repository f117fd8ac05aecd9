/**
 * The push examples as a user runs them, against the emulators: examples/falco-sidekick (an emulated
 * Falco posting the sample alerts: all reach Elasticsearch in ECS, Critical ones reach Slack), and
 * examples/k8s-audit-webhook (an emulated apiserver configured from the example's own kubeconfig:
 * its server path, token and CA; every event reaches Elasticsearch mapped by the k8s_audit profile).
 * Both run through an Elasticsearch outage: the examples' disk buffers keep the senders answered 200
 * while it lasts, and everything arrives once it is back.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { AuditWebhookSender, FalcoSender, startWebhook } from '@tern/test-kit';
import { auditEvent, elasticsearch, logs, tmp, until } from './helpers.ts';
import { tern } from '@tern/test-kit/e2e';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** A private copy of an example (and the samples it reads), run with `TERN_LISTEN` on a free port. */
async function runExample(t: import('node:test').TestContext, name: string, env: Record<string, string>) {
  const dir = tmp();
  cpSync(examples, dir, { recursive: true, filter: (src) => !src.includes('/.tern') && !src.includes('/out') });
  const r = tern(['run', '-c', join(dir, name, 'pipeline.yaml'), '--log-format', 'json', '--stats-interval', '0'], { env: { TERN_LISTEN: '127.0.0.1:0', ...env } });
  t.after(() => {
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
  });
  await until(() => r.child.exitCode !== null || logs(r).some((l) => l.msg === 'listening'), 20_000, 'tern to listen');
  const url = logs(r).find((l) => l.msg === 'listening')?.url;
  if (typeof url !== 'string') throw new Error(r.stderr());
  return { url, r, dir: join(dir, name) };
}

describe('push examples', () => {
  it('falco-sidekick: every alert Falco posts reaches Elasticsearch in ECS, through an outage of it; Critical and above reach Slack', async (t) => {
    const es = await elasticsearch(t, true);
    const slack = await startWebhook({ mode: 'slack' });
    t.after(() => slack.close());
    const { url, r } = await runExample(t, 'falco-sidekick', { ES_URL: es.url, SLACK_WEBHOOK_URL: `${slack.url}/services/T0000000/B0000000/emulator`, CLUSTER: 'prod-eu1' });
    const alerts = readFileSync(join(examples, 'elasticsearch/falco.json'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const falco = new FalcoSender({ url: `${url}/` });
    t.after(() => falco.close());
    falco.send(...alerts);
    await falco.idle();
    assert.equal(falco.delivered.length, alerts.length);
    assert.deepEqual(new Set(falco.statuses), new Set([200]), 'answered while Elasticsearch is down: the alerts are on disk');
    const stream = 'logs-falco.alerts-default';
    assert.equal(es.count(stream), 0, 'nothing stored yet');
    assert.ok(es.requests.some((q) => q.path === '/_bulk' && q.status === 503), 'the sink did try');
    es.clearFaults();
    await until(() => es.count(stream) === alerts.length, 20_000, 'the buffered alerts, once Elasticsearch is back');
    const doc = es.docs(stream)[0]?._source as { event?: { module?: string }; rule?: unknown; '@timestamp'?: unknown };
    assert.equal(doc.event?.module, 'falco', 'mapped to ECS');
    const critical = alerts.filter((a) => ['Critical', 'Alert', 'Emergency'].includes(String(a.priority)));
    assert.ok(critical.length > 0);
    assert.equal(slack.received.length, critical.length);
    const text = JSON.stringify(slack.received.map((m) => m.body));
    assert.ok(text.includes('*cluster*\\nprod-eu1'), 'custom fields shown');
    for (const a of critical) assert.ok(text.includes(String(a.rule)), `${String(a.rule)} in Slack`);
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 0, r.stderr());
  });

  it('k8s-audit-webhook: the apiserver, configured from the example kubeconfig, delivers every event to Elasticsearch mapped to ECS, through an outage of it', async (t) => {
    const es = await elasticsearch(t, true);
    const { url, r, dir } = await runExample(t, 'k8s-audit-webhook', { ES_URL: es.url });
    const kubeconfig = parse(readFileSync(join(dir, 'webhook-kubeconfig.yaml'), 'utf8')) as { clusters: Array<{ cluster: { server: string } }>; users: Array<{ user: { token: string } }> };
    const server = new URL(kubeconfig.clusters[0]?.cluster.server ?? '');
    const token = kubeconfig.users[0]?.user.token ?? '';
    assert.equal(token, readFileSync(join(dir, 'audit-token'), 'utf8').trim(), 'the kubeconfig token is the one tern expects');
    // The kubeconfig's server, at the port this test's tern got.
    const apiserver = new AuditWebhookSender({ url: `${url}${server.pathname}`, bearerToken: token, tls: { ca: readFileSync(join(dir, 'tls/tls.crt')) }, maxBatchWaitMs: 20, initialBackoffMs: 50 });
    t.after(() => apiserver.close());
    for (let i = 0; i < 1000; i++) apiserver.enqueue(auditEvent(i));
    await apiserver.flush();
    assert.equal(apiserver.delivered.length, 1000);
    assert.deepEqual(apiserver.droppedBatches, []);
    assert.ok(apiserver.attempts.every((a) => a.status === 200), 'answered 200 at the first attempt while Elasticsearch is down: the events are on disk');
    const stream = 'logs-kubernetes.audit_logs-default';
    assert.equal(es.count(stream), 0, 'nothing stored yet');
    es.clearFaults();
    await until(() => es.count(stream) === 1000, 20_000, 'the buffered events, once Elasticsearch is back');
    const doc = es.docs(stream)[0]?._source as { event?: { dataset?: string; action?: string }; orchestrator?: { resource?: { type?: string } }; kubernetes?: { audit?: { auditID?: string } } };
    assert.equal(doc.event?.dataset, 'kubernetes.audit_logs');
    assert.equal(doc.event?.action, 'get');
    assert.equal(doc.orchestrator?.resource?.type, 'secrets');
    assert.match(doc.kubernetes?.audit?.auditID ?? '', /^a0000000-/);
    // The policy is an audit.k8s.io Policy whose last rule catches everything at Metadata.
    const policy = parse(readFileSync(join(dir, 'audit-policy.yaml'), 'utf8')) as { apiVersion: string; kind: string; rules: Array<{ level: string }> };
    assert.equal(policy.kind, 'Policy');
    assert.equal(policy.apiVersion, 'audit.k8s.io/v1');
    assert.equal(policy.rules.at(-1)?.level, 'Metadata');
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 0, r.stderr());
  });
});
