/**
 * What deploy/ and the examples' overlays give a cluster, checked as the API server and the pod
 * would see it: every kustomization (the DaemonSet base, the Tetragon sidecar patch, the probes
 * component, every examples/<name>/kustomization.yaml) is rendered with `kubectl kustomize`, and the
 * Helm chart deploy/helm/tern with `helm template` for its default values, its ci/ values and every
 * example's helm-values.yaml; the renders are compared with the committed fixtures in
 * deploy/helm/tern/rendered/. Every rendered object is validated against the Kubernetes schemas
 * (kubernetes-models), every rendered pipeline with tern's own loader, and the pod's contract is
 * checked: the tern container, NODE_NAME, the Secret's files, the checkpoint hostPath at data_dir,
 * no capability, a grace period above shutdown_timeout_ms, a retagged image, PSA labels.
 *
 * kubectl and helm come from PATH, else from .ci/.tools/bin (scripts/ci-tools.sh puts them there);
 * without them the renders are skipped with a message and the fixtures are still validated.
 * TERN_UPDATE_FIXTURES=1 rewrites the fixtures from helm's output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Container, Namespace, Service, ServiceAccount, Volume } from 'kubernetes-models/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { loadPipeline, type PipelineConfig } from '@tern/core';
import { builtinRegistry } from '../src/registry.ts';

const root = (p = '') => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const chart = root('deploy/helm/tern');

/** A tool from PATH, else from .ci/.tools/bin; undefined when neither runs. */
function tool(name: string, versionArgs: string[]): string | undefined {
  for (const bin of [name, root(`.ci/.tools/bin/${name}`)]) {
    if (spawnSync(bin, versionArgs, { encoding: 'utf8' }).status === 0) return bin;
  }
  return undefined;
}
const kubectl = tool('kubectl', ['version', '--client']);
const helm = tool('helm', ['version']);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}
interface EnvVar { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }
interface Mount { name: string; mountPath: string; readOnly?: boolean }
interface ContainerSpec { name: string; image: string; env?: EnvVar[]; volumeMounts?: Mount[]; ports?: Array<{ name?: string; containerPort: number }>; securityContext?: { capabilities?: { drop?: string[]; add?: string[] }; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean }; livenessProbe?: unknown; readinessProbe?: unknown; resources?: { limits?: { memory?: string } } }
interface VolumeSpec { name: string; hostPath?: { path: string }; secret?: { secretName: string }; configMap?: { name: string } }
interface PodSpec { containers: ContainerSpec[]; volumes: VolumeSpec[]; terminationGracePeriodSeconds?: number }

