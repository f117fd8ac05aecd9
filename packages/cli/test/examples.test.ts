/**
 * The shipped examples, as a user would run them: every examples/<name>/pipeline.yaml validates, and
 * the scenario examples deliver what they promise to the emulated servers.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '@tern/core';
import { startElasticsearch, startLogScale, startWebhook } from '@tern/test-kit';
import { builtinRegistry } from '../src/registry.ts';
import { tern } from './helpers.ts';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** A private copy of the examples (they read ../quickstart and keep checkpoints in ./.tern). */
function copyExamples(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tern-examples-'));
  cpSync(examples, dir, { recursive: true, filter: (src) => !src.includes('/.tern') && !src.includes('/out') });
  return dir;
}

describe('examples', () => {
  for (const name of readdirSync(examples).sort()) {
    it(`examples/${name}/pipeline.yaml validates with no warnings`, () => {
      const cfg = loadPipeline([join(examples, name, 'pipeline.yaml')], builtinRegistry(), { env: {} });
      assert.deepEqual(cfg.warnings, []);
    });
  }

  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers) await c();
  });

  it('elasticsearch: Tetragon, Falco and audit events land ECS-shaped in their integrations\' data streams', async () => {
    const es = await startElasticsearch();
    closers.push(() => es.close());
    const dir = copyExamples();
    const r = tern(['run', '--once', '-c', join(dir, 'elasticsearch/pipeline.yaml')], { env: { ES_URL: es.url } });
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(es.count('logs-cilium_tetragon.log-default'), 35);
    assert.equal(es.count('logs-falco.alerts-default'), 15);
    assert.equal(es.count('logs-kubernetes.audit_logs-default'), 15);
    const doc = es.docs('logs-cilium_tetragon.log-default').map((d) => d._source).find((s) => (s.process as { name?: string } | undefined)?.name === 'cat');
    assert.ok(doc, 'a cat process event');
    assert.equal((doc.event as { module: string }).module, 'cilium_tetragon');
    assert.equal(typeof doc['@timestamp'], 'string');
    // A second run sends nothing: the checkpoints say everything was delivered.
    const again = tern(['run', '--once', '-c', join(dir, 'elasticsearch/pipeline.yaml')], { env: { ES_URL: es.url } });
    assert.equal(await again.exit, 0);
    assert.equal(es.count(), 65);
  });

  it('siem-and-alerts: every event reaches the SIEM, sensitive reads from pods reach Slack once per pod and file', async () => {
    const es = await startElasticsearch();
    const slack = await startWebhook({ mode: 'slack' });
    closers.push(() => es.close(), () => slack.close());
    const dir = copyExamples();
    const r = tern(['run', '--once', '-c', join(dir, 'siem-and-alerts/pipeline.yaml')], {
      env: { ES_URL: es.url, SLACK_WEBHOOK_URL: `${slack.url}/services/T0000000/B0000000/emulator` },
    });
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(es.count('logs-cilium_tetragon.log-default'), 35);
    assert.ok(slack.received.length >= 1, 'at least one alert');
    const texts = slack.received.map((m) => JSON.stringify(m.body));
    assert.ok(texts.every((t) => /\/etc\/(shadow|passwd)/.test(t)), texts.join('\n'));
  });

  it('logscale-quota: the deny list and volume controls thin the stream before LogScale', async () => {
    const ls = await startLogScale({ tokens: { 'demo-ingest-token': { repository: 'sandbox' } } });
    closers.push(() => ls.close());
    const dir = copyExamples();
    const r = tern(['run', '--once', '-c', join(dir, 'logscale-quota/pipeline.yaml'), '--log-format', 'json'], { env: { LOGSCALE_URL: ls.url } });
    assert.equal(await r.exit, 0, r.stderr());
    const n = ls.count('sandbox');
    assert.ok(n > 0 && n < 35, `between 1 and 34 events expected, got ${n}`);
    const ev = ls.events('sandbox')[0] as unknown as Record<string, unknown>;
    assert.equal(typeof ev['@rawstring'], 'string');
  });
});
