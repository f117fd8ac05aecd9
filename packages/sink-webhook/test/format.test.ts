// Slack and Teams formatting: default sentences per event kind (Tetragon file access, exec,
// network, Falco, audit), user templates, severity colours, mrkdwn escaping, and Slack's limits
// (section ≤ 2,900, ≤ 50 blocks, ≤ 40,000 characters of text) with oversized input.
import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import { DEFAULT_COLORS, MessageFormatter, SLACK_LIMITS, describe, escapeMrkdwn, slackMessage, teamsMessage, truncate } from '../src/index.ts';
import { AUDIT, encoder, events, EXEC, FALCO, PASSWD_WRITE, SHADOW_READ, TCP_CONNECT } from './fixtures.ts';

interface Block {
  type: string;
  text?: { text: string };
  fields?: Array<{ text: string }>;
  elements?: Array<{ text: string }>;
}
interface Slack {
  text: string;
  blocks: Block[];
  attachments: Array<{ color: string; blocks: Block[] }>;
}

const slack = (data: unknown, opts: ConstructorParameters<typeof MessageFormatter>[0] = {}, suppressed = 0): Slack => {
  const f = new MessageFormatter(opts);
  const m = f.format(data, suppressed, escapeMrkdwn);
  return slackMessage(m, f.color(m.severity)) as unknown as Slack;
};
const headline = (m: Slack): string => m.blocks[0]?.text?.text ?? '';
const allText = (m: Slack): string[] => {
  const out = [m.text];
  const walk = (bs: Block[]): void => {
    for (const b of bs) {
      if (b.text) out.push(b.text.text);
      for (const f of b.fields ?? []) out.push(f.text);
      for (const e of b.elements ?? []) out.push(e.text);
    }
  };
  walk(m.blocks);
  for (const a of m.attachments) walk(a.blocks);
  return out;
};
const blockCount = (m: Slack): number => m.blocks.length + m.attachments.reduce((n, a) => n + a.blocks.length, 0);

group('derived alert fields', () => {
  it('Tetragon file access: pod, binary, file, read/written, node, severity', () => {
    const d = describe(SHADOW_READ);
    assert.equal(d.kind, 'process_kprobe');
    assert.equal(d.pod, 'default/debug-shell');
    assert.equal(d.binary, '/bin/cat');
    assert.equal(d.file, '/etc/shadow');
    assert.equal(d.access, 'read');
    assert.equal(d.node, 'kind-worker2');
    assert.equal(d.severity, 'warning');
    const w = describe(PASSWD_WRITE);
    assert.equal(w.access, 'written');
    assert.equal(w.action, 'sigkill');
    assert.equal(w.severity, 'critical');
  });
  it('Falco: priority is the severity; pod from output_fields', () => {
    const d = describe(FALCO);
    assert.equal(d.kind, 'falco');
    assert.equal(d.severity, 'warning');
    assert.equal(d.pod, 'default/web-1');
    assert.equal(d.file, '/etc/shadow');
  });
});

