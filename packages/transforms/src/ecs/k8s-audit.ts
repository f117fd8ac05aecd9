/**
 * Kubernetes API-server audit events (`audit.k8s.io/v1` `Event`) → ECS, following Elastic's
 * `kubernetes.audit_logs` pipeline (see ECS.md): the whole event stays under `kubernetes.audit`
 * (minus the request/response object metadata, with dots in annotation keys turned into `_`, and
 * empty values pruned), and a handful of fields are copied to ECS. `event.outcome` comes from the
 * authorization decision annotation, as in Elastic; where the pipeline is silent (category, type,
 * HTTP status, URL, `@timestamp`, outcome without a decision) we add README's proposals.
 *
 * Envelopes are unwrapped as Elastic's newest pipeline does: AKS diagnostic records
 * (`properties.log`, a JSON string or an object) and GKE Cloud Audit Log records (`protoPayload`,
 * renamed into the audit Event's own field names).
 *
 * `requestObject`/`responseObject` (and GKE's `protoPayload.request`/`response`) are whole
 * Kubernetes objects of any kind: with `vendorFields: flat` (default) they are kept as JSON text,
 * because a Pod's `status` is an object where a Status's is a string, and one index cannot map both.
 */
import { formatIsoMs, parseRfc3339 } from '@tern/core';
import { appendTo, carryTagsAndTern, dedotKeys, ECS_VERSION, EcsShapeError, IAM_RESOURCES, isObj, num, pruneEmpty, put, putObj, str, validIp, VERB_TYPE } from './common.ts';
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

/** GKE Cloud Audit Log keys renamed to the audit Event's names (Elastic's renames). */
const GKE_RENAMES: Readonly<Record<string, string>> = { insertId: 'auditID', receiveTimestamp: 'requestReceivedTimestamp', timestamp: 'stageTimestamp', labels: 'annotations' };
/** Keys whose values are whole Kubernetes objects (free-form). */
const OBJECT_KEYS = new Set(['requestObject', 'responseObject']);

