/** Pipeline files with mistakes: every kind of error names file, line, column and component. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_IN_FLIGHT, formatIssue, interpolate, loadPipeline, pipelineSchema, TernError, withDefaults, type SourceDefinition } from '../src/index.ts';
import { memorySource, testRegistry, tmp, writeYaml } from './helpers.ts';

function errorsOf(text: string, env: Record<string, string> = {}): string[] {
  const dir = tmp();
  const file = writeYaml(dir, 'pipeline.yaml', text);
  try {
    loadPipeline([file], testRegistry(), { env });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.map((i) => formatIssue(i).replace(file, 'pipeline.yaml'));
  }
  return [];
}

describe('pipeline file validation', () => {
  it('accepts a valid file, applies defaults and resolves data_dir next to the file', () => {
    const dir = tmp();
    const file = writeYaml(dir, 'p.yaml', 'sources:\n  a: { type: memory }\nsinks:\n  out: { type: memory, inputs: [a] }\n');
    const cfg = loadPipeline([file], testRegistry(), { env: {} });
    assert.equal(cfg.data_dir, `${dir}/.tern`);
    assert.deepEqual(cfg.components.find((c) => c.id === 'a')?.options, { count: 10, batch: 3 });
    assert.equal(cfg.warnings.length, 0);
  });

  it('the globals get their defaults from the schema, under their YAML names; the result is frozen all the way down', () => {
    const dir = tmp();
    const file = writeYaml(dir, 'p.yaml', 'in_flight: { max_events: 7 }\nsources:\n  a: { type: memory }\nsinks:\n  out: { type: memory, inputs: [a] }\n');
    const cfg = loadPipeline([file], testRegistry(), { env: {} });
    assert.deepEqual(cfg.in_flight, { max_events: 7, max_bytes: DEFAULT_IN_FLIGHT.max_bytes });
    assert.equal(cfg.shutdown_timeout_ms, 30000);
    assert.equal(cfg.api, undefined, 'no api block: the API stays off');
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.in_flight) && Object.isFrozen(cfg.components[0]?.options));
    assert.throws(() => {
      (cfg.components[0]?.options as { count: number }).count = 99;
    }, TypeError);
  });

  it('a sink\'s buffer gets its defaults from the schema, max_bytes by type (8 MiB in memory, 256 MiB on disk)', () => {
    const dir = tmp();
    const file = writeYaml(dir, 'p.yaml', 'sources:\n  a: { type: memory }\nsinks:\n  mem: { type: memory, inputs: [a] }\n  disk: { type: memory, inputs: [a], buffer: { type: disk } }\n  set: { type: memory, inputs: [a], buffer: { type: disk, max_bytes: 1048576 } }\n');
    const buffer = (id: string) => (loadPipeline([file], testRegistry(), { env: {} }).components.find((c) => c.id === id)?.options as { buffer: unknown }).buffer;
    assert.deepEqual(buffer('mem'), { type: 'memory', max_events: 10_000, max_bytes: 8 * 1024 * 1024, when_full: 'block', sync: 'batch' });
    assert.deepEqual(buffer('disk'), { type: 'disk', max_events: 10_000, max_bytes: 256 * 1024 * 1024, when_full: 'block', sync: 'batch' });
    assert.equal((buffer('set') as { max_bytes: number }).max_bytes, 1048576);
  });

  it('compiles every schema in ajv strict mode: a default that would be silently ignored is a start-up error', () => {
    const bad: SourceDefinition = {
      kind: 'source',
      type: 'bad_defaults',
      description: 'test',
      schema: { type: 'object', properties: { mode: { oneOf: [{ type: 'object', properties: { x: { type: 'integer', default: 1 } } }] } } },
      build: () => ({ run: () => Promise.resolve() }),
    };
    const dir = tmp();
    const file = writeYaml(dir, 'p.yaml', 'sources:\n  a: { type: memory }\nsinks:\n  out: { type: memory, inputs: [a] }\n');
    assert.throws(() => loadPipeline([file], testRegistry().register(bad), { env: {} }), /strict mode: default is ignored/);
  });

  it('reports YAML syntax errors with their position', () => {
    const errs = errorsOf('sources:\n  a: { type: memory\nsinks: {}\n');
    assert.match(errs[0] ?? '', /^pipeline\.yaml:\d+:\d+: error: /);
  });

  it('names an unknown type and suggests the close one', () => {
    assert.deepEqual(errorsOf('sources:\n  a: { type: memroy }\nsinks:\n  o: { type: memory, inputs: [a] }\n'), ['pipeline.yaml:2:14: error: a: unknown source type "memroy" (did you mean "memory"?); known: memory [TERN_ERR_CONFIG_TYPE]']);
  });

  it('names a misspelt option at its key and suggests the right one', () => {
    assert.deepEqual(errorsOf('sources:\n  a:\n    type: memory\n    cuont: 3\nsinks:\n  o: { type: memory, inputs: [a] }\n'), ['pipeline.yaml:4:5: error: a: unknown option "cuont" (did you mean "count"?) [TERN_ERR_CONFIG_SCHEMA]']);
  });

  it('reports wrong value types at the value', () => {
    assert.deepEqual(errorsOf('sources:\n  a:\n    type: memory\n    count: many\nsinks:\n  o: { type: memory, inputs: [a] }\n'), ['pipeline.yaml:4:12: error: a: count: must be integer [TERN_ERR_CONFIG_SCHEMA]']);
  });

  it('reports a missing required option', () => {
    assert.deepEqual(errorsOf('sources:\n  a: { type: memory }\ntransforms:\n  t: { type: tag, inputs: [a] }\nsinks:\n  o: { type: memory, inputs: [t] }\n'), ['pipeline.yaml:4:6: error: t: missing required option "value" [TERN_ERR_CONFIG_SCHEMA]']);
  });

  it('reports an input that does not exist, with a suggestion, at the input', () => {
    assert.deepEqual(errorsOf('sources:\n  tetragon: { type: memory }\nsinks:\n  o: { type: memory, inputs: [tetragn] }\n'), [
      'pipeline.yaml:4:31: error: o: input "tetragn" does not exist (did you mean "tetragon"?) [TERN_ERR_CONFIG_INPUT]',
      'pipeline.yaml:2:13: warning: tetragon: source "tetragon" is not read by any transform or sink; its events go nowhere [TERN_ERR_CONFIG_INPUT]',
    ]);
  });

  it('reports a cycle', () => {
    const errs = errorsOf('sources:\n  a: { type: memory }\ntransforms:\n  x: { type: tag, value: v, inputs: [a, y] }\n  y: { type: tag, value: v, inputs: [x] }\nsinks:\n  o: { type: memory, inputs: [y] }\n');
    assert.equal(errs.length, 1);
    assert.match(errs[0] ?? '', /^pipeline\.yaml:[45]:6: error: [xy]: components form a cycle: (x -> y -> x|y -> x -> y) \[TERN_ERR_CONFIG_CYCLE\]$/);
  });

  it('warns about a component nobody reads, without failing', () => {
    const dir = tmp();
    const file = writeYaml(dir, 'p.yaml', 'sources:\n  a: { type: memory }\n  lonely: { type: memory }\nsinks:\n  o: { type: memory, inputs: [a] }\n');
    const cfg = loadPipeline([file], testRegistry(), { env: {} });
    assert.deepEqual(cfg.warnings.map((w) => `${w.line}:${w.component}:${w.severity}`), ['3:lonely:warning']);
  });

  it('asks for a named output of a router and accepts route.output', () => {
    assert.deepEqual(errorsOf('sources:\n  a: { type: memory }\ntransforms:\n  r: { type: split, inputs: [a] }\nsinks:\n  o: { type: memory, inputs: [r] }\n').filter((e) => e.includes('error')), [
      'pipeline.yaml:6:31: error: o: input "r" has named outputs; read one of "r.even", "r.odd" [TERN_ERR_CONFIG_INPUT]',
    ]);
    assert.deepEqual(errorsOf('sources:\n  a: { type: memory }\ntransforms:\n  r: { type: split, inputs: [a] }\nsinks:\n  o: { type: memory, inputs: [r.even, r.odd] }\n'), []);
  });

  it('runs a component\'s own validate and points at the option it names', () => {
    assert.deepEqual(errorsOf('sources:\n  a: { type: memory }\ntransforms:\n  t:\n    type: tag\n    inputs: [a]\n    value: bad\nsinks:\n  o: { type: memory, inputs: [t] }\n'), [
      'pipeline.yaml:7:12: error: t: value: must not be "bad" [TERN_ERR_CONFIG_INVALID]',
    ]);
  });

  it('rejects a duplicate id across files, and unknown top-level keys', () => {
    const dir = tmp();
    const f1 = writeYaml(dir, 'a.yaml', 'sources:\n  a: { type: memory }\nsinks:\n  o: { type: memory, inputs: [a] }\n');
    const f2 = writeYaml(dir, 'b.yaml', 'sources:\n  a: { type: memory }\nsink: {}\n');
    assert.throws(() => loadPipeline([f1, f2], testRegistry(), { env: {} }), (e: unknown) => {
      const msgs = (e as ConfigError).issues.map(formatIssue);
      assert.ok(msgs.some((m) => m.includes('b.yaml:3:1: error: unknown option "sink" (did you mean "sinks"?)')), msgs.join('\n'));
      return true;
    });
    const f3 = writeYaml(dir, 'c.yaml', 'sources:\n  a: { type: memory }\n');
    assert.throws(() => loadPipeline([f1, f3], testRegistry(), { env: {} }), /c\.yaml:2:6: error: a: component id "a" is already defined/);
  });

  it('merges several files into one graph', () => {
    const dir = tmp();
    const f1 = writeYaml(dir, 'a.yaml', 'data_dir: /tmp/x\nsources:\n  a: { type: memory }\n');
    const f2 = writeYaml(dir, 'b.yaml', 'sinks:\n  o: { type: memory, inputs: [a] }\n');
    const cfg = loadPipeline([f1, f2], testRegistry(), { env: {} });
    assert.deepEqual(cfg.components.map((c) => c.id), ['a', 'o']);
    assert.equal(cfg.data_dir, '/tmp/x');
  });
});

/** Every issue of a failed load as `line:col code component: message`, the file path left out. */
function issuesOf(files: Array<[string, string]>): string[] {
  const dir = tmp();
  const paths = files.map(([name, text]) => writeYaml(dir, name, text));
  try {
    loadPipeline(paths, testRegistry(), { env: {} });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.map((i) => `${files.length > 1 ? `${i.file.slice(dir.length + 1)}:` : ''}${i.line}:${i.col} ${i.severity} ${i.code} ${i.component ?? '-'}: ${i.message}`);
  }
  return [];
}

