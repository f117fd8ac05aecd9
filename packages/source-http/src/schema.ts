/**
 * Options of the `http_server` source: the JSON Schema (validation and docs), the TypeScript type
 * (YAML keys kept), the `sender` presets and the pure cross-field checks.
 *
 * The presets exist because the two senders this source is for treat answers in opposite ways
 * (see README, "Answers and what each sender does with them"): Falco's `http_output` ignores the
 * status code and retries only on a timeout it never sets, so tern must hold its answer rather than
 * refuse; kube-apiserver retries 429/503 with `Retry-After` and gives up after 30 s per request, so
 * tern must refuse quickly and answer in time. Options a preset sets have no default of their own:
 * the schema gives each its preset's value in an `if sender is …` branch, so ajv fills them like
 * every other default and the source reads its options as they come (the descriptions give each
 * preset's value).
 */
import { AUTH_SCHEMA, validateAuth, type AuthOptions, type JsonSchema, optionsSchema } from '@tern/core';

export type Sender = 'falco' | 'k8s_audit' | 'generic';
export type BodyDecoding = 'auto' | 'json' | 'text' | 'k8s_audit';
export type WhenFull = 'hold' | 'reject';

export interface ServerTlsOptions {
  readonly crt_file?: string;
  readonly key_file?: string;
  readonly ca_file?: string;
}

export interface HttpServerConfig {
  readonly address: string;
  readonly paths: readonly string[];
  readonly sender: Sender;
  /** Default: from `sender` (`PRESETS`), filled by the schema. */
  readonly decoding: BodyDecoding;
  readonly acknowledgements: boolean;
  /** Default: from `sender` (`PRESETS`), filled by the schema. */
  readonly when_full: WhenFull;
  readonly full_wait_ms: number;
  readonly retry_after_s: number;
  /** Default: from `sender` (`PRESETS`), filled by the schema. */
  readonly request_timeout_ms: number;
  readonly read_timeout_ms: number;
  readonly max_body_bytes: number;
  readonly max_concurrent_requests: number;
  readonly auth?: AuthOptions;
  readonly tls?: ServerTlsOptions;
}

/** What each preset sets (an option written in the pipeline wins). */
export const PRESETS: Readonly<Record<Sender, { readonly decoding: BodyDecoding; readonly when_full: WhenFull; readonly request_timeout_ms: number }>> = Object.freeze({
  falco: { decoding: 'auto', when_full: 'hold', request_timeout_ms: 0 },
  k8s_audit: { decoding: 'k8s_audit', when_full: 'reject', request_timeout_ms: 25_000 },
  generic: { decoding: 'auto', when_full: 'reject', request_timeout_ms: 30_000 },
});

/** A sender's preset as schema defaults, for the `if sender is …` branches of the schema. */
function presetDefaults(sender: Sender): JsonSchema {
  const p = PRESETS[sender];
  return { properties: { decoding: { default: p.decoding }, when_full: { default: p.when_full }, request_timeout_ms: { default: p.request_timeout_ms } } };
}

/** `if sender is <s>` (`required`: a sender left out is `generic`, whichever order ajv fills defaults in). */
const senderIs = (s: Sender): JsonSchema => ({ properties: { sender: { const: s } }, required: ['sender'] });

const SERVER_AUTH: JsonSchema = {
  ...AUTH_SCHEMA,
  description: 'Credentials senders must present: basic (user + password) or bearer (token), secrets from files or ${ENV}. A request without them, or with others, is answered 401. Omit for none (then restrict who can reach the port, or use tls.ca_file).',
  examples: [{ strategy: 'bearer', token_file: '/var/run/secrets/tern/audit-webhook-token' }, { strategy: 'basic', user: 'falco', password_file: '/var/run/secrets/tern/falco-password' }],
  properties: {
    // A server checks what clients send: basic and bearer. `api_key` is a header each product names its own way.
    ...Object.fromEntries(Object.entries(AUTH_SCHEMA.properties as Record<string, JsonSchema>).filter(([k]) => !k.startsWith('api_key'))),
    strategy: {
      type: 'string',
      enum: ['basic', 'bearer'],
      description: 'basic: `Authorization: Basic` with user + password (Falco: credentials in http_output.url). bearer: `Authorization: Bearer <token>` (kube-apiserver: `token` in the webhook kubeconfig).',
      examples: ['bearer', 'basic'],
    },
  },
};

