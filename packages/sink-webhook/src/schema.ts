/**
 * Options of the `webhook` sink: the JSON Schema the engine validates and documents with, the
 * matching TypeScript type (YAML keys kept), and the pure cross-field checks.
 *
 * Shared blocks come from the sink kit. Two kit defaults are wrong for webhooks and are overridden
 * here, in the schema, so the documented default is the applied one: `compression` is `none`
 * (receivers rarely decode gzip, and Slack's acceptance of it is unconfirmed, §4.2) and
 * `healthcheck` is `false` (a webhook has no health endpoint to ask).
 */
import {
  AUTH_SCHEMA,
  COMPRESSION_SCHEMA,
  HEALTHCHECK_SCHEMA,
  PROXY_SCHEMA,
  TLS_SCHEMA,
  batchSchema,
  compileJsonTemplate,
  fieldTemplate,
  isJsonTemplate,
  requestSchema,
  secretProperties,
  templateError,
  validateAuth,
  validateTls,
  type AuthOptions,
  type BatchDefaults,
  type DefaultedDelivery,
  type JsonSchema,
  type RequestDefaults,
  type TemplateOptions,
  type TlsOptions,
  optionsSchema,
} from '@tern/core';
import { PRIORITIES, type Priority } from './describe.ts';

/** 500 events / 1 MB / 1 s for `array` and `ndjson` bodies; `single` always sends one event. */
export const WEBHOOK_BATCH_DEFAULTS: BatchDefaults = { max_events: 500, max_bytes: 1_000_000, timeout_ms: 1000 };
/** A webhook receiver answers fast or not at all: 10 s, not the kit's 30 s. */
export const WEBHOOK_REQUEST_DEFAULTS: Partial<RequestDefaults> = { concurrency: 4, timeout_ms: 10_000 };

/**
 * How this sink's templates and field options read events (core's one template compiler): a missing
 * field renders as '' (or the placeholder's next alternative), `_.` paths read the derived alert
 * fields (describe.ts), and `output_fields.k8s.pod.name` finds Falco's dotted key unquoted.
 */
export const ALERT_TEMPLATE: TemplateOptions = Object.freeze({ derived: true, dottedKeys: true });

export type BodyMode = 'single' | 'array' | 'ndjson';
export type WebhookFormat = 'json' | 'slack' | 'teams' | 'template';

export interface MessageOptions {
  readonly title?: string;
  readonly text?: string;
  readonly fields?: readonly string[];
  readonly severity_field?: string;
  readonly colors?: Readonly<Record<string, string>>;
}

export interface RateLimitOptions {
  readonly key_fields: readonly string[];
  readonly interval_ms: number;
  readonly max_keys: number;
}

export interface SignatureOptions {
  readonly secret?: string;
  readonly secret_file?: string;
  readonly header: string;
  readonly algorithm: 'sha256' | 'sha512';
}

/** The options as the schema completes them (YAML keys; every default filled). */
export interface WebhookConfig extends DefaultedDelivery {
  /** The receiver URL; `url_file` instead reads it from a file (one of the two is set). */
  readonly url?: string;
  readonly url_file?: string;
  readonly minimum_priority?: Priority;
  readonly custom_fields: Readonly<Record<string, string>>;
  readonly method: 'POST' | 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  readonly auth?: AuthOptions;
  readonly body: BodyMode;
  readonly format: WebhookFormat;
  readonly template?: string;
  readonly message?: MessageOptions;
  readonly idempotency_key: boolean;
  readonly rate_limit?: RateLimitOptions;
  readonly signature?: SignatureOptions;
  readonly tls: TlsOptions;
  readonly proxy: string;
}