const models: Record<string, new (o: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** Validates every object against its Kubernetes schema; an unexpected kind fails (add its model). */
function validateAll(objects: K8sObject[], where: string): void {
  assert.ok(objects.length > 0, `${where}: nothing rendered`);
  for (const o of objects) {
    const Model = models[`${o.apiVersion}/${o.kind}`];
    assert.ok(Model, `${where}: no schema for ${o.apiVersion} ${o.kind}`);
    try {
      new Model(o as never).validate();
    } catch (e) {
      assert.fail(`${where}: ${o.kind} ${o.metadata.name} is not valid: ${(e as Error).message}`);
    }
  }
}

/** Loads a rendered pipeline with tern's own loader (no environment: every ${VAR} must have a default). */
function loadRendered(text: string): PipelineConfig {
  const file = join(mkdtempSync(join(tmpdir(), 'tern-deploy-')), 'pipeline.yaml');
  writeFileSync(file, text);
  const cfg = loadPipeline([file], builtinRegistry(), { env: {} });
  assert.deepEqual(cfg.warnings, []);
  return cfg;
}

/**
 * The pod contract, for each tern container of the rendered objects: its pipeline validates, and the
 * pod gives it what that pipeline needs. Returns the tern containers checked.
 */
function checkTernPods(objects: K8sObject[], where: string, opts: { pipelineFromConfigMap?: boolean; readOnlyInputs?: boolean; shortGrace?: boolean } = {}): ContainerSpec[] {
  const found: ContainerSpec[] = [];
  for (const ds of objects.filter((o) => o.kind === 'DaemonSet')) {
    const pod = (ds as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
    const index = pod.containers.findIndex((c) => c.name === 'tern');
    if (index < 0) continue;
    const c = pod.containers[index]!;
    found.push(c);
    const w = `${where}: DaemonSet ${ds.metadata.name}`;
    if (pod.containers.length > 1) assert.ok(index > 0, `${w}: the tern sidecar must not be the pod's first container`);
    assert.match(c.image, /^[a-z0-9.-]+\/[a-z0-9./-]+:[\w.-]+$/, `${w}: image ${c.image} is not a full, tagged reference (images: retag missing?)`);
    assert.deepEqual(c.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName', `${w}: NODE_NAME from the downward API`);
    // V8's heap settings are the image's own (the binary's shebang, bench/RESULTS.md "Memory"); an
    // old-space cap in NODE_OPTIONS makes V8 grow its heap in tiny steps and spend a third of the CPU on GC.
    assert.doesNotMatch(c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '', /--max-(old|semi)-space-size/, `${w}: no V8 heap flags in NODE_OPTIONS`);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${w}: every capability dropped`);
    assert.equal(c.securityContext?.capabilities?.add, undefined, `${w}: no capability added`);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${w}: read-only root filesystem`);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${w}: no privilege escalation`);
    assert.ok(c.resources?.limits?.memory, `${w}: a memory limit`);
    const volume = (m: Mount) => pod.volumes.find((v) => v.name === m.name);
    const mounts = c.volumeMounts ?? [];
    for (const m of mounts) assert.ok(volume(m), `${w}: mount ${m.name} has no volume`);
    const secret = mounts.find((m) => volume(m)?.secret);
    assert.ok(secret && secret.readOnly, `${w}: a Secret mounted read-only for the *_file options`);
    if (!opts.pipelineFromConfigMap) continue;
    const configMount = mounts.find((m) => m.mountPath === '/etc/tern');
    const cmName = configMount && volume(configMount)?.configMap?.name;
    assert.ok(cmName, `${w}: the pipeline ConfigMap mounted at /etc/tern`);
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName) as { data?: Record<string, string> } | undefined;
    assert.ok(cm?.data?.['pipeline.yaml'], `${w}: ConfigMap ${cmName} with pipeline.yaml is rendered`);
    const cfg = loadRendered(cm.data['pipeline.yaml']);
    if (c.livenessProbe !== undefined || c.readinessProbe !== undefined) {
      // The probes reach the API only if the pipeline serves it on every interface, on the probed port.
      const port = c.ports?.find((x) => x.name === 'api')?.containerPort;
      assert.ok(cfg.api, `${w}: probes on a pipeline without api.address (nothing would answer them)`);
      const [host, p] = [cfg.api.address.slice(0, cfg.api.address.lastIndexOf(':')), Number(cfg.api.address.slice(cfg.api.address.lastIndexOf(':') + 1))];
      assert.equal(host, '0.0.0.0', `${w}: api.address ${cfg.api.address} must listen on 0.0.0.0 for the kubelet's probes`);
      assert.equal(p, port, `${w}: api.address port ${p} is not the probed container port ${port}`);
    }
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    if (!opts.shortGrace) assert.ok(grace * 1000 > cfg.shutdown_timeout_ms, `${w}: terminationGracePeriodSeconds ${grace} s must exceed shutdown_timeout_ms ${cfg.shutdown_timeout_ms}`);
    const state = mounts.find((m) => m.mountPath === cfg.data_dir);
    assert.ok(state && !state.readOnly && volume(state)?.hostPath, `${w}: data_dir ${cfg.data_dir} must be a writable hostPath mount`);
    for (const [id, spec] of cfg.components.filter((x) => x.kind === 'source').map((x) => [x.id, x.options as { include?: string[] }] as const)) {
      for (const pattern of spec.include ?? []) {
        assert.ok(mounts.some((m) => (m.readOnly || opts.readOnlyInputs === false) && pattern.startsWith(m.mountPath + '/') && volume(m)?.hostPath), `${w}: source ${id} reads ${pattern}, which no read-only hostPath mount provides`);
      }
    }
  }
  return found;
}

function checkNamespaces(objects: K8sObject[], where: string): void {
  for (const ns of objects.filter((o) => o.kind === 'Namespace')) {
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged', `${where}: namespace ${ns.metadata.name} needs its PSA level (hostPath volumes)`);
  }
}

describe('deploy/: pipelines', () => {
  for (const p of ['deploy/kustomize/daemonset/pipeline.yaml', 'deploy/kustomize/sidecar/pipeline.yaml', 'examples/quickstart/pipeline.yaml']) {
    it(`${p} is a valid pipeline`, () => {
      const cfg = loadPipeline([root(p)], builtinRegistry(), { env: {} });
      assert.ok(cfg.components.length >= 2);
      assert.deepEqual(cfg.warnings, []);
    });
  }

  it('the schema check bites: an object that breaks the Kubernetes schema is refused', () => {
    const bad = parseObjects('apiVersion: apps/v1\nkind: DaemonSet\nmetadata: { name: x }\nspec: { selector: {}, template: { spec: { containers: [{ image: x }] } } }\n');
    assert.throws(() => validateAll(bad, 'bad'), /containers\/0 must have required property name/);
  });
});

describe('deploy/kustomize and the examples\' overlays (kubectl kustomize)', { skip: !kubectl && 'kubectl not found (PATH or .ci/.tools/bin; scripts/ci-tools.sh fetches it)' }, () => {
  const render = (dir: string): K8sObject[] => {
    const r = spawnSync(kubectl!, ['kustomize', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return parseObjects(r.stdout);
  };
  const overlays = readdirSync(root('examples')).filter((n) => existsSync(root(`examples/${n}/kustomization.yaml`)));

  it('every example with a Kubernetes deployment has an overlay', () => {
    for (const n of ['tetragon-logscale', 'tetragon-parseable', 'tetragon-elasticsearch', 'k8s-audit-elasticsearch']) assert.ok(overlays.includes(n), `examples/${n}/kustomization.yaml`);
  });

  for (const dir of ['deploy/kustomize/daemonset', 'deploy/kustomize/sidecar', ...overlays.map((n) => `examples/${n}`)]) {
    it(`${dir} renders valid objects and a pod that fits its pipeline`, () => {
      const objects = render(root(dir));
      validateAll(objects, dir);
      checkNamespaces(objects, dir);
      const terns = checkTernPods(objects, dir, { pipelineFromConfigMap: true });
      assert.equal(terns.length, 1, `${dir}: one tern container`);
      assert.equal(terns[0]!.image, 'ghcr.io/tern-project/tern:0.1.0');
      if (dir === 'deploy/kustomize/sidecar') {
        assert.equal(terns[0]!.livenessProbe, undefined, 'the sidecar in Tetragon\'s host-network pod has no probes');
        return;
      }
      // The DaemonSet base includes the probes component; every overlay inherits it.
      assert.deepEqual(terns[0]!.livenessProbe, { httpGet: { path: '/healthz', port: 'api' }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 });
      assert.deepEqual((terns[0]!.readinessProbe as { httpGet: unknown }).httpGet, { path: '/readyz', port: 'api' });
    });
  }
});

describe('deploy/helm/tern', () => {
  const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const values = (file: string) => parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const exampleValues = readdirSync(root('examples')).filter((n) => existsSync(root(`examples/${n}/helm-values.yaml`)));
  /** Render cases: fixture name → helm arguments. */
  const cases: Record<string, string[]> = {
    default: [],
    ...Object.fromEntries(readdirSync(join(chart, 'ci')).map((f) => [f.replace(/-values\.yaml$/, ''), ['-f', join(chart, 'ci', f)]])),
    // Sidecar mode with the sidecar's pipeline, which reads Tetragon's export directory only.
    sidecar: ['-f', join(chart, 'ci/sidecar-values.yaml'), '--set-file', `pipeline=${root('deploy/kustomize/sidecar/pipeline.yaml')}`],
    ...Object.fromEntries(exampleValues.map((n) => [`example-${n}`, ['-f', root(`examples/${n}/helm-values.yaml`), '--set-file', `pipeline=${root(`examples/${n}/pipeline.yaml`)}`]])),
  };

  it('values.schema.json accepts the default values, every ci/ values file and every example\'s values', () => {
    const files = [join(chart, 'values.yaml'), ...readdirSync(join(chart, 'ci')).map((f) => join(chart, 'ci', f)), ...exampleValues.map((n) => root(`examples/${n}/helm-values.yaml`))];
    for (const f of files) assert.ok(validate(values(f)), `${f}: ${JSON.stringify(validate.errors)}`);
  });

  it('values.schema.json refuses a wrong mode, an unknown key and a relative state path', () => {
    for (const bad of [{ mode: 'deployment' }, { probe: { enabled: true } }, { hostPaths: { state: 'var/lib/tern' } }]) assert.equal(validate(bad), false, JSON.stringify(bad));
  });

  it('every schema property has a description, and a default or examples', () => {
    const walk = (s: Record<string, unknown>, path: string) => {
      for (const [k, p] of Object.entries((s.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        assert.ok(p.description, `${path}${k}: description`);
        // A block of named properties is documented through its leaves.
        if (!p.properties) assert.ok(p.default !== undefined || p.examples !== undefined, `${path}${k}: default or examples`);
        walk(p, `${path}${k}.`);
      }
    };
    walk(schema as Record<string, unknown>, '');
  });

  it('the default pipeline in values.yaml validates', () => {
    loadRendered(String(values(join(chart, 'values.yaml')).pipeline));
  });

  for (const [name, args] of Object.entries(cases)) {
    const fixture = join(chart, 'rendered', `${name}.yaml`);
    it(`helm template (${name}) matches rendered/${name}.yaml and passes helm lint --strict`, { skip: !helm && 'helm not found (PATH or .ci/.tools/bin; scripts/ci-tools.sh fetches it)' }, () => {
      const lint = spawnSync(helm!, ['lint', '--strict', chart, ...args], { encoding: 'utf8' });
      assert.equal(lint.status, 0, lint.stdout + lint.stderr);
      const r = spawnSync(helm!, ['template', 'tern', chart, '--namespace', 'tern', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      // Paths of --set-file values are the machine's own: the fixture keeps the render only.
      if (process.env.TERN_UPDATE_FIXTURES === '1') writeFileSync(fixture, r.stdout);
      assert.equal(r.stdout, readFileSync(fixture, 'utf8'), `rendered/${name}.yaml is stale: TERN_UPDATE_FIXTURES=1 node scripts/test.mjs deploy.test`);
    });

    it(`rendered/${name}.yaml: valid Kubernetes objects, a pod that fits its pipeline`, () => {
      const objects = parseObjects(readFileSync(fixture, 'utf8'));
      validateAll(objects, name);
      const terns = checkTernPods(objects, name, { pipelineFromConfigMap: !name.startsWith('existing-configmap') });
      if (name === 'sidecar') {
        assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`), ['ConfigMap/tern-pipeline'], 'sidecar mode renders only the pipeline ConfigMap');
        loadRendered((objects[0] as unknown as { data: Record<string, string> }).data['pipeline.yaml']!);
        return;
      }
      assert.equal(terns.length, 1);
      const operated = name === 'operated';
      assert.equal(terns[0]!.livenessProbe !== undefined, name !== 'no-api', 'probes unless probes.enabled is false');
      assert.equal(objects.some((o) => o.kind === 'ServiceMonitor'), operated, 'a ServiceMonitor only when serviceMonitor.enabled');
    });
  }
});

describe('deploy/helm/tetragon-values.yaml (tern as the export sidecar of Tetragon\'s chart)', () => {
  const v = parseYaml(readFileSync(root('deploy/helm/tetragon-values.yaml'), 'utf8')) as {
    export: { mode: string; resources: unknown; securityContext: unknown; stdout: { image: { override: string }; commandOverride: string[]; argsOverride: string[]; extraEnv: EnvVar[]; extraVolumeMounts: Mount[] } };
    extraVolumes: VolumeSpec[];
  };

  it('the container Tetragon\'s chart builds from it, and its volumes, are valid Kubernetes objects that fit the tern chart\'s sidecar mode', () => {
    const s = v.export.stdout;
    // What Tetragon's export-stdout template makes of these values: the export-logs mount, then ours.
    const container = { name: 'export-stdout', image: s.image.override, command: s.commandOverride, args: s.argsOverride, env: s.extraEnv, securityContext: v.export.securityContext, resources: v.export.resources, volumeMounts: [{ name: 'export-logs', mountPath: '/var/run/cilium/tetragon' }, ...s.extraVolumeMounts] };
    new Container(container as never).validate();
    for (const vol of v.extraVolumes) new Volume(vol as never).validate();
    const pod: PodSpec = { containers: [{ name: 'tetragon', image: 'quay.io/cilium/tetragon' }, { ...container, name: 'tern' } as ContainerSpec], volumes: [{ name: 'export-logs', hostPath: { path: '/var/run/cilium/tetragon' } }, ...v.extraVolumes] };
    const sidecar = parseObjects(readFileSync(join(chart, 'rendered/sidecar.yaml'), 'utf8'));
    const objects = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'tetragon' }, spec: { template: { spec: { ...pod, terminationGracePeriodSeconds: 1 } } } } as unknown as K8sObject, ...sidecar];
    assert.equal(v.export.mode, 'stdout');
    assert.deepEqual(s.commandOverride, ['tern']);
    // Tetragon's template mounts export-logs without readOnly and hard-codes terminationGracePeriodSeconds: 1;
    // values cannot change either (documented: an interrupted drain is re-sent from the checkpoint).
    assert.equal(checkTernPods(objects, 'tetragon-values', { pipelineFromConfigMap: true, readOnlyInputs: false, shortGrace: true }).length, 1);
  });
});
