/**
 * Runs the real `tern` binary on a pipeline with an `http_server` source listening on a free port
 * (`address: 127.0.0.1:0`), and finds its URL in the "listening" log line. Every process is killed
 * by the test's cleanup hook if the test did not stop it.
 */
import type { TestContext } from 'node:test';
import { startElasticsearch, type ElasticsearchEmulator } from '@tern/test-kit';
import { finalCounters, logs, tern, tmp, until, write, type Run } from '@tern/test-kit/e2e';

export { logs, tmp, until, write, type Run };

export interface Served {
  readonly url: string;
  readonly run: Run;
  readonly dir: string;
  /** The source's counters from the last stats line (written at exit). */
  counters(id?: string): Record<string, number>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function serve(t: TestContext, yaml: string, opts: { env?: Record<string, string>; dir?: string; files?: Record<string, string> } = {}): Promise<Served> {
  const dir = opts.dir ?? tmp();
  for (const [name, text] of Object.entries(opts.files ?? {})) write(dir, name, text);
  const p = write(dir, 'pipeline.yaml', yaml);
  const run = tern(['run', '-c', p, '--log-format', 'json', '--stats-interval', '0'], { ...(opts.env ? { env: opts.env } : {}) });
  t.after(() => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  });
  let exited = false;
  void run.exit.then(() => (exited = true));
  await until(() => exited || logs(run).some((l) => l.msg === 'listening'), 20_000, 'tern to listen');
  const url = logs(run).find((l) => l.msg === 'listening')?.url;
  if (typeof url !== 'string') throw new Error(`tern did not start:\n${run.stderr()}`);
  return {
    url,
    run,
    dir,
    counters: (id = 'in') => finalCounters(run, id) ?? {},
    stop: async () => {
      run.child.kill('SIGTERM');
      return run.exit;
    },
  };
}

/** The Elasticsearch emulator, closed by the test's cleanup; `down`: every `_bulk` answered 503 until `clearFaults()`. */
export async function elasticsearch(t: TestContext, down = false): Promise<ElasticsearchEmulator> {
  const es = await startElasticsearch();
  t.after(() => es.close());
  if (down) es.fault({ match: { path: '/_bulk' }, times: Infinity, action: { status: 503 } });
  return es;
}

/**
 * An Elasticsearch sink (pipeline YAML) for the data stream logs-<dataset>-default. A short batch
 * timeout: Falco sends its next alert only after the answer, so the sink's batching delay is Falco's pace.
 */
export const esSink = (id: string, input: string, url: string, dataset: string, buffer = ''): string => `  ${id}:
    type: elasticsearch
    inputs: [${input}]
    endpoints: ["${url}"]
    data_stream: { dataset: ${dataset} }
    batch: { timeout_ms: 20 }
    request: { retry_initial_ms: 20, retry_max_ms: 100 }
${buffer ? `    buffer: ${buffer}\n` : ''}`;

/** A Falco alert as `http_output` posts it (json_output: true). */
export function falcoAlert(seq: number, priority = 'Warning', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    uuid: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    output: `10:20:05.408091526: ${priority} Sensitive file opened for reading by non-trusted program (user=root command=cat /etc/shadow file=/etc/shadow k8s.ns=default k8s.pod=web-${seq})`,
    priority,
    rule: 'Read sensitive file untrusted',
    time: '2024-11-22T10:20:05.408091526Z',
    source: 'syscall',
    hostname: 'falco-x7k2p',
    tags: ['filesystem', 'mitre_credential_access'],
    output_fields: { 'evt.time': 1732270805408091526, 'fd.name': '/etc/shadow', 'k8s.ns.name': 'default', 'k8s.pod.name': `web-${seq}`, 'proc.cmdline': 'cat /etc/shadow', 'user.name': 'root' },
    seq,
    ...extra,
  };
}

/** An audit event as an item of kube-apiserver's EventList (no kind/apiVersion of its own). */
export function auditEvent(seq: number): Record<string, unknown> {
  return {
    level: 'Metadata',
    auditID: `a0000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/payments/secrets/db-${seq}`,
    verb: 'get',
    user: { username: 'system:serviceaccount:payments:reader', groups: ['system:serviceaccounts'] },
    sourceIPs: ['10.0.0.7'],
    userAgent: 'kubectl/v1.31.0',
    objectRef: { resource: 'secrets', namespace: 'payments', name: `db-${seq}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2024-11-22T10:00:00.000000Z',
    stageTimestamp: '2024-11-22T10:00:00.002000Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  };
}
