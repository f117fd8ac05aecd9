/**
 * examples/zeek-per-pod, as a user runs it: per-pod Zeek directories → `tern run --once` → the
 * Elasticsearch emulator with the mapping a stock cluster gives logs-*-*. Every event lands in its
 * Zeek data stream with the pod name from its path at `k8s.pod.name`, the file metadata at
 * `log.file.path`/`log.offset` and the node at `host.name` — and none of them under `zeek.*`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startElasticsearch } from '@tern/test-kit';
import { TERN_BIN as BIN } from '@tern/test-kit/e2e';

const EXAMPLE = fileURLToPath(new URL('../../../examples/zeek-per-pod/', import.meta.url));

it('examples/zeek-per-pod: the pod name from the path is at k8s.pod.name in every Zeek document', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tern-zeek-per-pod-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes('/.tern') });
  const es = await startElasticsearch({ dynamicMapping: true });
  after(() => es.close());
  const child = spawn(process.execPath, ['--conditions=tern-src', BIN, 'run', '--once', '-c', join(dir, 'pipeline.yaml')], {
    env: { ...process.env, ES_URL: es.url, NODE_NAME: 'node-a' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);

  assert.deepEqual(es.targets().sort(), ['logs-zeek.connection-default', 'logs-zeek.dns-default', 'logs-zeek.http-default']);
  assert.deepEqual([es.count('logs-zeek.connection-default'), es.count('logs-zeek.dns-default'), es.count('logs-zeek.http-default')], [10, 2, 2]);
  assert.deepEqual(Object.keys(es.stats().itemsByStatus), ['201'], 'nothing refused');
  const pods = new Map<string, number>();
  for (const ds of es.targets()) {
    for (const { _source: d, _ignored } of es.docs(ds)) {
      assert.equal(_ignored, undefined);
      const pod = (d.k8s as { pod?: { name?: string } } | undefined)?.pod?.name;
      const path = ((d.log as { file?: { path?: string } } | undefined)?.file?.path) ?? '';
      assert.ok(pod !== undefined, `${ds}: k8s.pod.name missing in ${JSON.stringify(d).slice(0, 300)}`);
      assert.equal(path, join(dir, 'logs', pod, path.slice(path.lastIndexOf('/') + 1)), 'the pod is the directory of the file');
      assert.equal(typeof (d.log as { offset?: unknown }).offset, 'number');
      assert.deepEqual(d.host, { name: 'node-a' });
      const zeek = JSON.stringify(d.zeek);
      assert.ok(!zeek.includes(pod) && !zeek.includes('"log"') && !zeek.includes('"host"'), `nothing of the origin under zeek.*: ${zeek}`);
      assert.equal((d.event as { dataset: string }).dataset, ds.slice('logs-'.length, -'-default'.length));
      pods.set(pod, (pods.get(pod) ?? 0) + 1);
    }
  }
  assert.deepEqual(Object.fromEntries(pods), { 'checkout-api-7d9f8b6c5-x2k4p': 7, 'report-worker-5b7d9c6f48-q8z2m': 7 });
  const http = es.docs('logs-zeek.http-default').map((x) => x._source.url as { domain?: string } | undefined);
  assert.ok(http.every((u) => typeof u?.domain === 'string' && u.domain.length > 0), 'the HTTP Host header is url.domain, not lost to host.name');
  const dns = es.docs('logs-zeek.dns-default').map((x) => x._source.dns as { question: { name: string; registered_domain?: string } });
  assert.ok(dns.some((q) => q.question.name === 'api.github.com' && q.question.registered_domain === 'github.com'));
});