describe('one validation pass reports every error it can find', () => {
  it('schema errors, an unknown type, an unknown input and a cycle in one file: each at its line with its code, in line order', () => {
    const dir = tmp();
    const file = writeYaml(
      dir,
      'p.yaml',
      'sources:\n' +
        '  a: { type: memory, cuont: 3 }\n' +
        'transforms:\n' +
        '  x: { type: tagg, inputs: [a, nowhere] }\n' +
        '  y: { type: tag, value: v, inputs: [x, z] }\n' +
        '  z: { type: tag, value: v, inputs: [y] }\n' +
        'sinks:\n' +
        '  o: { type: memory, inputs: [z], delay_ms: soon }\n',
    );
    assert.throws(() => loadPipeline([file], testRegistry(), { env: {} }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.issues.map((i) => `${i.line}:${i.col} ${i.code} ${i.component}: ${i.message}`), [
        '2:22 TERN_ERR_CONFIG_SCHEMA a: unknown option "cuont" (did you mean "count"?)',
        '4:14 TERN_ERR_CONFIG_TYPE x: unknown transform type "tagg" (did you mean "tag"?); known: split, tag',
        // The inputs of a component that failed are still checked; those that name it (y reads x) are fine.
        '4:32 TERN_ERR_CONFIG_INPUT x: input "nowhere" does not exist',
        '6:6 TERN_ERR_CONFIG_CYCLE z: components form a cycle: y -> z -> y',
        '8:45 TERN_ERR_CONFIG_SCHEMA o: delay_ms: must be integer',
      ]);
      assert.equal(e.code, 'TERN_ERR_CONFIG_SCHEMA', 'the error carries the code of the first issue');
      assert.match(e.message, /^invalid pipeline configuration \(5 errors\):\n/);
      return true;
    });
  });

  it('a misspelt section name: the unknown key, the pipeline left without a source, and the input that names it', () => {
    assert.deepEqual(issuesOf([['p.yaml', 'source:\n  a: { type: memory }\nsinks:\n  o: { type: memory, inputs: [a] }\n']]), [
      '1:1 error TERN_ERR_CONFIG_SCHEMA -: unknown option "source" (did you mean "sources"?)',
      '1:1 error TERN_ERR_CONFIG_LIMIT -: the pipeline defines no source: add one under sources: (an empty pipeline would run and deliver nothing)',
      '4:31 error TERN_ERR_CONFIG_INPUT o: input "a" does not exist',
    ]);
  });

  it('a pipeline without a sink is that one error, not also a warning for each source nobody reads', () => {
    assert.deepEqual(issuesOf([['p.yaml', 'sources:\n  a: { type: memory }\n  b: { type: memory }\n']]), [
      '1:1 error TERN_ERR_CONFIG_LIMIT -: the pipeline defines no sink: add one under sinks: (an empty pipeline would run and deliver nothing)',
    ]);
  });

  it('a global option of the wrong type does not hide the graph: its error and an unknown input, then the warnings', () => {
    assert.deepEqual(issuesOf([['p.yaml', 'in_flight: { max_events: many }\nsources:\n  a: { type: memory }\nsinks:\n  o: { type: memory, inputs: [b] }\n']]), [
      '1:26 error TERN_ERR_CONFIG_SCHEMA -: in_flight.max_events: must be integer',
      '5:31 error TERN_ERR_CONFIG_INPUT o: input "b" does not exist (did you mean "a"?)',
      '3:6 warning TERN_ERR_CONFIG_INPUT a: source "a" is not read by any transform or sink; its events go nowhere',
    ]);
  });

  it('a component id the schema refuses, or a component that is not a map, is still known to the graph: no echo', () => {
    assert.deepEqual(issuesOf([['p.yaml', 'sources:\n  "bad id": { type: memory }\n  b: 5\nsinks:\n  o: { type: memory, inputs: ["bad id", b] }\n']]), [
      '2:3 error TERN_ERR_CONFIG_SCHEMA bad id: component id "bad id" may contain only letters, digits, "_" and "-"',
      '3:6 error TERN_ERR_CONFIG_SCHEMA b: sources.b: must be object',
    ]);
  });

  it('inputs that cannot be read: no guess about who reads what (no "not read by any" warning)', () => {
    assert.deepEqual(issuesOf([['p.yaml', 'sources:\n  a: { type: memory }\ntransforms:\n  t: { type: tag, value: v, inputs: 5 }\nsinks:\n  o: { type: memory, inputs: [t] }\n']]), [
      '4:37 error TERN_ERR_CONFIG_SCHEMA t: transforms.t.inputs: must be array',
    ]);
  });

  it('a YAML syntax error stops the pass for its file and says so; the other files are still checked, the graph is not', () => {
    assert.deepEqual(issuesOf([
      ['a.yaml', 'sources:\n  a: { type: memory\nsinks: {}\n'],
      ['b.yaml', 'sinks:\n  o: { type: memory, inputs: [a], delay_ms: soon }\n'],
    ]), [
      'a.yaml:3:1 error TERN_ERR_CONFIG_PARSE -: Flow map in block collection must be sufficiently indented and end with a }; tern could not read this file past here, so the rest of it, and the inputs and cycles of the pipeline, were not checked',
      'b.yaml:2:45 error TERN_ERR_CONFIG_SCHEMA o: delay_ms: must be integer',
    ]);
  });

  it('a section that is not a map stops the graph checks and says so; the other sections are still checked', () => {
    assert.deepEqual(issuesOf([['p.yaml', 'sources: [a]\nsinks:\n  o: { type: memory, inputs: [a], delay_ms: soon }\n']]), [
      '1:10 error TERN_ERR_CONFIG_SCHEMA -: sources: must be object; the components under it, and the inputs and cycles of the pipeline, were not checked',
      '3:45 error TERN_ERR_CONFIG_SCHEMA o: delay_ms: must be integer',
    ]);
  });
});

