/**
 * Slack and Teams messages from one event: a title, a readable sentence (per event kind, or the
 * user's template), name/value fields and a colour by severity, cut to the receiver's limits so a
 * long command line never turns an alert into a 400 that drops it.
 *
 * Slack (protocol notes §4.2): top-level `text` is the notification fallback; top-level `blocks`
 * holds the title and sentence in one mrkdwn section (≤ 2,900 characters: Slack refuses sections
 * over 3,000 with `invalid_blocks`); the colour bar needs an attachment, so the fields and footer
 * are blocks inside `attachments[0]` with its `color`. All blocks together stay ≤ 50 and all text
 * ≤ 40,000 characters (Slack truncates above that). Values are escaped for mrkdwn (`&`, `<`, `>`);
 * the template's own text is not, so it may use mrkdwn and `<url|links>`.
 *
 * Teams: an Adaptive Card (1.4) in the `{"type":"message","attachments":[...]}` envelope, which
 * both Power Automate "Workflows" webhooks and the retiring Office 365 connectors accept. Chosen
 * over the legacy MessageCard because connectors (the only MessageCard receivers) are being retired.
 * Severity maps to the card's container style (attention, warning, accent, good), not a free colour.
 */
import { compileTemplate, fieldTemplate, type Template, type TemplateInput } from '@tern/core';
import { describe, type Derived } from './describe.ts';
import { ALERT_TEMPLATE, type MessageOptions } from './schema.ts';

/** Slack's limits (§4.2), with a margin under the documented 3,000 for sections. */
export const SLACK_LIMITS = Object.freeze({ sectionText: 2900, fieldText: 2000, fieldsPerSection: 10, blocks: 50, totalText: 40_000, fallback: 2900 });
/** Teams: keep the card well under the ~28 KB message limit. */
export const TEAMS_LIMITS = Object.freeze({ text: 2900, factValue: 1000, facts: 20 });

export const DEFAULT_COLORS: Readonly<Record<string, string>> = Object.freeze({
  emergency: '#8b0000',
  alert: '#c0392b',
  critical: '#e01e5a',
  error: '#e01e5a',
  warning: '#ecb22e',
  notice: '#36c5f0',
  informational: '#2eb67d',
  info: '#2eb67d',
  debug: '#aaaaaa',
});
const UNKNOWN_COLOR = '#999999';

/** Default sentence per event kind (templates over the event and the derived `_` fields). */
export const DEFAULT_TEXTS: Readonly<Record<string, string>> = Object.freeze({
  file: 'Unauthorised access: {{_.file}} {{_.access}} by pod {{_.pod}} (binary {{_.binary}}, node {{_.node}})',
  network: '{{_.function}} to {{_.destination}} by pod {{_.pod}} (binary {{_.binary}}, node {{_.node}})',
  process_kprobe: '{{_.function}} by pod {{_.pod}} (binary {{_.binary}}, node {{_.node}})',
  process_exec: 'Process started in pod {{_.pod}}: {{_.binary}} {{_.arguments}} (node {{_.node}})',
  process_exit: 'Process exited in pod {{_.pod}}: {{_.binary}} {{_.arguments}} (node {{_.node}})',
  falco: '{{output}}',
  k8s_audit: '{{user.username}} {{verb}} {{objectRef.resource}} {{objectRef.namespace}}/{{objectRef.name}} (HTTP {{responseStatus.code}}) from {{sourceIPs}}',
  message: '{{message}}',
  event: '{{_.json}}',
});

/**
 * Default fields of a Falco alert: its rule and priority, and where it happened only as far as the
 * alert says (the namespace alone when there is no pod, as for k8s_audit alerts).
 */
const FALCO_FIELDS: ReadonlyArray<readonly [keyof Derived, string]> = [
  ['rule', 'Rule'],
  ['priority', 'Priority'],
  ['pod', 'Pod'],
  ['namespace', 'Namespace'],
  ['container', 'Container'],
  ['node', 'Node'],
];

/** Default fields shown under the sentence for other events: derived name → label. */
const DEFAULT_FIELDS: ReadonlyArray<readonly [keyof Derived, string]> = [
  ['pod', 'Pod'],
  ['binary', 'Binary'],
  ['arguments', 'Arguments'],
  ['file', 'File'],
  ['destination', 'Destination'],
  ['policy', 'Policy'],
  ['action', 'Action'],
  ['rule', 'Rule'],
  ['user', 'User'],
  ['node', 'Node'],
  ['time', 'Time'],
];