group('Slack messages', () => {
  it('Tetragon /etc/shadow read: the readable sentence, coloured as a warning', () => {
    const m = slack(SHADOW_READ);
    assert.equal(m.text, 'Tetragon file-monitoring-filtered: Unauthorised access: /etc/shadow read by pod default/debug-shell (binary /bin/cat, node kind-worker2)');
    assert.equal(headline(m), '*Tetragon file-monitoring-filtered*\nUnauthorised access: /etc/shadow read by pod default/debug-shell (binary /bin/cat, node kind-worker2)');
    assert.equal(m.attachments[0]?.color, DEFAULT_COLORS['warning']);
    const fields = m.attachments[0]?.blocks[0]?.fields?.map((f) => f.text) ?? [];
    assert.ok(fields.includes('*Pod*\ndefault/debug-shell'));
    assert.ok(fields.includes('*File*\n/etc/shadow'));
    assert.equal(m.attachments[0]?.blocks.at(-1)?.type, 'context');
  });
  it('an enforced write is critical (red) and says what the policy did', () => {
    const m = slack(PASSWD_WRITE);
    assert.match(headline(m), /Unauthorised access: \/etc\/passwd written by pod default\/debug-shell \(binary \/bin\/sh, node kind-worker2\) — action: sigkill/);
    assert.equal(m.attachments[0]?.color, DEFAULT_COLORS['critical']);
  });
  it('process_exec, network kprobe, Falco and audit defaults', () => {
    assert.match(headline(slack(EXEC)), /^\*Tetragon process_exec\*\nProcess started in pod payments\/checkout-api-7d9f8b6c5-x2k4p: \/usr\/local\/bin\/node --enable-source-maps dist\/server.js \(node gke-prod-pool-1-8a7f2c3e-k9x2\)$/);
    assert.match(headline(slack(TCP_CONNECT)), /tcp_connect to 169\.254\.169\.254:80 by pod payments\/checkout-api/);
    const f = slack(FALCO);
    assert.equal(headline(f), `*Read sensitive file untrusted*\n${FALCO.output}`);
    assert.equal(f.attachments[0]?.color, DEFAULT_COLORS['warning']);
    assert.match(headline(slack(AUDIT)), /system:serviceaccount:default:reader get secrets payments\/db-password \(HTTP 403\)/);
  });
  it('Falco priorities pick colours; a configured severity field and colour map override', () => {
    assert.equal(slack({ ...FALCO, priority: 'Critical' }).attachments[0]?.color, DEFAULT_COLORS['critical']);
    assert.equal(slack({ ...FALCO, priority: 'Notice' }).attachments[0]?.color, DEFAULT_COLORS['notice']);
    const m = slack({ ...FALCO, labels: { sev: 'HIGH' } }, { severity_field: 'labels.sev', colors: { high: '#123456' } });
    assert.equal(m.attachments[0]?.color, '#123456');
    assert.equal(slack({ ...FALCO, priority: 'Whatever' }).attachments[0]?.color, '#999999');
  });
  it('user templates for title, text and fields; values escaped for mrkdwn, template mrkdwn kept', () => {
    const m = slack(
      { ...FALCO, output_fields: { ...FALCO.output_fields, 'proc.cmdline': 'sh -c "a<b && c>d"' } },
      { title: '{{priority}}: {{rule}}', text: '<https://falco.org|Falco> saw `{{output_fields["proc.cmdline"]}}` in {{_.pod}}', fields: ['rule', 'output_fields.proc.cmdline', 'missing.field'] },
    );
    assert.equal(headline(m), '*Warning: Read sensitive file untrusted*\n<https://falco.org|Falco> saw `sh -c "a&lt;b &amp;&amp; c&gt;d"` in default/web-1');
    assert.deepEqual(m.attachments[0]?.blocks[0]?.fields?.map((f) => f.text), ['*rule*\nRead sensitive file untrusted', '*output_fields.proc.cmdline*\nsh -c "a&lt;b &amp;&amp; c&gt;d"']);
  });
  it('the rate limiter count shows in the sentence and the footer', () => {
    const m = slack(SHADOW_READ, {}, 4);
    assert.match(headline(m), /\(4 similar alerts suppressed\)$/);
    assert.match(m.attachments[0]?.blocks.at(-1)?.elements?.[0]?.text ?? '', /\(4 similar alerts suppressed\)/);
    assert.match(headline(slack(SHADOW_READ, {}, 1)), /\(1 similar alert suppressed\)$/);
  });
});

group('Slack limits', () => {
  it('a huge command line is cut to 2,900 characters in the section and the fallback', () => {
    const big = JSON.parse(JSON.stringify(SHADOW_READ)) as { process_kprobe: { process: { arguments: string } } };
    big.process_kprobe.process.arguments = 'A'.repeat(10_000);
    const m = slack(big, { text: 'ran {{_.arguments}}' });
    assert.equal(headline(m).length, SLACK_LIMITS.sectionText);
    assert.ok(headline(m).endsWith('…'));
    assert.ok(m.text.length <= SLACK_LIMITS.fallback);
    for (const t of allText(m)) assert.ok(t.length <= 3000, `${t.length} chars`);
  });
  it('hundreds of fields stay within 50 blocks and 40,000 characters, and say how many were left out', () => {
    const data: Record<string, string> = {};
    const fields: string[] = [];
    for (let i = 0; i < 700; i++) {
      data[`f${i}`] = 'x'.repeat(300);
      fields.push(`f${i}`);
    }
    const m = slack(data, { fields });
    assert.ok(blockCount(m) <= SLACK_LIMITS.blocks, `${blockCount(m)} blocks`);
    const total = allText(m).reduce((n, t) => n + t.length, 0);
    assert.ok(total <= SLACK_LIMITS.totalText, `${total} chars`);
    assert.ok(total > 30_000, 'the budget is used, not wasted');
    assert.match(m.attachments[0]?.blocks.at(-1)?.elements?.[0]?.text ?? '', /\d+ more fields not shown/);
    for (const b of m.attachments[0]?.blocks ?? []) assert.ok((b.fields?.length ?? 0) <= 10);
  });
  it('many short fields hit the 50-block cap before the text budget', () => {
    const data: Record<string, string> = {};
    const fields: string[] = [];
    for (let i = 0; i < 1000; i++) {
      data[`k${i}`] = 'v';
      fields.push(`k${i}`);
    }
    const m = slack(data, { fields });
    assert.equal(blockCount(m), SLACK_LIMITS.blocks);
    assert.match(m.attachments[0]?.blocks.at(-1)?.elements?.[0]?.text ?? '', /520 more fields not shown/);
  });
  it('truncate never splits a surrogate pair or an escaped entity', () => {
    assert.equal(truncate('abc', 3), 'abc');
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('ab😀cd', 4), 'ab…');
    assert.equal(truncate('ab&amp;cdef', 6), 'ab…');
  });
});

