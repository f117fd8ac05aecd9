/**
 * The deployment scenarios of examples/ (tetragon-logscale, tetragon-parseable, tetragon-elasticsearch,
 * k8s-audit-elasticsearch), run as the DaemonSet runs them: the same pipeline.yaml, with the in-cluster
 * paths moved by the environment variables the files offer (sample log, data_dir, the Secret's folder
 * holding the credentials as files), against the emulated servers. Their Kubernetes overlays are
 * rendered and validated in deploy.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startElasticsearch, startLogScale, startParseable, startWebhook } from '@tern/test-kit';
import { tern, tmp, write } from './helpers.ts';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const tetragonLog = join(examples, 'quickstart/tetragon.log');
const auditLog = join(examples, 'elasticsearch/k8s-audit.log');

/** What the DaemonSet's environment would give: a fresh data_dir, a folder of secret files, no second export path. */
function node(secrets: Record<string, string>): Record<string, string> {
  const dir = tmp();
  for (const [k, v] of Object.entries(secrets)) write(dir, `secrets/${k}`, `${v}\n`);
  // The in-cluster pipelines serve the API on 0.0.0.0:8686; tests running side by side take a free loopback port.
  return { TERN_DATA_DIR: join(dir, 'state'), SECRETS_DIR: join(dir, 'secrets'), TETRAGON_LOG: tetragonLog, TETRAGON_LOG_NEW: join(dir, 'absent/tetragon.log'), TERN_API_ADDRESS: '127.0.0.1:0' };
}

describe('deployment scenarios (examples/*)', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers) await c();
  });

  it('tetragon-logscale: the node\'s Tetragon export reaches the repository of the token read from the Secret, tagged by cluster', async () => {
    const ls = await startLogScale({ tokens: { 'ingest-token-from-secret': { repository: 'tetragon' } } });
    closers.push(() => ls.close());
    const env = { ...node({ 'logscale-token': 'ingest-token-from-secret' }), LOGSCALE_URL: ls.url, CLUSTER: 'prod-eu1' };
    const r = tern(['run', '--once', '-c', join(examples, 'tetragon-logscale/pipeline.yaml')], { env });
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(ls.count('tetragon'), 35);
    const events = ls.events('tetragon') as unknown as Array<Record<string, unknown> & { attributes: Record<string, unknown> }>;
    assert.equal(events[0]?.['#cluster'], 'prod-eu1');
    assert.equal(events[0]?.['#source'], 'tetragon');
    assert.equal(new Set(events.map((e) => e.attributes.event_id)).size, 35, 'a distinct event_id per event');
    // Restarted on the same node (same data_dir): the checkpoint says everything was delivered.
    const again = tern(['run', '--once', '-c', join(examples, 'tetragon-logscale/pipeline.yaml')], { env });
    assert.equal(await again.exit, 0, again.stderr());
    assert.equal(ls.count('tetragon'), 35);
  });

  it('tetragon-logscale: a missing token file stops the start with an error naming the file', async () => {
    const env = { ...node({}), LOGSCALE_URL: 'http://127.0.0.1:9' };
    const r = tern(['run', '--once', '-c', join(examples, 'tetragon-logscale/pipeline.yaml')], { env });
    assert.equal(await r.exit, 1);
    assert.match(r.stderr(), /token_file: cannot read .*secrets\/logscale-token/);
  });

  it('tetragon-parseable: every event becomes a Parseable row, sensitive-file reads from pods reach the alert webhook once per policy, pod and file', async () => {
    const pb = await startParseable({ username: 'tern-ingest', password: 'from-secret' });
    const hook = await startWebhook({ mode: 'generic', secretHeader: { name: 'authorization', value: 'Bearer alert-secret' } });
    closers.push(() => pb.close(), () => hook.close());
    const env = { ...node({ 'parseable-password': 'from-secret', 'alert-token': 'alert-secret' }), PARSEABLE_URL: pb.url, ALERT_WEBHOOK_URL: `${hook.url}/tetragon`, CLUSTER: 'prod-eu1' };
    const r = tern(['run', '--once', '-c', join(examples, 'tetragon-parseable/pipeline.yaml')], { env });
    assert.equal(await r.exit, 0, r.stderr());
    const rows = pb.rows('tetragon');
    assert.equal(rows.length, 35);
    assert.equal(rows[0]?.cluster, 'prod-eu1');
    assert.equal(hook.received.length, 3, JSON.stringify(hook.received.map((m) => m.body)));
    for (const m of hook.received) {
      assert.equal(m.path, '/tetragon');
      assert.match(JSON.stringify(m.body), /\/etc\/(shadow|passwd)/);
      assert.ok(m.headers['idempotency-key'], 'an Idempotency-Key header');
    }
  });

  it('tetragon-elasticsearch: ECS documents land in logs-cilium_tetragon.log-default, authenticated by the API key file; a replay stores nothing twice', async () => {
    const es = await startElasticsearch({ auth: { apiKeys: ['a2V5LWlkOmtleS1zZWNyZXQ='] } });
    closers.push(() => es.close());
    const env = { ...node({ 'es-api-key': 'a2V5LWlkOmtleS1zZWNyZXQ=' }), ES_URL: es.url };
    const r = tern(['run', '--once', '-c', join(examples, 'tetragon-elasticsearch/pipeline.yaml')], { env });
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(es.count('logs-cilium_tetragon.log-default'), 35);
    const docs = es.docs('logs-cilium_tetragon.log-default').map((d) => d._source);
    assert.ok(docs.every((d) => (d.event as { module?: string } | undefined)?.module === 'cilium_tetragon' && typeof d['@timestamp'] === 'string'));
    assert.ok(docs.some((d) => (d.orchestrator as { resource?: { name?: string } } | undefined)?.resource?.name), 'pod names as orchestrator.resource.name');
    // Lost checkpoints (a new data_dir): everything is sent again, and the deterministic ids keep one copy.
    const replay = tern(['run', '--once', '-c', join(examples, 'tetragon-elasticsearch/pipeline.yaml')], { env: { ...env, TERN_DATA_DIR: join(tmp(), 'state') } });
    assert.equal(await replay.exit, 0, replay.stderr());
    assert.equal(es.count('logs-cilium_tetragon.log-default'), 35);
  });

  it('k8s-audit-elasticsearch: audit events land ECS-shaped in logs-kubernetes.audit_logs-default', async () => {
    const es = await startElasticsearch({ auth: { apiKeys: ['a2V5LWlkOmtleS1zZWNyZXQ='] } });
    closers.push(() => es.close());
    const env = { ...node({ 'es-api-key': 'a2V5LWlkOmtleS1zZWNyZXQ=' }), ES_URL: es.url, AUDIT_LOG: auditLog };
    const r = tern(['run', '--once', '-c', join(examples, 'k8s-audit-elasticsearch/pipeline.yaml')], { env });
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(es.count('logs-kubernetes.audit_logs-default'), 15);
    assert.equal(es.count(), 15);
    const doc = es.docs('logs-kubernetes.audit_logs-default')[0]?._source;
    assert.ok(doc);
    assert.equal((doc.event as { dataset?: string }).dataset, 'kubernetes.audit_logs');
    assert.ok(doc.kubernetes, 'kubernetes.audit.* fields');
  });
});
