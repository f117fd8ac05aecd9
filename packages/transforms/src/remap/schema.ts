/**
 * What `remap` is configured with: the operation types (YAML keys) and their JSON Schemas, one per
 * operation type. remap.ts picks the branch by `if type == …` (not `oneOf`), so ajv fills each
 * operation's defaults: the compiler receives complete operations and defaults nothing itself.
 */
import { JSON_FAILURE_TAG } from '../shared.ts';

/** `if:`: a CEL condition over `event`; the operation runs only when it is true. */
export interface Conditional {
  if?: string;
}

export type RemapOperation = Conditional &
  (
    | { type: 'set'; field: string; value: unknown }
    | { type: 'append'; field: string; value: unknown; allow_duplicates: boolean }
    | { type: 'copy'; from: string; to: string }
    | { type: 'rename'; from: string; to: string }
    | { type: 'rename_keys'; field?: string; pattern: string; replacement: string; recursive: boolean }
    | { type: 'remove'; fields: string[] }
    | { type: 'keep_only'; fields: string[] }
    | { type: 'dedot'; field?: string; separator: string }
    | { type: 'parse_json'; field: string; target?: string; failure_tag: string }
    | { type: 'parse_regex'; field: string; pattern: string; target?: string; failure_tag: string }
    | { type: 'parse_key_value'; field: string; target?: string; field_split: string; value_split: string; failure_tag: string }
    | { type: 'drop_empty'; field?: string }
  );

export interface RemapConfig {
  operations: RemapOperation[];
}

export const DEFAULT_JSON_FAILURE_TAG = JSON_FAILURE_TAG;
export const DEFAULT_REGEX_FAILURE_TAG = '_regex_parse_failure';
export const DEFAULT_KV_FAILURE_TAG = '_kv_parse_failure';
// Defaults of options inside an operation (the schema's `default`s, filled by ajv).
export const DEFAULT_DEDOT_SEPARATOR = '_';
export const DEFAULT_FIELD_SPLIT = ' ';
export const DEFAULT_VALUE_SPLIT = '=';

const pathProp = (description: string, examples: string[]) => ({ type: 'string', minLength: 1, description, examples });
const pathList = (description: string, examples: string[][]) => ({ type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, description, examples });
const IF_SCHEMA = {
  type: 'string',
  minLength: 1,
  description: 'CEL condition over `event` (as in `filter`); the operation runs only when it is true. An evaluation error skips it and counts `condition_errors`.',
  examples: ['has(event.process_exec)', 'event.?kubernetes.?namespace.orValue("") == "payments"'],
};
const opSchema = (type: string, description: string, properties: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  description,
  additionalProperties: false,
  required: ['type', ...required],
  properties: { type: { const: type, description: `Operation: \`${type}\`.` }, ...properties, if: IF_SCHEMA },
});
const failureTag = (def: string) => ({ type: 'string', minLength: 1, default: def, description: 'Tag appended to `tags` when the value does not parse.', examples: [def] });

