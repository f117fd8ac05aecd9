// Event fixtures shared by the unit tests: lines of the quickstart Tetragon log (real export
// shapes), a Falco alert in Falcosidekick's payload shape (§4.1) and a Kubernetes audit event.
import { readFileSync } from 'node:fs';
import { LogEvent, withDefaults, type ComponentContext, type DeliveryDeps, type EventOrigin, type OptionsInput } from '@tern/core';
import { createWebhookSink, validate, WebhookEncoder, webhookSink, type WebhookConfig, type WebhookSink } from '../src/index.ts';

const LOG = new URL('../../../examples/quickstart/tetragon.log', import.meta.url);
export const TETRAGON: readonly Record<string, unknown>[] = readFileSync(LOG, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);

const find = (pred: (o: Record<string, unknown>) => boolean): Record<string, unknown> => {
  const o = TETRAGON.find(pred);
  if (o === undefined) throw new Error('fixture not found');
  return o;
};
const kprobe = (o: Record<string, unknown>): Record<string, unknown> | undefined => o['process_kprobe'] as Record<string, unknown> | undefined;

/** `cat /etc/shadow` in pod default/debug-shell, seen by security_file_permission (MAY_READ). */
export const SHADOW_READ = find((o) => kprobe(o)?.['function_name'] === 'security_file_permission' && JSON.stringify(o).includes('/etc/shadow'));
/** A write to /etc/passwd killed by the policy (KPROBE_ACTION_SIGKILL). */
export const PASSWD_WRITE = find((o) => kprobe(o)?.['action'] === 'KPROBE_ACTION_SIGKILL');
export const EXEC = find((o) => o['process_exec'] !== undefined);
export const TCP_CONNECT = find((o) => kprobe(o)?.['function_name'] === 'tcp_connect');

export const FALCO = {
  uuid: '2d2f1ed4-4a0b-4d0b-9d61-2c0a2e5a1c11',
  output: '10:20:05.408091526: Warning Sensitive file opened for reading by non-trusted program (user=root command=cat /etc/shadow file=/etc/shadow k8s.ns=default k8s.pod=web-1)',
  priority: 'Warning',
  rule: 'Read sensitive file untrusted',
  time: '2024-11-22T10:20:05.408091526Z',
  source: 'syscall',
  hostname: 'kind-worker',
  tags: ['filesystem', 'mitre_credential_access'],
  output_fields: { 'evt.time': 1732270805408091526, 'fd.name': '/etc/shadow', 'k8s.ns.name': 'default', 'k8s.pod.name': 'web-1', 'proc.cmdline': 'cat /etc/shadow', 'proc.exepath': '/usr/bin/cat', 'user.name': 'root' },
};

export const AUDIT = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Metadata',
  stage: 'ResponseComplete',
  verb: 'get',
  user: { username: 'system:serviceaccount:default:reader' },
  sourceIPs: ['10.0.0.7'],
  objectRef: { resource: 'secrets', namespace: 'payments', name: 'db-password', apiVersion: 'v1' },
  responseStatus: { code: 403 },
  requestReceivedTimestamp: '2024-11-22T10:00:00.000000Z',
};

export const ORIGIN: EventOrigin = Object.freeze({ sourceId: 'src', path: '/var/log/tetragon/tetragon.log', host: 'node-a', fileId: 'f1' });

/** Events as a file source reads them: the original line, JSON, and a byte offset. */
export function events(datas: readonly unknown[], start = 0): LogEvent[] {
  let offset = start;
  return datas.map((d) => {
    const line = JSON.stringify(d);
    const ev = new LogEvent(ORIGIN, line, 'json', undefined, offset);
    offset += line.length + 1;
    return ev;
  });
}

/** Options as a pipeline file would give them: the schema's defaults filled in. */
export function cfg(c: OptionsInput<WebhookConfig>): WebhookConfig {
  return withDefaults(webhookSink, c);
}

/** The sink from options as a pipeline file would give them. */
export function createSink(c: OptionsInput<WebhookConfig>, ctx: ComponentContext, deps?: DeliveryDeps): WebhookSink {
  return createWebhookSink(cfg(c), ctx, deps);
}

/** `validate` on options as the loader hands them over (defaults filled). */
export function check(c: OptionsInput<WebhookConfig>): string[] {
  return validate(cfg(c));
}

/** An encoder for the given options (a receiver URL is filled in). */
export function encoder(c: OptionsInput<WebhookConfig>, suppressedOf?: (ev: LogEvent) => number): WebhookEncoder {
  return new WebhookEncoder(cfg({ url: 'https://hooks.example/x', ...c }), suppressedOf);
}