group('Teams messages', () => {
  it('an Adaptive Card in a message envelope, styled by severity', () => {
    const f = new MessageFormatter();
    const card = teamsMessage(f.format(PASSWD_WRITE, 2)) as { type: string; attachments: Array<{ contentType: string; content: { type: string; version: string; body: Array<Record<string, unknown>> } }> };
    assert.equal(card.type, 'message');
    const a = card.attachments[0];
    assert.equal(a?.contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(a?.content.type, 'AdaptiveCard');
    assert.equal(a?.content.body[0]?.['style'], 'attention');
    assert.match(String(a?.content.body[1]?.['text']), /\/etc\/passwd written by pod default\/debug-shell.*\(2 similar alerts suppressed\)/);
    assert.equal(a?.content.body[2]?.['type'], 'FactSet');
  });
});

group('encoder bodies', () => {
  it('json single/array/ndjson: original lines, framing and content types', () => {
    const evs = events([EXEC, FALCO]);
    const single = encoder({ format: 'json', body: 'single' }).encode(evs.slice(0, 1));
    assert.equal(single.body, evs[0]?.raw);
    assert.equal(single.contentType, 'application/json');
    const arr = encoder({ format: 'json', body: 'array' }).encode(evs);
    assert.deepEqual(JSON.parse(arr.body), [EXEC, FALCO]);
    const nd = encoder({ format: 'json', body: 'ndjson' }).encode(evs);
    assert.equal(nd.body, `${evs[0]?.raw}\n${evs[1]?.raw}\n`);
    assert.equal(nd.contentType, 'application/x-ndjson');
  });
  it('template format: JSON templates as JSON (array framing), text templates as text/plain', () => {
    const evs = events([SHADOW_READ, FALCO]);
    const j = encoder({ format: 'template', body: 'array', template: '{"who":"{{_.pod}}","what":"{{_.file}}","sev":"{{_.severity}}"}' }).encode(evs);
    assert.deepEqual(JSON.parse(j.body), [
      { who: 'default/debug-shell', what: '/etc/shadow', sev: 'warning' },
      { who: 'default/web-1', what: '/etc/shadow', sev: 'warning' },
    ]);
    const t = encoder({ format: 'template', body: 'single', template: '{{_.severity}}: {{_.binary}} {{_.access | "touched"}} {{_.file}} on {{_.node}}' }).encode(evs.slice(0, 1));
    assert.equal(t.body, 'warning: /bin/cat read /etc/shadow on kind-worker2');
    assert.equal(t.contentType, 'text/plain; charset=utf-8');
  });
  it('a line that is not JSON is still sent (as {message}) in Slack format', () => {
    const ev = events([{}])[0];
    if (ev === undefined) throw new Error('fixture');
    ev.raw = 'not json at all';
    const r = encoder({ format: 'slack', body: 'single' }).encode([ev]);
    assert.match(JSON.parse(r.body).text as string, /not json at all/);
  });
  it('Idempotency-Key: stable for the same events, different for others', () => {
    const enc = encoder({ format: 'json', body: 'array', idempotency_key: true });
    const evs = events([EXEC, FALCO, AUDIT]);
    const a = enc.encode(evs).idempotencyKey;
    assert.match(a ?? '', /^[0-9a-f]{32}$/);
    assert.equal(enc.encode(events([EXEC, FALCO, AUDIT])).idempotencyKey, a);
    assert.notEqual(enc.encode(evs.slice(1)).idempotencyKey, a);
    assert.equal(encoder({ format: 'json', body: 'array' }).encode(evs).idempotencyKey, undefined);
  });
});
