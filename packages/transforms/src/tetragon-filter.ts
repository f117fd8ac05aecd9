/**
 * The `tetragon_filter` transform: Tetragon's own export allow/deny lists, so a user can paste the
 * `exportAllowList` / `exportDenyList` Helm values (or `--export-allowlist` flags) and get the same
 * selection in tern, for example on a node whose Tetragon exports everything.
 *
 * Semantics, as Tetragon implements them (pkg/filters): the filters of a list are ORed, the fields
 * within one filter ANDed, and a field with several values matches when any value does; an event
 * passes when the allow list is empty or one allow filter matches, and no deny filter matches
 * (deny wins). Field by field:
 * - `event_set`: the event type, i.e. the event's top-level key (`process_exec` → PROCESS_EXEC).
 * - `namespace`: exact pod namespace; `""` selects processes outside any pod (host processes).
 * - `namespace_regex`, `pod_regex`, `container_name_regex`: regexes on the pod namespace, pod name,
 *   container name (never match host processes).
 * - `binary_regex`, `parent_binary_regex`, `ancestor_binary_regex`: regexes on the binary of the
 *   process, its parent, any of its ancestors (the `ancestors` list must be in the export).
 * - `arguments_regex`, `parent_arguments_regex`: regexes on the arguments string.
 * - `health_check`: true matches processes (or children of processes) Tetragon flagged as a
 *   possible exec probe (`pod.container.maybe_exec_probe`); false matches the others.
 * - `pid`: process PID; `pid_set`: the PIDs and their descendants (children are learned from exec
 *   events and kept in a bounded cache of 65,536 PIDs; Tetragon's is unbounded, and meant for tests).
 * - `labels`: Kubernetes label selectors on the pod labels; any selector of the list may match.
 * - `policy_names`: the tracing policy of kprobe/tracepoint/uprobe/lsm/usdt events.
 * - `capabilities`: `{effective|permitted|inheritable: {any|all|exactly|none: [CAP_...]}}` on
 *   `process.cap` (needs process credentials in the export).
 * - `container_id`: regex on `process.docker`; `in_init_tree`: `process.in_init_tree`.
 * - `cel_expression`: CEL over the event's top-level fields as Tetragon writes it
 *   (`process_exec.process.binary == "/usr/bin/curl"`); Tetragon's k8s IP/CIDR extensions are not
 *   available.
 * Regexes are RE2 in Tetragon; they are translated once to JavaScript (`(?i)`-style leading flags,
 * `(?P<name>`, `\A`, `\z`, POSIX classes) and compiled at build time. Everything is checked in
 * `validate`, with messages naming the list, the filter and the field.
 *
 * Filters come as a list of objects, or as the string Tetragon takes: JSON objects one after the
 * other (normally one per line); both the proto names (`binary_regex`) and their JSON camelCase
 * (`binaryRegex`) are accepted, as protojson does. A line that was not valid JSON (core hands it on as
 * `{message, error, tags}`) has no Tetragon event type or process: it fails every allow filter
 * except an empty one and matches no deny filter other than `{}` or `cel_expression`, so a deny-only
 * list lets it through, tagged, rather than losing it silently. Counters: `events_dropped`.
 *
 * Parsing and checking the filters: tetragon-filter/parse.ts; compiling them into predicates:
 * tetragon-filter/compile.ts; this file is the transform's definition.
 */
import { optionsSchema, type LogEvent, type TransformDefinition } from '@tern/core';
import { emitKept, readData } from './shared.ts';
import { compileList, compileTetragonFilter, EVENT_TYPES, TYPE_NAMES } from './tetragon-filter/compile.ts';
import { compileRe2, parseFilterList, type TetragonFilterConfig } from './tetragon-filter/parse.ts';

export { compileTetragonFilter, EVENT_TYPES, compileRe2, parseFilterList };
export type { CapFilter, CapFilterSet, TetragonFilterConfig, TetragonFilterSpec } from './tetragon-filter/parse.ts';

const regexList = (description: string, examples: string[][]) => ({
  type: 'array',
  items: { type: 'string' },
  description: `${description} RE2 syntax (translated to JavaScript), unanchored; any of the list may match.`,
  examples,
});