describe('environment interpolation', () => {
  it('replaces ${VAR} and ${VAR:-default}, and keeps $${ literal', () => {
    assert.deepEqual(interpolate('http://${HOST}:${PORT:-9200}/$${x}', { HOST: 'es' }), { value: 'http://es:9200/${x}', missing: [] });
    assert.deepEqual(interpolate('${A:-d}', { A: '' }), { value: 'd', missing: [] });
    assert.deepEqual(interpolate('${A}', {}), { value: '', missing: ['A'] });
  });

  it('types a plain scalar after substitution and reports an unset variable at its line', () => {
    const dir = tmp();
    const file = writeYaml(dir, 'p.yaml', 'sources:\n  a:\n    type: memory\n    count: ${N}\n    batch: "${B:-4}"\nsinks:\n  o: { type: memory, inputs: [a], label: "x: ${L}" }\n');
    // A quoted reference stays a string, as YAML says: the integer option then refuses it.
    assert.throws(() => loadPipeline([file], testRegistry(), { env: { N: '7', L: 'y' } }), /p\.yaml:5:12: error: a: batch: must be integer/);
    const ok = writeYaml(dir, 'ok.yaml', 'sources:\n  a:\n    type: memory\n    count: ${N}\n    batch: ${B:-4}\nsinks:\n  o: { type: memory, inputs: [a], label: "x: ${L}" }\n');
    const cfg = loadPipeline([ok], testRegistry(), { env: { N: '7', L: 'y # not a comment' } });
    assert.deepEqual(cfg.components[0]?.options, { count: 7, batch: 4 });
    assert.equal(cfg.components[1]?.options.label, 'x: y # not a comment');
    assert.throws(() => loadPipeline([file], testRegistry(), { env: {} }), /p\.yaml:4:12: error: environment variable N is not set/);
  });

  it('an unset variable is one error, not also "must be integer" for the empty value it leaves; other errors still come with it', () => {
    assert.deepEqual(issuesOf([['p.yaml', 'sources:\n  a:\n    type: memory\n    count: ${N}\n    batch: many\nsinks:\n  o: { type: memory, inputs: [a] }\n']]), [
      '4:12 error TERN_ERR_CONFIG_ENV -: environment variable N is not set (write ${N:-default} to give a default)',
      '5:12 error TERN_ERR_CONFIG_SCHEMA a: batch: must be integer',
    ]);
  });
});