/** Maps one audit event. Throws EcsShapeError when the document is not an audit `Event`. */
export function mapK8sAudit(input: Doc, ctx?: EcsMapContext): Doc {
  const flat = ctx?.vendorFields !== 'nested';
  const dedot = ctx?.dedotLabels !== false;
  let audit = input;
  let aksMeta: Doc | undefined;
  let gke: Doc | undefined;
  const props = input.properties;
  if (isObj(input.protoPayload)) {
    gke = input.protoPayload;
    audit = fromGke(input, gke);
  } else if (isObj(props) && props.log !== undefined) {
    const log = typeof props.log === 'string' ? safeParse(props.log) : props.log;
    if (!isObj(log)) throw new EcsShapeError('AKS properties.log is not a JSON object');
    audit = log;
    aksMeta = {};
    for (const [from, to] of AKS_META) put(aksMeta, to, input[from]);
    for (const [from, to] of AKS_PROPS) put(aksMeta, to, props[from]);
  }
  // GKE records carry no verb: the method name ends with it (`io.k8s.core.v1.pods.create`).
  const method = gke !== undefined ? str(gke.methodName) : undefined;
  const verb = str(audit.verb) ?? (method !== undefined ? method.slice(method.lastIndexOf('.') + 1) : undefined);
  if (gke === undefined && (verb === undefined || (audit.auditID === undefined && audit.kind !== 'Event'))) throw new EcsShapeError('not an audit.k8s.io Event (no verb/auditID)');

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
  const gkeResource = gke !== undefined && method !== undefined ? gkeResourceOf(method) : undefined;
  const iamResource = resourceType ?? gkeResource;
  event.category = iamResource !== undefined && IAM_RESOURCES.has(iamResource) ? ['api', 'iam'] : ['api'];
  event.type = [(verb !== undefined ? VERB_TYPE[verb] : undefined) ?? 'info'];
  put(event, 'action', verb);
  if (decision === 'allow') event.outcome = 'success';
  else if (decision === 'forbid') event.outcome = 'failure';
  else if (code !== undefined && gke !== undefined) event.outcome = code === 0 ? 'success' : 'failure'; // a gRPC code
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
  if (gke !== undefined) mapGkeCaller(gke, out, related);
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
  if (gke !== undefined) mapGkeOrchestrator(input, gke, orch);
  out.orchestrator = orch;
  if (gke !== undefined) mapGkeCloud(input, out);
  else if (aksMeta !== undefined) out.cloud = { provider: 'azure' };
  if (code !== undefined && gke === undefined) out.http = { response: { status_code: code } };
  const uri = str(audit.requestURI);
  if (uri !== undefined) out.url = { original: uri };

  // kubernetes.audit: the event itself, with Elastic's three edits, then the empty-value cleanup.
  const ka: Doc = {};
  for (const k in audit) {
    const v = audit[k];
    if (OBJECT_KEYS.has(k) && isObj(v)) {
      let o: Doc = v;
      if (v.metadata !== undefined) {
        o = {};
        for (const k2 in v) if (k2 !== 'metadata') o[k2] = v[k2];
      }
      ka[k] = flat ? JSON.stringify(o) : o;
    } else if (k === 'protoPayload' && flat && isObj(v) && (isObj(v.request) || isObj(v.response))) {
      const o: Doc = { ...v };
      if (isObj(v.request)) o.request = JSON.stringify(v.request);
      if (isObj(v.response)) o.response = JSON.stringify(v.response);
      ka[k] = o;
    } else if (gke !== undefined && k === 'resource' && isObj(v) && isObj(v.labels) && v.labels.location !== undefined) {
      // Moved to cloud.region: a field named `location` is a geo_point to Elasticsearch's ECS dynamic templates.
      const { location: _moved, ...labels } = v.labels;
      ka[k] = { ...v, labels };
    } else if (dedot && (k === 'user' || k === 'impersonatedUser') && isObj(v) && isObj(v.extra)) {
      ka[k] = { ...v, extra: dedotKeys(v.extra) };
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
  return carryTagsAndTern(input, out);
}

/** The audit Event view of a GKE Cloud Audit Log record: Elastic's renames, the status code moved to `responseStatus`. */
function fromGke(input: Doc, proto: Doc): Doc {
  const audit: Doc = {};
  for (const k in input) {
    if (k === '@timestamp' || k === 'tags' || k === 'tern') continue;
    const to = GKE_RENAMES[k] ?? k;
    if (k === 'protoPayload' && isObj(proto.status)) {
      const { status, ...rest } = proto;
      audit.protoPayload = rest;
      if (isObj(status) && status.code !== undefined) audit.responseStatus = { code: status.code };
    } else audit[to] = input[k];
  }
  return audit;
}

/** `io.k8s.core.v1.pods.create` → `pods` (the plural resource before the verb), for the IAM category. */
function gkeResourceOf(method: string): string | undefined {
  const parts = method.split('.');
  return parts.length >= 4 ? parts[parts.length - 2] : undefined;
}

/** Additions for GKE (Elastic maps none): the caller as user, source and user agent. */
function mapGkeCaller(proto: Doc, out: Doc, related: Doc): void {
  const authn = isObj(proto.authenticationInfo) ? proto.authenticationInfo : undefined;
  const principal = authn !== undefined ? str(authn.principalEmail) : undefined;
  if (principal !== undefined) {
    out.user = { name: principal };
    appendTo(related, 'user', principal);
  }
  const meta = isObj(proto.requestMetadata) ? proto.requestMetadata : undefined;
  if (meta === undefined) return;
  const ip = validIp(meta.callerIp);
  if (ip !== undefined) {
    out.source = { ip: [ip] };
    out.client = { ip: [ip] };
    appendTo(related, 'ip', ip);
  }
  const ua = str(meta.callerSuppliedUserAgent);
  if (ua !== undefined) out.user_agent = { original: ua };
}

/** Elastic's GKE orchestrator fields: resource name and type, cluster name and project. */
function mapGkeOrchestrator(input: Doc, proto: Doc, orch: Doc): void {
  const res = isObj(input.resource) ? input.resource : undefined;
  const resource: Doc = isObj(orch.resource) ? orch.resource : {};
  if (resource.name === undefined) put(resource, 'name', str(proto.resourceName));
  if (res !== undefined) put(resource, 'type', str(res.type));
  putObj(orch, 'resource', resource);
  const labels = res !== undefined && isObj(res.labels) ? res.labels : undefined;
  if (labels !== undefined) {
    const cluster: Doc = {};
    put(cluster, 'name', str(labels.cluster_name));
    put(cluster, 'id', str(labels.project_id));
    putObj(orch, 'cluster', cluster);
  }
}

/** Additions for GKE: the cloud the cluster runs in (Elastic sets `cloud.provider` from the agent's input instead). */
function mapGkeCloud(input: Doc, out: Doc): void {
  const cloud: Doc = { provider: 'gcp' };
  const labels = isObj(input.resource) && isObj(input.resource.labels) ? input.resource.labels : undefined;
  if (labels !== undefined) {
    put(cloud, 'region', str(labels.location));
    const project = str(labels.project_id);
    if (project !== undefined) cloud.project = { id: project };
  }
  out.cloud = cloud;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