export const schema = optionsSchema<WebhookConfig, 'buffer'>()({
  type: 'object',
  additionalProperties: false,
  properties: {
    url: {
      type: 'string',
      pattern: '^https?://',
      description: 'Receiver URL, query string included (set `url` or `url_file`). For Slack it is the incoming-webhook URL, which is itself the secret: use `url_file` or ${ENV} interpolation. It is never logged (only its origin is).',
      examples: ['https://hooks.slack.com/services/${SLACK_WEBHOOK_PATH}', 'https://alerts.internal/falco'],
    },
    url_file: {
      type: 'string',
      minLength: 1,
      description: 'File holding the receiver URL (a mounted Kubernetes Secret, as for every other secret); trailing newlines are ignored. Read at start.',
      examples: ['/var/run/secrets/tern/slack-webhook-url'],
    },
    minimum_priority: {
      type: 'string',
      enum: [...PRIORITIES],
      description:
        'Send only events at or above this priority, in Falco\'s order (debug < informational < notice < warning < error < critical < alert < emergency), as Falcosidekick\'s `minimumpriority`. The priority is Falco\'s `priority` (`Info` counts as informational), else the derived severity (`_.severity`, or `message.severity_field` when set); an event with no known priority is below every minimum. Events below it are not sent: acknowledged at once and counted (`events_below_priority`). Omit to send everything.',
      examples: ['critical', 'warning'],
    },
    custom_fields: {
      type: 'object',
      additionalProperties: { type: 'string' },
      default: {},
      description: 'Fields added to every alert, as Falcosidekick\'s `customfields`: into a Falco alert\'s `output_fields`, at the top level of other events (a field the event already has keeps its value). Slack and Teams messages list them after the default fields; templates read them like any field.',
      examples: [{ cluster: 'prod-eu1', team: 'secops' }],
    },
    method: {
      type: 'string',
      enum: ['POST', 'PUT'],
      default: 'POST',
      description: 'HTTP method (Falcosidekick also offers PUT). Slack and Teams take POST only.',
      examples: ['POST', 'PUT'],
    },
    headers: {
      type: 'object',
      default: {},
      additionalProperties: { type: 'string' },
      description: 'Headers for the receiver (a shared-secret header, routing keys), sent with every request over request.headers. Credentials belong in auth.',
      examples: [{ 'X-Team': 'secops' }],
    },
    auth: AUTH_SCHEMA,
    body: {
      type: 'string',
      enum: ['single', 'array', 'ndjson'],
      default: 'single',
      description: 'single: one event per request, a JSON object (Falcosidekick-compatible). array: a JSON array of up to batch.max_events events. ndjson: one JSON event per line (application/x-ndjson). slack and teams formats need single.',
      examples: ['single', 'ndjson'],
    },
    format: {
      type: 'string',
      enum: ['json', 'slack', 'teams', 'template'],
      default: 'json',
      description: 'json: the event as it is. slack: a Slack incoming-webhook message (Block Kit, colour by severity). teams: a Microsoft Teams Adaptive Card in a message envelope (Workflows / connector webhooks). template: the `template` option rendered per event.',
      examples: ['json', 'slack'],
    },
    template: {
      type: 'string',
      minLength: 1,
      description:
        'Body of one event for format template: JSON with {{field.path}} placeholders in its strings (a string that is exactly one placeholder keeps the field type), or plain text (sent as text/plain). `{{path | other.path | "text"}}` for missing fields (a quoted alternative is literal text); `_.` paths read the derived alert fields (_.pod, _.binary, _.file, _.access, _.node, _.severity, _.suppressed_note, ...).',
      examples: ['{"summary": "{{_.binary}} in {{_.pod}}", "node": "{{node_name}}", "event": "{{process_kprobe}}"}', '{{_.severity}}: {{_.binary}} read {{_.file}} on {{_.node}}'],
    },
    message: {
      type: 'object',
      additionalProperties: false,
      description: 'Slack and Teams messages: what they say. Without it, a text per event kind is used (Tetragon exec/exit/kprobe file access, Falco alerts, Kubernetes audit).',
      examples: [{ title: '{{_.severity}}: {{_.title}}', text: 'Unauthorised access: {{_.file}} {{_.access}} by pod {{_.pod}} (binary {{_.binary}}, node {{_.node}})' }],
      properties: {
        title: {
          type: 'string',
          minLength: 1,
          description: 'Title template (bold first line). Default: the Falco rule, the Tetragon policy, or the audit verb and resource ({{_.title}}).',
          examples: ['{{_.title}}', 'Falco {{priority}}: {{rule}}'],
        },
        text: {
          type: 'string',
          minLength: 1,
          description: 'Message template; Slack mrkdwn is kept in the template, substituted values are escaped. Default: per event kind.',
          examples: ['Unauthorised access: {{_.file}} {{_.access}} by pod {{_.pod}} (binary {{_.binary}}, node {{_.node}})'],
        },
        fields: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          description: 'Field paths shown as name/value pairs under the text. Default: the derived pod, binary, arguments, file, destination, policy, action and node.',
          examples: [['rule', 'output_fields["k8s.pod.name"]', 'output_fields["proc.cmdline"]']],
        },
        severity_field: {
          type: 'string',
          minLength: 1,
          description: 'Field holding the severity that picks the colour. Default: Falco `priority`, else inferred for Tetragon (enforcing action critical, kprobe warning, exec notice).',
          examples: ['priority', 'labels.severity'],
        },
        colors: {
          type: 'object',
          additionalProperties: { type: 'string', pattern: '^#[0-9a-fA-F]{6}$' },
          description: 'Slack colour per severity (lower-case name → #rrggbb), over the defaults (emergency/alert/critical/error red, warning yellow, notice blue, informational green, debug grey).',
          examples: [{ critical: '#8b0000', warning: '#ffa500' }],
        },
      },
    },
    idempotency_key: {
      type: 'boolean',
      default: false,
      description: 'Send an Idempotency-Key header derived from the events (source file identity and offset, else a content hash), identical on every retry of the same request, so a receiver can deduplicate.',
      examples: [true],
    },
    rate_limit: {
      type: 'object',
      additionalProperties: false,
      required: ['key_fields'],
      description: 'Alert hygiene: at most one message per key per interval. Repeats are not sent (acknowledged, counted as events_suppressed); the next message for the key says "(N similar alerts suppressed)".',
      examples: [{ key_fields: ['rule', '_.pod'], interval_ms: 600_000 }],
      properties: {
        key_fields: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', minLength: 1 },
          description: 'Field paths whose values form the key (`_.` paths read the derived fields: _.pod, _.binary, _.file, _.title, ...).',
          examples: [['rule', 'output_fields["k8s.pod.name"]'], ['_.policy', '_.pod', '_.file']],
        },
        interval_ms: {
          type: 'integer',
          minimum: 1,
          default: 600_000,
          description: 'Length of the window that starts with a sent message; repeats within it are suppressed.',
          examples: [600_000, 60_000],
        },
        max_keys: {
          type: 'integer',
          minimum: 1,
          maximum: 10_000_000,
          default: 10_000,
          description: 'Keys remembered (least recently seen forgotten first); a forgotten key sends again at once.',
          examples: [10_000],
        },
      },
    },
    signature: {
      type: 'object',
      additionalProperties: false,
      description: 'HMAC signature of the body as sent (after compression), as GitHub does: `<header>: sha256=<hex>`. Set secret or secret_file.',
      examples: [{ secret_file: '/var/run/secrets/tern/webhook_hmac' }],
      properties: {
        ...secretProperties('secret', 'HMAC key', '${WEBHOOK_HMAC_SECRET}'),
        header: { type: 'string', minLength: 1, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", default: 'X-Signature-256', description: 'Header carrying the signature.', examples: ['X-Signature-256', 'X-Hub-Signature-256'] },
        algorithm: { type: 'string', enum: ['sha256', 'sha512'], default: 'sha256', description: 'HMAC hash; also the prefix of the header value.', examples: ['sha256'] },
      },
    },
    batch: batchSchema(WEBHOOK_BATCH_DEFAULTS),
    request: requestSchema(WEBHOOK_REQUEST_DEFAULTS),
    tls: TLS_SCHEMA,
    compression: {
      ...COMPRESSION_SCHEMA,
      default: 'none',
      description: 'Request body compression. none by default: few webhook receivers decode gzip. Not allowed with format slack (Slack gzip support is unconfirmed).',
    },
    healthcheck: {
      ...HEALTHCHECK_SCHEMA,
      default: false,
      description: 'Check at start that the receiver answers HTTP at all (a HEAD request; any status counts). Off by default: webhooks have no health endpoint.',
    },
    proxy: PROXY_SCHEMA,
  },
});