/** Cuts `s` to `max` UTF-16 units with an ellipsis, never splitting a surrogate pair or an `&…;` entity. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = Math.max(0, max - 1);
  const c = s.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  const amp = s.lastIndexOf('&', cut - 1);
  if (amp >= 0 && cut - amp < 8 && s.indexOf(';', amp) >= cut) cut = amp;
  return `${s.slice(0, cut)}…`;
}

/** Escapes a value for Slack mrkdwn (the three characters Slack asks to escape). */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface Formatted {
  readonly title: string;
  readonly text: string;
  readonly severity: string;
  readonly fields: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly footer: string;
}

/** Compiled message options; `format` turns event data into the parts of a message. */
export class MessageFormatter {
  private readonly title: Template | undefined;
  private readonly text: Template | undefined;
  private readonly fields: ReadonlyArray<{ readonly name: string; readonly field: Template }> | undefined;
  private readonly severityField: Template | undefined;
  private readonly defaults = new Map<string, Template>();
  readonly colors: Readonly<Record<string, string>>;
  private readonly custom: ReadonlyArray<readonly [string, string]>;

  /** `custom`: fields added to every alert (shown after the default fields). */
  constructor(opts: MessageOptions = {}, custom: Readonly<Record<string, string>> = {}) {
    this.custom = Object.entries(custom);
    this.title = opts.title !== undefined ? compileTemplate(opts.title, ALERT_TEMPLATE) : undefined;
    this.text = opts.text !== undefined ? compileTemplate(opts.text, ALERT_TEMPLATE) : undefined;
    this.fields = opts.fields?.map((f) => ({ name: f, field: fieldTemplate(f, ALERT_TEMPLATE) }));
    this.severityField = severityField(opts.severity_field);
    this.colors = { ...DEFAULT_COLORS, ...lowerKeys(opts.colors ?? {}) };
    for (const [k, v] of Object.entries(DEFAULT_TEXTS)) this.defaults.set(k, compileTemplate(v, ALERT_TEMPLATE));
  }

  /** The parts of a message; `escape` is applied to substituted values (mrkdwn for Slack). */
  format(data: unknown, suppressed: number, escape?: (s: string) => string): Formatted {
    const d = describe(data, suppressed);
    const scope: TemplateInput = { data, derived: () => d };
    const esc = escape ?? ((s: string) => s);
    const severity = severityOf(data, d, this.severityField);
    const title = this.title !== undefined ? this.title.render(scope, undefined, esc) : esc(d.title);
    let text: string;
    if (this.text !== undefined) text = this.text.render(scope, undefined, esc);
    else {
      const tpl = this.defaults.get(defaultTextKey(d, data)) ?? (this.defaults.get('event') as Template);
      // Empty placeholders of the built-in sentences leave double spaces behind.
      text = tpl.render(scope, undefined, esc).replace(/ {2,}/g, ' ').trim();
    }
    if (d.action !== '' && this.text === undefined) text += ` — action: ${esc(d.action)}`;
    if (d.suppressed_note !== '') text += ` ${d.suppressed_note}`;
    const fields: Array<{ name: string; value: string }> = [];
    if (this.fields !== undefined) {
      for (const f of this.fields) {
        const v = f.field.render(scope);
        if (v !== '') fields.push({ name: esc(f.name), value: esc(v) });
      }
    } else {
      for (const [key, label] of d.kind === 'falco' ? FALCO_FIELDS : DEFAULT_FIELDS) {
        const v = d[key];
        if (typeof v !== 'string' || v === '' || (key === 'pod' && v === 'host' && d.kind === 'event')) continue;
        if (key === 'namespace' && d.pod !== '') continue;
        fields.push({ name: label, value: esc(v) });
      }
      for (const [name, value] of this.custom) fields.push({ name: esc(name), value: esc(value) });
    }
    const footer = [`tern · ${d.kind}`, severity, d.node ? esc(d.node) : '', d.suppressed_note].filter((s) => s !== '').join(' · ');
    return { title, text, severity, fields, footer };
  }

  color(severity: string): string {
    return this.colors[severity] ?? UNKNOWN_COLOR;
  }
}

