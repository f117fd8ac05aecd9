/** The shipped pipeline files validate, and the kustomizations render (when kubectl is installed). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '@tern/core';
import { builtinRegistry } from '../src/registry.ts';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

describe('deploy/', () => {
  for (const p of ['deploy/kustomize/daemonset/pipeline.yaml', 'deploy/kustomize/sidecar/pipeline.yaml', 'examples/quickstart/pipeline.yaml']) {
    it(`${p} is a valid pipeline`, () => {
      const cfg = loadPipeline([root(p)], builtinRegistry(), { env: {} });
      assert.ok(cfg.components.length >= 2);
      assert.deepEqual(cfg.warnings, []);
    });
  }

  for (const k of ['daemonset', 'sidecar']) {
    it(`kubectl kustomize deploy/kustomize/${k} renders a DaemonSet with a tern container`, { skip: !hasKubectl && 'kubectl not installed' }, () => {
      const r = spawnSync('kubectl', ['kustomize', root(`deploy/kustomize/${k}`)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /kind: DaemonSet/);
      assert.match(r.stdout, /\n\s+name: tern\n/);
      assert.match(r.stdout, /configMap:\n\s+name: tern-pipeline-[a-z0-9]+/);
    });
  }
});