const FILTER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'One Tetragon export filter: its fields are ANDed.',
  properties: {
    event_set: {
      type: 'array',
      items: { type: ['string', 'integer'] },
      description: `Event types: ${[...TYPE_NAMES].join(', ')}.`,
      examples: [['PROCESS_EXEC', 'PROCESS_EXIT']],
    },
    namespace: { type: 'array', items: { type: 'string' }, description: 'Pod namespaces; "" selects processes outside any pod.', examples: [['default'], ['', 'kube-system']] },
    namespace_regex: regexList('Regexes on the pod namespace.', [['^team-']]),
    pod_regex: regexList('Regexes on the pod name.', [['^checkout-api-']]),
    container_name_regex: regexList('Regexes on the container name.', [['^istio-proxy$']]),
    binary_regex: regexList("Regexes on the process's binary.", [['^/usr/bin/curl$', '(?:^|/)nc$']]),
    parent_binary_regex: regexList("Regexes on the parent process's binary.", [['^/usr/bin/containerd-shim']]),
    ancestor_binary_regex: regexList("Regexes on any ancestor's binary (needs ancestors in the export).", [['^/usr/bin/sshd$']]),
    arguments_regex: regexList("Regexes on the process's arguments.", [['^--version$']]),
    parent_arguments_regex: regexList("Regexes on the parent's arguments.", [['-c']]),
    container_id: regexList('Regexes on the container id (`process.docker`).', [['^612176b0767']]),
    health_check: { type: 'boolean', description: 'true: possible Kubernetes exec probes (process or parent); false: everything else.', examples: [true] },
    in_init_tree: { type: 'boolean', description: "Whether the process descends from its container's init process (false: e.g. `kubectl exec`).", examples: [false] },
    pid: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'Process PIDs.', examples: [[1]] },
    pid_set: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'PIDs and their descendants (for tests and debugging).', examples: [[4242]] },
    labels: { type: 'array', items: { type: 'string' }, description: 'Kubernetes label selectors on pod labels; any may match.', examples: [['app=checkout', 'tier in (web, api), !canary']] },
    policy_names: { type: 'array', items: { type: 'string' }, description: 'Tracing policy names (kprobe, tracepoint, uprobe, lsm, usdt events).', examples: [['file-monitoring']] },
    capabilities: {
      type: 'object',
      description: 'Capability sets of the process; each set takes exactly one of any, all, exactly, none.',
      examples: [{ effective: { any: ['CAP_SYS_ADMIN', 'CAP_BPF'] } }],
    },
    cel_expression: {
      type: 'array',
      items: { type: 'string' },
      description: "CEL over the event's top-level fields, as Tetragon evaluates it; any may match.",
      examples: [['process_exec.process.binary == "/usr/bin/curl"']],
    },
  },
};

const listSchema = (which: string) => ({
  description: `${which} filters: a list of filter objects (ORed), or the JSON-lines string Tetragon takes in its Helm values.`,
  oneOf: [{ type: 'string' }, { type: 'array', items: FILTER_SCHEMA }],
});

export const tetragonFilterTransform: TransformDefinition<TetragonFilterConfig> = {
  kind: 'transform',
  type: 'tetragon_filter',
  description: "Tetragon's export allow/deny lists: passes events matching the allow list (or all, if empty) and no deny filter.",
  mutates: false,
  schema: optionsSchema<TetragonFilterConfig>()({
    type: 'object',
    additionalProperties: false,
    properties: {
      allow: {
        ...listSchema('Allow'),
        default: [],
        examples: [[{ event_set: ['PROCESS_EXEC', 'PROCESS_EXIT', 'PROCESS_KPROBE', 'PROCESS_UPROBE', 'PROCESS_TRACEPOINT', 'PROCESS_LSM'] }], '{"namespace":["default"],"event_set":["PROCESS_EXEC"]}'],
      },
      deny: {
        ...listSchema('Deny'),
        default: [],
        examples: ['{"health_check":true}\n{"namespace":["", "cilium", "kube-system"]}', [{ binary_regex: ['^/usr/bin/containerd'] }]],
      },
    },
  }),
  validate(cfg) {
    const errors: string[] = [];
    for (const name of ['allow', 'deny'] as const) {
      try {
        compileList(cfg[name], name);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const pass = compileTetragonFilter(cfg);
    const dropped = ctx.telemetry.counter('events_dropped');
    const decodeErrors = ctx.telemetry.counter('decode_errors');
    return {
      process(events, emit) {
        const kept: LogEvent[] = [];
        for (const ev of events) {
          if (pass(readData(ev, decodeErrors))) kept.push(ev);
        }
        emitKept(events, kept, dropped, emit);
      },
    };
  },
};
