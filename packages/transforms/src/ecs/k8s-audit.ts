/**
 * Kubernetes API-server audit events (`audit.k8s.io/v1` `Event`) → ECS, following Elastic's
 * `kubernetes.audit_logs` pipeline (see ECS.md): the whole event stays under `kubernetes.audit`
 * (minus the request/response object metadata, with dots in annotation keys turned into `_`, and
 * empty values pruned), and a handful of fields are copied to ECS. `event.outcome` comes from the
 * authorization decision annotation, as in Elastic; where the pipeline is silent (category, type,
 * HTTP status, URL, `@timestamp`, outcome without a decision) we add README's proposals.
 *
 * AKS diagnostic envelopes (`properties.log`) are unwrapped like Elastic's newest pipeline does;
 * GKE Cloud Audit Log entries are not supported (they are tagged as mapping failures).
 */
import { formatIsoMs, parseRfc3339 } from '../timestamp-parse.ts';
import { appendTo, EcsShapeError, ECS_VERSION, IAM_RESOURCES, isObj, num, pruneEmpty, put, putObj, str, validIp, VERB_TYPE } from './common.ts';
import type { Doc, EcsMapContext } from './common.ts';

const AKS_META: readonly [string, string][] = [
  ['category', 'category'],
  ['operationName', 'operation_name'],
  ['resourceId', 'resource_id'],
  ['serviceBuild', 'service_build'],
  ['time', 'time'],
];
const AKS_PROPS: readonly [string, string][] = [
  ['containerID', 'container_id'],
  ['pod', 'pod'],
  ['stream', 'stream'],
];

/** Maps one audit event. Throws EcsShapeError when the document is not an audit `Event`. */
export function mapK8sAudit(input: Doc, _ctx?: EcsMapContext): Doc {
  let audit = input;
  let aksMeta: Doc | undefined;
  const props = input.properties;
  if (isObj(props) && props.log !== undefined) {
    const log = typeof props.log === 'string' ? safeParse(props.log) : props.log;
    if (!isObj(log)) throw new EcsShapeError('AKS properties.log is not a JSON object');
    audit = log;
    aksMeta = {};
    for (const [from, to] of AKS_META) put(aksMeta, to, input[from]);
    for (const [from, to] of AKS_PROPS) put(aksMeta, to, props[from]);
  }
  const verb = str(audit.verb);
  if (verb === undefined || (audit.auditID === undefined && audit.kind !== 'Event')) throw new EcsShapeError('not an audit.k8s.io Event (no verb/auditID)');

  const out: Doc = {};
  const t = parseRfc3339(typeof audit.stageTimestamp === 'string' ? audit.stageTimestamp : '') ?? parseRfc3339(typeof audit.requestReceivedTimestamp === 'string' ? audit.requestReceivedTimestamp : '');
  if (t !== undefined) out['@timestamp'] = formatIsoMs(t);
  else if (input['@timestamp'] !== undefined) out['@timestamp'] = input['@timestamp'];
  out.ecs = { version: ECS_VERSION };

  const objectRef = isObj(audit.objectRef) ? audit.objectRef : undefined;
  const resourceType = objectRef !== undefined ? str(objectRef.resource) : undefined;
  const responseStatus = isObj(audit.responseStatus) ? audit.responseStatus : undefined;
  const code = responseStatus !== undefined ? num(responseStatus.code) : undefined;
  const annotations = isObj(audit.annotations) ? audit.annotations : undefined;
  const decision = annotations !== undefined ? annotations['authorization.k8s.io/decision'] : undefined;

  const event: Doc = { kind: 'event' };
  event.category = resourceType !== undefined && IAM_RESOURCES.has(resourceType) ? ['api', 'iam'] : ['api'];
  event.type = [VERB_TYPE[verb] ?? 'info'];
  event.action = verb;
  if (decision === 'allow') event.outcome = 'success';
  else if (decision === 'forbid') event.outcome = 'failure';
  else if (code !== undefined) event.outcome = code >= 400 ? 'failure' : 'success';
  event.module = 'kubernetes';
  event.dataset = 'kubernetes.audit_logs';
  out.event = event;

  const related: Doc = {};
  const u = audit.user;
  if (isObj(u)) {
    const user: Doc = {};
    const name = str(u.username);
    const id = str(u.uid);
    put(user, 'name', name);
    put(user, 'id', id);
    putObj(out, 'user', user);
    if (id !== undefined) appendTo(related, 'user', id);
    if (name !== undefined) appendTo(related, 'user', name);
  }
  const ua = str(audit.userAgent);
  if (ua !== undefined) out.user_agent = { original: ua };
  if (Array.isArray(audit.sourceIPs)) {
    const ips: string[] = [];
    for (const ip of audit.sourceIPs) {
      const v = validIp(ip);
      if (v !== undefined) {
        ips.push(v);
        appendTo(related, 'ip', v);
      }
    }
    if (ips.length) {
      out.source = { ip: ips };
      out.client = { ip: ips.slice() };
    }
  }
  putObj(out, 'related', related);

  const orch: Doc = { type: 'kubernetes' };
  put(orch, 'api_version', str(audit.apiVersion));
  if (objectRef !== undefined) {
    put(orch, 'namespace', str(objectRef.namespace));
    const resource: Doc = {};
    put(resource, 'type', resourceType);
    put(resource, 'name', str(objectRef.name));
    putObj(orch, 'resource', resource);
  }
  out.orchestrator = orch;
  if (code !== undefined) out.http = { response: { status_code: code } };
  const uri = str(audit.requestURI);
  if (uri !== undefined) out.url = { original: uri };

  // kubernetes.audit: the event itself, with Elastic's three edits, then the empty-value cleanup.
  const ka: Doc = {};
  for (const k in audit) {
    const v = audit[k];
    if ((k === 'requestObject' || k === 'responseObject') && isObj(v) && v.metadata !== undefined) {
      const o: Doc = {};
      for (const k2 in v) if (k2 !== 'metadata') o[k2] = v[k2];
      ka[k] = o;
    } else if (k === 'annotations' && annotations !== undefined) {
      const o: Doc = {};
      for (const k2 in annotations) o[k2.replaceAll('.', '_')] = annotations[k2];
      ka[k] = o;
    } else if (audit === input && (k === '@timestamp' || k === 'tags' || k === 'tern')) {
      continue; // added by an earlier stage of our pipeline, carried below
    } else ka[k] = v;
  }
  if (aksMeta !== undefined) ka.aks_metadata = aksMeta;
  const cleaned = pruneEmpty(ka);
  out.kubernetes = { audit: cleaned ?? {} };
  if (input.tags !== undefined) out.tags = Array.isArray(input.tags) ? input.tags.slice() : [input.tags];
  if (input.tern !== undefined) out.tern = input.tern;
  return out;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