/** `message.severity_field` compiled as a field (`_.` paths and dotted keys as in templates). */
export function severityField(path: string | undefined): Template | undefined {
  return path === undefined ? undefined : fieldTemplate(path, ALERT_TEMPLATE);
}

/** The severity of an event: the `severity_field` when set and present, else the derived one. */
export function severityOf(data: unknown, d: Derived, field?: Template): string {
  if (field !== undefined) {
    const v = field.render({ data, derived: () => d }).toLowerCase();
    if (v !== '') return v;
  }
  return d.severity;
}

function lowerKeys(o: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) out[k.toLowerCase()] = v;
  return out;
}

function defaultTextKey(d: Derived, data: unknown): string {
  if (d.kind === 'event') return typeof (data as { message?: unknown } | null)?.message === 'string' ? 'message' : 'event';
  if (d.kind.startsWith('process_') && d.kind !== 'process_exec' && d.kind !== 'process_exit') {
    if (d.file !== '') return 'file';
    if (d.destination !== '') return 'network';
    return 'process_kprobe';
  }
  return d.kind;
}

// ---------------------------------------------------------------- Slack

export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly unknown[];
  readonly attachments: readonly unknown[];
}

/** A Slack incoming-webhook payload within Slack's limits. */
export function slackMessage(f: Formatted, color: string): SlackMessage {
  const L = SLACK_LIMITS;
  const headline = truncate(`*${f.title}*\n${f.text}`, L.sectionText);
  const fallback = truncate(`${stripMrkdwnTitle(f.title)}: ${f.text}`, L.fallback);
  let budget = L.totalText - headline.length - fallback.length;
  // Blocks: 1 top-level section, then field sections of up to 10 fields, then a context footer.
  const footer = truncate(f.footer, L.fieldText);
  budget -= footer.length;
  const maxFieldSections = L.blocks - 2;
  const sections: Array<{ type: 'section'; fields: Array<{ type: 'mrkdwn'; text: string }> }> = [];
  let dropped = 0;
  for (const field of f.fields) {
    const t = truncate(`*${field.name}*\n${field.value}`, L.fieldText);
    let last = sections[sections.length - 1];
    if (last === undefined || last.fields.length >= L.fieldsPerSection) {
      if (sections.length >= maxFieldSections) {
        dropped++;
        continue;
      }
      last = { type: 'section', fields: [] };
      sections.push(last);
    }
    if (t.length > budget) {
      dropped++;
      continue;
    }
    budget -= t.length;
    last.fields.push({ type: 'mrkdwn', text: t });
  }
  const inner: unknown[] = sections.filter((s) => s.fields.length > 0);
  const footerText = dropped > 0 ? truncate(`${footer} · ${dropped} more field${dropped === 1 ? '' : 's'} not shown`, L.fieldText) : footer;
  inner.push({ type: 'context', elements: [{ type: 'mrkdwn', text: footerText }] });
  return {
    text: fallback,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: headline } }],
    attachments: [{ color, blocks: inner }],
  };
}

/** The fallback text is plain: a title's `*bold*` markers would show literally in notifications. */
function stripMrkdwnTitle(t: string): string {
  return t.replace(/^\*(.*)\*$/s, '$1');
}

// ---------------------------------------------------------------- Teams

const TEAMS_STYLE: Readonly<Record<string, string>> = {
  emergency: 'attention',
  alert: 'attention',
  critical: 'attention',
  error: 'attention',
  warning: 'warning',
  notice: 'accent',
  informational: 'good',
  info: 'good',
};

/** A Teams message with one Adaptive Card. */
export function teamsMessage(f: Formatted): unknown {
  const L = TEAMS_LIMITS;
  const facts = f.fields.slice(0, L.facts).map((x) => ({ title: truncate(x.name, 200), value: truncate(x.value, L.factValue) }));
  const body: unknown[] = [
    {
      type: 'Container',
      style: TEAMS_STYLE[f.severity] ?? 'emphasis',
      bleed: true,
      items: [{ type: 'TextBlock', text: truncate(f.title, 500), weight: 'Bolder', size: 'Medium', wrap: true }],
    },
    { type: 'TextBlock', text: truncate(f.text, L.text), wrap: true },
  ];
  if (facts.length > 0) body.push({ type: 'FactSet', facts });
  body.push({ type: 'TextBlock', text: truncate(f.footer, 500), isSubtle: true, size: 'Small', wrap: true });
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', msteams: { width: 'Full' }, body },
      },
    ],
  };
}