// decoding, when_full and request_timeout_ms get their defaults from the sender's branch (allOf, below).
export const schema = optionsSchema<HttpServerConfig, 'decoding' | 'when_full' | 'request_timeout_ms'>()({
  type: 'object',
  additionalProperties: false,
  properties: {
    address: {
      type: 'string',
      pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]*):\\d{1,5}$',
      default: '0.0.0.0:2801',
      description: 'Interface and port to listen on (`host:port`, `[::]:port` for IPv6). The default is Falcosidekick\'s port, so Falco\'s `http_output.url` needs no change when tern takes its place.',
      examples: ['0.0.0.0:2801', '127.0.0.1:9880', '[::]:8443'],
    },
    paths: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', pattern: '^/' },
      default: ['/'],
      description: 'Request paths that take events (exact match); any other path is answered 404. Events carry the path they came in on (`origin.path`).',
      examples: [['/'], ['/audit']],
    },
    sender: {
      type: 'string',
      enum: ['falco', 'k8s_audit', 'generic'],
      default: 'generic',
      description:
        'Who posts, which sets how tern answers (each option it sets can still be written out): `falco` (Falco `http_output`, which ignores status codes): decoding `auto`, when_full `hold`, request_timeout_ms `0`. `k8s_audit` (kube-apiserver audit webhook, which retries 429/503 with Retry-After within a 30 s timeout): decoding `k8s_audit`, when_full `reject`, request_timeout_ms `25000`. `generic`: decoding `auto`, when_full `reject`, request_timeout_ms `30000`.',
      examples: ['falco', 'k8s_audit'],
    },
    decoding: {
      type: 'string',
      enum: ['auto', 'json', 'text', 'k8s_audit'],
      description:
        'How a body becomes events. `json`: a JSON object (one event), an array of objects, or NDJSON (one object per line). `text`: one event per non-empty line (`message`). `auto`: `text` for `Content-Type: text/plain` (Falco without json_output), else `json`. `k8s_audit`: an `audit.k8s.io/v1` `EventList`, one event per item (with `kind: Event` and `apiVersion`, as in the audit log file). A malformed body is refused whole with 400 naming what was wrong. Default: from `sender`.',
      examples: ['json', 'k8s_audit'],
    },
    acknowledgements: {
      type: 'boolean',
      default: true,
      description: 'Answer 2xx only once every sink dealt with the events (delivered, written to its disk buffer, or refused for good and counted), so an answer means durable. `false`: answer as soon as the events are queued in tern (lower latency; what is in memory is lost if tern crashes).',
      examples: [true, false],
    },
    when_full: {
      type: 'string',
      enum: ['hold', 'reject'],
      description: 'When tern cannot take more events (the in-flight budget is spent, e.g. a sink is down): `hold` keeps the request open until there is room (backpressure on the sender; for Falco, whose alerts then queue inside Falco); `reject` waits at most `full_wait_ms`, then answers 503 with `Retry-After` (kube-apiserver retries it). The same applies to a request over `max_concurrent_requests` (hold waits for a slot; reject answers 429). Default: from `sender`.',
      examples: ['hold', 'reject'],
    },
    full_wait_ms: {
      type: 'integer',
      minimum: 0,
      maximum: 60_000,
      default: 1000,
      description: 'With `when_full: reject`, how long a request may wait for room before it is answered 503.',
      examples: [1000, 0],
    },
    retry_after_s: {
      type: 'integer',
      minimum: 1,
      maximum: 3600,
      default: 5,
      description: 'The `Retry-After` (seconds) sent with 503 and 429 answers.',
      examples: [5, 30],
    },
    request_timeout_ms: {
      type: 'integer',
      minimum: 0,
      description:
        'Longest time from a request\'s arrival to its answer (`0`: no limit). When it passes before the events were taken, the answer is 503 with Retry-After and nothing was taken; when they were taken but not yet acknowledged, also 503 (the sender may send them again: duplicates, never loss). Keep it under the sender\'s own timeout (kube-apiserver: 30 s). Default: from `sender`.',
      examples: [25_000, 0],
    },
    read_timeout_ms: {
      type: 'integer',
      minimum: 1000,
      default: 30_000,
      description: 'Longest time to receive a whole request (headers and body); a slower client is answered 408 and disconnected, so a stalled upload cannot hold a connection.',
      examples: [30_000],
    },
    max_body_bytes: {
      type: 'integer',
      minimum: 1024,
      maximum: 1_073_741_824,
      default: 10_485_760,
      description: 'Largest body, in bytes, as sent and after gzip decoding (a decompression bomb stops here); a larger one is answered 413 without being kept in memory. 10 MiB holds a kube-apiserver batch of 400 events at the Request level. Independent of the pipeline\'s `in_flight.max_bytes`: a body larger than 1/32 of that budget enters the pipeline in shares, so a body over the whole budget is taken too.',
      examples: [10_485_760, 1_048_576],
    },
    max_concurrent_requests: {
      type: 'integer',
      minimum: 1,
      maximum: 10_000,
      default: 64,
      description: 'Requests read and decoded at once; further requests wait for a slot (`when_full: hold`) or are answered 429 with Retry-After (`reject`). Bounds memory with the body limit: at most this many bodies of `max_body_bytes` are held.',
      examples: [64, 8],
    },
    auth: SERVER_AUTH,
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['crt_file', 'key_file'],
      description: 'Serve HTTPS. With `ca_file`, mutual TLS: a client must present a certificate signed by that CA (kube-apiserver: `client-certificate` in the webhook kubeconfig; Falco: `http_output.mtls`), or the TLS handshake fails.',
      examples: [{ crt_file: '/etc/tern/tls/tls.crt', key_file: '/etc/tern/tls/tls.key' }, { crt_file: '/etc/tern/tls/tls.crt', key_file: '/etc/tern/tls/tls.key', ca_file: '/etc/tern/tls/clients-ca.crt' }],
      properties: {
        crt_file: { type: 'string', minLength: 1, description: 'PEM certificate (chain) of the server (relative to the pipeline file).', examples: ['/etc/tern/tls/tls.crt'] },
        key_file: { type: 'string', minLength: 1, description: 'PEM private key of crt_file.', examples: ['/etc/tern/tls/tls.key'] },
        ca_file: { type: 'string', minLength: 1, description: 'PEM CA certificates that client certificates must chain to; setting it turns on mutual TLS (clients without a valid certificate are refused during the handshake).', examples: ['/etc/tern/tls/clients-ca.crt'] },
      },
    },
  },
  if: senderIs('falco'),
  then: presetDefaults('falco'),
  else: { if: senderIs('k8s_audit'), then: presetDefaults('k8s_audit'), else: presetDefaults('generic') },
});

/** `host:port` → its parts (IPv6 in brackets). */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(address);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] as string)), port };
}

/** Cross-field checks; pure. */
export function validate(c: HttpServerConfig): string[] {
  const out: string[] = [];
  if (parseAddress(c.address) === undefined) out.push(`address: "${c.address}" is not host:port with a port up to 65535`);
  const seen = new Set<string>();
  for (const p of c.paths) {
    if (seen.has(p)) out.push(`paths: "${p}" is listed twice`);
    seen.add(p);
  }
  out.push(...validateAuth(c.auth));
  if (c.decoding === 'k8s_audit' && c.sender === 'falco') out.push('decoding: k8s_audit is what kube-apiserver posts; with sender falco use auto, json or text');
  return out;
}
