/**
 * Zeek JSON logs (conn, dns, http) → ECS, following Elastic's `zeek.connection`, `zeek.dns` and
 * `zeek.http` pipelines (see ECS.md): the connection tuple goes to `source`/`destination`, the
 * Community ID is computed, `ts` becomes `@timestamp` and is removed, and what the pipelines do not
 * move stays under `zeek.<stream>`. User agents are parsed (`user_agent.*`) and DNS names split on
 * the public suffix list (`dns.question.registered_domain`…) as Elastic's pipelines do; GeoIP/ASN
 * needs a database the user supplies (the `geoip` transform, after this one).
 *
 * Zeek writes the tuple as literal dotted keys (`"id.orig_h"`); a nested `id` object is accepted too.
 */
import { formatIsoMs, parseTime } from '@tern/core';
import { splitDomain } from '../domain.ts';
import { createUserAgentParser, userAgentDoc } from '../user-agent.ts';
import { communityId, protocolNumber } from './community-id.ts';
import { appendTo, EcsShapeError, ECS_VERSION, isObj, keyword, num, put, putObj, str, validIp } from './common.ts';
import type { Doc, EcsMapContext, ZeekLog } from './common.ts';

const CONN_STATE: Record<string, [string, string[]]> = {
  S0: ['Connection attempt seen, no reply.', ['connection', 'start']],
  S1: ['Connection established, not terminated.', ['connection', 'start']],
  SF: ['Normal establishment and termination.', ['connection', 'start', 'end']],
  REJ: ['Connection attempt rejected.', ['connection', 'start', 'denied']],
  S2: ['Connection established and close attempt by originator seen (but no reply from responder).', ['connection', 'info']],
  S3: ['Connection established and close attempt by responder seen (but no reply from originator).', ['connection', 'info']],
  RSTO: ['Connection established, originator aborted (sent a RST).', ['connection', 'info']],
  RSTR: ['Responder sent a RST.', ['connection', 'info']],
  RSTOS0: ['Originator sent a SYN followed by a RST, we never saw a SYN-ACK from the responder.', ['connection', 'info']],
  RSTRH: ['Responder sent a SYN ACK followed by a RST, we never saw a SYN from the (purported) originator.', ['connection', 'info']],
  SH: ["Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder (hence the connection was 'half' open).", ['connection', 'info']],
  SHR: ['Responder sent a SYN ACK followed by a FIN, we never saw a SYN from the originator.', ['connection', 'info']],
  OTH: ["No SYN seen, just midstream traffic (a 'partial connection' that was not later closed).", ['connection', 'info']],
};

const QCLASS: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };

/** Keys handled for every stream (tuple, uid, ts) and therefore not kept under `zeek.<stream>`. */
// `tags` is not here: in Zeek logs (http, notice, ...) it is Zeek's own field and stays under zeek.<stream>.
const COMMON = new Set(['ts', 'uid', 'id', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', '@timestamp', 'tern']);
const CONN_REMOVED = new Set(['proto', 'service', 'duration', 'orig_ip_bytes', 'resp_ip_bytes', 'orig_pkts', 'resp_pkts', 'orig_l2_addr', 'resp_l2_addr', 'conn_state', 'orig_bytes', 'resp_bytes', 'tunnel_parents']);
const DNS_REMOVED = new Set(['proto', 'Z', 'auth', 'addl']);
const HTTP_REMOVED = new Set(['method', 'referrer', 'status_code', 'version', 'request_body_len', 'response_body_len', 'uri', 'host', 'username', 'password', 'user_agent']);
// Characters java.net.URI refuses unescaped, which make Elastic's uri_parts fail.
const BAD_URI_CHAR = /[\s"<>\\^`{|}]/;
const URI_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;
const AUTHORITY_END = /[/?#]/;

// One cache per process for the profile, as Elastic's processor keeps one per node.
const parseUa = createUserAgentParser(1000);

const DATASET: Record<ZeekLog, string> = { conn: 'zeek.connection', dns: 'zeek.dns', http: 'zeek.http' };
const NAMESPACE: Record<ZeekLog, string> = { conn: 'connection', dns: 'dns', http: 'http' };

/** Maps one Zeek log line. `ctx.zeekLog` selects the stream (default `conn`). */
export function mapZeek(input: Doc, ctx?: EcsMapContext): Doc {
  const log: ZeekLog = ctx?.zeekLog ?? 'conn';
  const tsv = input.ts;
  // Elastic drops documents without ts; we never drop, so this is a mapping failure instead.
  if (tsv === undefined || tsv === null) throw new EcsShapeError('no ts field');
  const t = parseTime(tsv);
  if (t === undefined) throw new EcsShapeError(`ts is not a UNIX or ISO 8601 time: ${String(tsv).slice(0, 64)}`);

  const id = isObj(input.id) ? input.id : undefined;
  const origH = str(input['id.orig_h'] ?? id?.orig_h);
  const origP = num(input['id.orig_p'] ?? id?.orig_p);
  const respH = str(input['id.resp_h'] ?? id?.resp_h);
  const respP = num(input['id.resp_p'] ?? id?.resp_p);
  const uid = str(input.uid);

  const out: Doc = { '@timestamp': formatIsoMs(t) };
  out.ecs = { version: ECS_VERSION };
  const event: Doc = { kind: 'event' };
  out.event = event;
  const created = input['@timestamp'] ?? ctx?.ingestTime;
  if (created !== undefined) event.created = created;
  put(event, 'id', uid);
  const source: Doc = {};
  const destination: Doc = {};
  const network: Doc = {};
  const tags: string[] = [];
  const ns: Doc = {};
  const removed = log === 'conn' ? CONN_REMOVED : log === 'dns' ? DNS_REMOVED : HTTP_REMOVED;
  for (const k in input) if (!COMMON.has(k) && !removed.has(k)) ns[k] = input[k];

  if (origH !== undefined) {
    source.address = origH;
    source.ip = origH;
  }
  if (respH !== undefined) {
    destination.address = respH;
    destination.ip = respH;
  }
  const transport = log === 'http' ? 'tcp' : str(input.proto);
  const icmp = transport === 'icmp' || transport === 'icmp6' || transport === 'ipv6-icmp';
  if (icmp && log === 'conn') {
    const ic: Doc = {};
    put(ic, 'type', origP);
    put(ic, 'code', respP);
    putObj(ns, 'icmp', ic);
  } else {
    put(source, 'port', origP);
    put(destination, 'port', respP);
  }
  put(network, 'transport', transport);

  if (log === 'conn') mapConn(input, event, source, destination, network, ns, tags);
  else if (log === 'dns') mapDns(input, out, event, network, ns);
  else mapHttp(input, out, event, ns, tags);

  // Community ID, as Elastic's community_id processor (ICMP: type/code in place of ports).
  if (origH !== undefined && respH !== undefined && transport !== undefined) {
    const proto = protocolNumber(transport);
    if (proto !== undefined) {
      const cid = communityId(origH, respH, proto, origP ?? 0, respP ?? 0);
      if (cid !== undefined) network.community_id = cid;
    }
  }
  putObj(out, 'source', source);
  putObj(out, 'destination', destination);
  putObj(out, 'network', network);
  const related = (out.related as Doc | undefined) ?? {};
  if (validIp(origH) !== undefined) appendTo(related, 'ip', origH);
  if (validIp(respH) !== undefined) appendTo(related, 'ip', respH);
  putObj(out, 'related', related);
  if (tags.length) out.tags = tags;

  event.module = 'zeek';
  event.dataset = DATASET[log];
  const zeek: Doc = {};
  put(zeek, 'session_id', uid);
  zeek[NAMESPACE[log]] = ns;
  out.zeek = zeek;
  if (input.tern !== undefined) out.tern = input.tern;
  return out;
}

function mapConn(input: Doc, event: Doc, source: Doc, destination: Doc, network: Doc, ns: Doc, tags: string[]): void {
  event.category = ['network'];
  put(network, 'protocol', str(input.service));
  const duration = num(input.duration);
  if (duration !== undefined) event.duration = Math.round(duration * 1e9);
  const sb = num(input.orig_ip_bytes);
  const db = num(input.resp_ip_bytes);
  const sp = num(input.orig_pkts);
  const dp = num(input.resp_pkts);
  put(source, 'bytes', sb);
  put(destination, 'bytes', db);
  put(source, 'packets', sp);
  put(destination, 'packets', dp);
  put(source, 'mac', str(input.orig_l2_addr));
  put(destination, 'mac', str(input.resp_l2_addr));
  if (sb !== undefined && db !== undefined) network.bytes = sb + db;
  if (sp !== undefined && dp !== undefined) network.packets = sp + dp;
  const lo = input.local_orig;
  const lr = input.local_resp;
  if (lo !== undefined && lo !== null && !tags.includes('local_orig')) tags.push('local_orig');
  if (lr !== undefined && lr !== null && !tags.includes('local_resp')) tags.push('local_resp');
  if (typeof lo === 'boolean' && typeof lr === 'boolean') network.direction = lo ? (lr ? 'internal' : 'outbound') : lr ? 'inbound' : 'external';
  const state = str(input.conn_state);
  if (state !== undefined) {
    ns.state = state;
    const info = CONN_STATE[state];
    if (info !== undefined) {
      ns.state_message = info[0];
      event.type = info[1].slice();
    }
  }
}

function mapDns(input: Doc, out: Doc, event: Doc, network: Doc, ns: Doc): void {
  event.category = ['network'];
  event.type = ['connection', 'protocol', 'info'];
  network.protocol = 'dns';
  const dns: Doc = {};
  const transId = keyword(input.trans_id);
  if (transId !== undefined) {
    dns.id = transId;
    ns.trans_id = transId;
  }
  const question: Doc = {};
  // Deviation: Elastic drops the name when it cannot be split (printer.local); we always keep it.
  const query = str(input.query);
  put(question, 'name', query);
  const parts = query !== undefined ? splitDomain(query) : undefined;
  if (parts !== undefined) Object.assign(question, parts);
  const qclass = num(input.qclass);
  if (qclass !== undefined) put(question, 'class', QCLASS[qclass]);
  put(question, 'type', str(input.qtype_name));
  putObj(dns, 'question', question);
  const rcode = str(input.rcode_name);
  put(dns, 'response_code', rcode);
  dns.type = input.rcode_name !== undefined && input.rcode_name !== null ? 'answer' : 'query';
  const flags: string[] = [];
  for (const fl of ['AA', 'TC', 'RD', 'RA']) if (input[fl] === true) flags.push(fl);
  if (flags.length) dns.header_flags = flags;
  const answers = input.answers;
  const ttls = input.TTLs;
  if (Array.isArray(answers) && Array.isArray(ttls) && answers.length > 0 && answers.length === ttls.length) {
    const list: Doc[] = [];
    const ips: string[] = [];
    for (let i = 0; i < answers.length; i++) {
      const data = answers[i];
      list.push({ data, ttl: Math.trunc(Number(ttls[i])) });
      const ip = validIp(data);
      if (ip !== undefined) ips.push(ip);
    }
    dns.answers = list;
    dns.resolved_ip = ips;
  }
  const rtt = num(input.rtt);
  if (rtt !== undefined) event.duration = rtt * 1e9;
  event.outcome = 'success';
  out.dns = dns;
}

function mapHttp(input: Doc, out: Doc, event: Doc, _ns: Doc, tags: string[]): void {
  event.category = ['network', 'web'];
  event.type = ['connection', 'protocol', 'info'];
  const http: Doc = {};
  const request: Doc = {};
  const response: Doc = {};
  const method = str(input.method);
  put(request, 'method', method);
  put(event, 'action', method);
  put(request, 'referrer', str(input.referrer));
  const reqLen = num(input.request_body_len);
  if (reqLen !== undefined) request.body = { bytes: reqLen };
  const status = num(input.status_code);
  if (status !== undefined) {
    response.status_code = status;
    event.outcome = status < 400 ? 'success' : 'failure';
  }
  const respLen = num(input.response_body_len);
  if (respLen !== undefined) response.body = { bytes: respLen };
  putObj(http, 'request', request);
  putObj(http, 'response', response);
  put(http, 'version', keyword(input.version));
  putObj(out, 'http', http);

  const url: Doc = {};
  const uri = str(input.uri);
  if (uri !== undefined && !parseUri(uri, url)) {
    url.original = uri;
    if (!tags.includes('_zeek_http_url_parse_failure')) tags.push('_zeek_http_url_parse_failure');
  }
  put(url, 'domain', str(input.host));
  const username = str(input.username);
  put(url, 'username', username);
  put(url, 'password', str(input.password));
  putObj(out, 'url', url);
  if (username !== undefined) {
    out.user = { name: username };
    out.related = { user: [username] };
  }
  const ua = str(input.user_agent);
  if (ua !== undefined) out.user_agent = userAgentDoc(parseUa(ua));
}

/**
 * Fills url.{original,scheme,domain,port,path,query,fragment,extension} like Elastic's `uri_parts`
 * for the two shapes Zeek logs: origin-form `/path?query` and absolute-form (proxy) URIs.
 */
function parseUri(uri: string, url: Doc): boolean {
  if (BAD_URI_CHAR.test(uri)) return false;
  url.original = uri;
  let rest = uri;
  const scheme = URI_SCHEME.exec(rest);
  if (scheme !== null) {
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      delete url.original;
      return false;
    }
    url.scheme = parsed.protocol.slice(0, -1);
    url.domain = parsed.hostname;
    if (parsed.port !== '') url.port = Number(parsed.port);
    if (parsed.username !== '') url.username = decodeURIComponent(parsed.username);
    if (parsed.password !== '') url.password = decodeURIComponent(parsed.password);
    rest = uri.slice(scheme[0].length);
    const slash = rest.search(AUTHORITY_END);
    rest = slash === -1 ? '' : rest.slice(slash);
  }
  const hash = rest.indexOf('#');
  if (hash !== -1) {
    url.fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf('?');
  if (q !== -1) {
    url.query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (rest !== '') {
    url.path = rest;
    const lastSeg = rest.slice(rest.lastIndexOf('/') + 1);
    const dot = lastSeg.lastIndexOf('.');
    if (dot !== -1 && dot < lastSeg.length - 1) url.extension = lastSeg.slice(dot + 1);
  }
  return true;
}