describe('merged schema', () => {
  it('covers every registered type with its options', () => {
    const s = JSON.stringify(pipelineSchema(testRegistry()));
    for (const t of ['memory', 'tag', 'split', '"delay_ms"', '"data_dir"']) assert.ok(s.includes(t), t);
  });
});

describe('withDefaults: a component built in code gets the options a pipeline file would give it', () => {
  it('the schema\'s defaults, the same frozen shape as the loader\'s, the argument untouched', () => {
    const dir = tmp();
    const file = writeYaml(dir, 'p.yaml', 'sources:\n  a: { type: memory, count: 4 }\nsinks:\n  out: { type: memory, inputs: [a] }\n');
    const fromFile = loadPipeline([file], testRegistry(), { env: {} }).components.find((c) => c.id === 'a')?.options;
    const given = { count: 4 };
    const inCode = withDefaults(memorySource, given);
    assert.deepEqual(inCode, fromFile);
    assert.deepEqual(given, { count: 4 }, 'the caller\'s object is not filled in');
    // A build that writes to its options fails in a unit test as it would under `tern run`.
    assert.ok(Object.isFrozen(inCode));
    assert.throws(() => {
      (inCode as { batch: number }).batch = 1;
    }, TypeError);
  });

  it('refuses what the schema refuses, naming the option', () => {
    assert.throws(
      () => withDefaults(memorySource, { count: 'many' as unknown as number }),
      (e: unknown) => e instanceof TernError && e.code === 'TERN_ERR_CONFIG_SCHEMA' && /memory: \/count must be integer/.test(e.message),
    );
  });
});