export const OPERATION_SCHEMAS = [
  opSchema(
    'set',
    'Sets a field. String values are templates: `{{path}}` inserts a field; a value that is exactly one placeholder keeps the field\'s type.',
    {
      field: pathProp('Field to write (dotted path; `a["dotted.key"]` for keys with dots).', ['labels.cluster', 'event.kind']),
      value: { description: 'Value to write. Strings may contain `{{field.path}}` placeholders; other JSON values are written as they are.', examples: ['prod-{{node_name}}', 42, { team: 'payments' }] },
    },
    ['field', 'value'],
  ),
  opSchema(
    'append',
    'Appends to a list field (creating it; a single value becomes a list). A list value appends each item; strings are templates as in `set`.',
    {
      field: pathProp('List field to append to.', ['tags', 'related.hosts']),
      value: { description: 'Value or list of values to append.', examples: ['tetragon', ['pci', '{{kubernetes.namespace}}']] },
      allow_duplicates: { type: 'boolean', default: true, description: 'false: skip values already in the list (as Elastic\'s append).', examples: [false] },
    },
    ['field', 'value'],
  ),
  opSchema(
    'copy',
    'Copies a field (deeply) to another path; no-op when the source is missing. `from` may be an origin field (`@path`, `@host`, `@source`, `@offset`, `@fields.<name>`).',
    { from: pathProp('Source field.', ['process_exec.process.binary', '@path']), to: pathProp('Destination field.', ['process.executable', 'log.file.path']) },
    ['from', 'to'],
  ),
  opSchema(
    'rename',
    'Moves a field to another path; no-op when the source is missing.',
    { from: pathProp('Source field.', ['output_fields']), to: pathProp('Destination field.', ['falco.fields']) },
    ['from', 'to'],
  ),
  opSchema(
    'rename_keys',
    'Renames the keys of an object that match a regular expression (RE2 syntax as in Tetragon filters; `$1`, `$<name>` in the replacement). A renamed key replaces one already there.',
    {
      field: pathProp('Object whose keys are renamed (default: the whole event).', ['labels', 'falco.output_fields']),
      pattern: { type: 'string', minLength: 1, description: 'Regular expression matched against each key.', examples: ['^k8s_(.*)$', '\\.'] },
      replacement: { type: 'string', description: 'Replacement for the matched part of the key.', examples: ['kubernetes_$1', '_'] },
      recursive: { type: 'boolean', default: false, description: 'Also rename keys of nested objects (and of objects in lists).', examples: [true] },
    },
    ['pattern', 'replacement'],
  ),
  opSchema('remove', 'Removes fields (missing ones are ignored).', { fields: pathList('Fields to remove.', [['process_exec.process.exec_id', 'process_exec.parent']]) }, ['fields']),
  opSchema(
    'keep_only',
    'Keeps only the listed fields (with their paths) and drops everything else.',
    { fields: pathList('Fields to keep.', [['time', 'node_name', 'process_exec.process.binary']]) },
    ['fields'],
  ),
  opSchema(
    'dedot',
    'Replaces `.` in keys, recursively (Elasticsearch reads a dot as an object boundary, so `app` and `app.kubernetes.io/name` side by side are refused).',
    {
      field: pathProp('Object to de-dot (default: the whole event).', ['labels', 'kubernetes.labels']),
      separator: { type: 'string', default: DEFAULT_DEDOT_SEPARATOR, description: 'What replaces each dot.', examples: ['_'] },
    },
    [],
  ),
  opSchema(
    'parse_json',
    'Parses a string field as JSON. On failure the field is left as it was and the event is tagged (never dropped).',
    {
      field: pathProp('String field holding JSON text.', ['message']),
      target: pathProp('Where to write the parsed value (default: replace `field`).', ['parsed']),
      failure_tag: { type: 'string', minLength: 1, default: DEFAULT_JSON_FAILURE_TAG, description: 'Tag appended to `tags` when the text is not JSON.', examples: [DEFAULT_JSON_FAILURE_TAG] },
    },
    ['field'],
  ),
  opSchema(
    'parse_regex',
    'Matches a string field against a regular expression and writes its named captures (`(?<name>…)` or RE2\'s `(?P<name>…)`) as fields. No match: the event is tagged and `parse_errors` counts it.',
    {
      field: pathProp('String field to match.', ['message', '@path']),
      pattern: { type: 'string', minLength: 1, description: 'Regular expression with named captures (unanchored; RE2 syntax as in Tetragon filters).', examples: ['^/var/log/pods/(?P<namespace>[^_]+)_(?P<pod>[^_]+)_'] },
      target: pathProp('Object to write the captures into (default: the top level).', ['kubernetes']),
      failure_tag: failureTag(DEFAULT_REGEX_FAILURE_TAG),
    },
    ['field', 'pattern'],
  ),
  opSchema(
    'parse_key_value',
    'Parses `key=value` pairs (logfmt and the like; values may be "double" or \'single\' quoted) from a string field into fields. No pair found: the event is tagged and `parse_errors` counts it.',
    {
      field: pathProp('String field holding the pairs.', ['message']),
      target: pathProp('Object to write the pairs into (default: the top level).', ['kv']),
      field_split: { type: 'string', minLength: 1, default: DEFAULT_FIELD_SPLIT, description: 'Separator between pairs (a single space: any run of whitespace).', examples: [' ', '&', ';'] },
      value_split: { type: 'string', minLength: 1, default: DEFAULT_VALUE_SPLIT, description: 'Separator between a key and its value.', examples: ['=', ':'] },
      failure_tag: failureTag(DEFAULT_KV_FAILURE_TAG),
    },
    ['field'],
  ),
  opSchema(
    'drop_empty',
    'Removes null, "", [] and {} values recursively (objects left empty are removed too; list elements are kept so positions stay meaningful).',
    { field: pathProp('Only clean below this field (default: the whole event).', ['process_kprobe.args']) },
    [],
  ),
];