/** What is wrong with a receiver URL (also checked at build time for one read from `url_file`). */
export function urlErrors(value: string, option: string): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [`${option}: not a valid URL`];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return [`${option}: not an http(s) URL`];
  if (url.username !== '' || url.password !== '') return [`${option}: credentials in the URL are not sent; use auth (strategy basic)`];
  return [];
}

function pathErrors(paths: readonly string[] | undefined, option: string): string[] {
  const out: string[] = [];
  for (const [i, p] of (paths ?? []).entries()) {
    try {
      fieldTemplate(p, ALERT_TEMPLATE);
    } catch (err) {
      out.push(`${option}[${i}]: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Syntax problem of a `template` (JSON or text), or undefined. */
function bodyTemplateError(source: string): string | undefined {
  if (!isJsonTemplate(source)) return templateError(source, ALERT_TEMPLATE);
  try {
    compileJsonTemplate(source, ALERT_TEMPLATE);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Cross-field checks; pure. */
export function validate(c: WebhookConfig): string[] {
  const out: string[] = [];
  const { format, body } = c;
  if ((c.url === undefined) === (c.url_file === undefined)) out.push('url: set url or url_file (one of them)');
  if (c.url !== undefined) out.push(...urlErrors(c.url, 'url'));
  if (format === 'template') {
    if (c.template === undefined) out.push('template: required with format template');
    else {
      const e = bodyTemplateError(c.template);
      if (e !== undefined) out.push(`template: ${e}`);
    }
  } else if (c.template !== undefined) out.push(`template: only used with format template (format is ${format})`);
  if (format === 'slack' || format === 'teams') {
    if (body !== 'single') out.push(`body: format ${format} sends one message per request; use body single`);
    if (c.method === 'PUT') out.push(`method: ${format} webhooks take POST`);
  } else if (c.message !== undefined) out.push(`message: only used with format slack or teams (format is ${format})`);
  if (format === 'slack' && c.compression === 'gzip') out.push('compression: Slack is not known to accept gzip bodies; use none');
  for (const key of ['title', 'text'] as const) {
    const t = c.message?.[key];
    if (t !== undefined) {
      const e = templateError(t, ALERT_TEMPLATE);
      if (e !== undefined) out.push(`message.${key}: ${e}`);
    }
  }
  out.push(...pathErrors(c.message?.fields, 'message.fields'));
  if (c.message?.severity_field !== undefined) out.push(...pathErrors([c.message.severity_field], 'message.severity_field'));
  out.push(...pathErrors(c.rate_limit?.key_fields, 'rate_limit.key_fields'));
  if (c.signature !== undefined) {
    const s = c.signature.secret !== undefined && c.signature.secret !== '';
    const f = c.signature.secret_file !== undefined && c.signature.secret_file !== '';
    if (s && f) out.push('signature: set secret or secret_file, not both');
    else if (!s && !f) out.push('signature: needs secret or secret_file');
  }
  out.push(...validateAuth(c.auth), ...validateTls(c.tls));
  return out;
}
