/**
 * The run's lifecycle and honesty, through the CLI: `--once` against refused credentials ends with that
 * error instead of waiting forever; SIGHUP reloads instead of killing tern, also while tern is still
 * starting; a checkpoint that cannot be written
 * makes the run fail; a sink that re-encodes an event for itself (Parseable's re-serialisation) does not
 * change what another sink sends (Elasticsearch's content-hash ids stay the same across its retries).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startElasticsearch, startParseable, startWebhook } from '@tern/test-kit';
import { lines, logs, tern, tetragonLines, tmp, until, write } from './helpers.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
});

describe('lifecycle', () => {
  it('--once against refused credentials ends with that error once nothing moves, instead of waiting forever', async () => {
    const es = await startElasticsearch({ auth: { apiKeys: ['right'] } });
    closers.push(() => es.close());
    const dir = tmp();
    write(dir, 'in.log', tetragonLines(20));
    write(
      dir,
      'p.yaml',
      `data_dir: ./state
shutdown_timeout_ms: 1500
sources:
  logs: { type: file, include: ["./in.log"] }
sinks:
  es:
    type: elasticsearch
    inputs: [logs]
    endpoints: ["${es.url}"]
    auth: { strategy: api_key, api_key: wrong }
`,
    );
    const t = Date.now();
    const r = tern(['run', '--once', '-c', join(dir, 'p.yaml'), '--log-format', 'json']);
    assert.equal(await r.exit, 1);
    assert.ok(Date.now() - t < 10_000, `ended in ${Date.now() - t} ms`);
    const last = logs(r).findLast((l) => String(l.msg).startsWith('stopped')) as { code?: string; msg: string };
    assert.match(last.msg, /stopped, not everything read was delivered: sink es healthcheck: .*refused the credentials \(HTTP 401\); no progress for shutdown_timeout_ms/);
    assert.equal(es.count(), 0);
  });

  it('--once against a Slack webhook that is gone (410): the give-up line counts the events the paused sink still holds', async () => {
    const hook = '/services/T0000000/B0000000/archived';
    const slack = await startWebhook({ mode: 'slack', slackWebhooks: { archived: [hook] } });
    closers.push(() => slack.close());
    const dir = tmp();
    write(dir, 'in.log', tetragonLines(7));
    write(
      dir,
      'p.yaml',
      `data_dir: ./state
shutdown_timeout_ms: 1500
sources:
  logs: { type: file, include: ["./in.log"] }
sinks:
  slack: { type: webhook, inputs: [logs], format: slack, url: "${slack.url}${hook}" }
`,
    );
    const r = tern(['run', '--once', '-c', join(dir, 'p.yaml'), '--log-format', 'json']);
    assert.equal(await r.exit, 1);
    const giveUp = logs(r).find((l) => l.code === 'TERN_ERR_ONCE_FATAL' && String(l.msg).startsWith('nothing was delivered'));
    assert.ok(giveUp, r.stderr());
    // The events left the in-flight budget when the sink took them; they are still not delivered.
    assert.equal(giveUp['in_flight_events'], 0);
    assert.equal(giveUp['undelivered_events'], 7);
    assert.equal(giveUp['buffered_events'], 0);
  });

  it('SIGHUP reloads the pipeline: tern keeps running and delivering', async () => {
    const dir = tmp();
    write(dir, 'in.log', tetragonLines(10));
    write(dir, 'p.yaml', 'data_dir: ./state\nsources:\n  logs: { type: file, include: ["./in.log"] }\nsinks:\n  out: { type: file, inputs: [logs], path: ./out.ndjson }\n');
    const r = tern(['run', '-c', join(dir, 'p.yaml'), '--log-format', 'json']);
    await until(() => r.stderr().includes('reading file'), 10_000, 'started');
    r.child.kill('SIGHUP');
    await until(() => r.stderr().includes('configuration reloaded'), 5000, 'the reload line');
    assert.equal(r.child.exitCode, null, 'still running');
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 0, r.stderr());
  });

  it('SIGHUP while tern is still loading does not kill it; the reload it asked for is applied after the start-up one, not undone by it', async () => {
    const dir = tmp();
    write(dir, 'in.log', tetragonLines(10));
    const yaml = (sink: string) => `data_dir: ./state\nsources:\n  logs: { type: file, include: ["./in.log"] }\nsinks:\n  ${sink}: { type: file, inputs: [logs], path: ./${sink}.ndjson }\n`;
    // The pipeline file is a FIFO: tern blocks reading it until the test writes it, which holds it in start-up.
    const p = join(dir, 'p.yaml');
    execFileSync('mkfifo', [p]);
    const r = tern(['run', '-c', p, '--log-format', 'json']);
    const pid = r.child.pid as number;
    // SIGHUP is caught (bit 0 of SigCgt) from before tern's modules load: the signal lands while they
    // do, and is held for the reload handler.
    const caught = (): boolean => {
      const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m !== null && (BigInt(`0x${m[1]}`) & 1n) === 1n;
    };
    await until(caught, 10_000, 'a SIGHUP handler while tern starts');
    r.child.kill('SIGHUP');
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(r.child.exitCode, null, 'still running');
    assert.equal(r.child.signalCode, null, 'not killed by SIGHUP');
    // tern's first read gets the old pipeline; by the time the held SIGHUP reloads, the file is the new one.
    writeFileSync(p, yaml('old_sink'));
    rmSync(p);
    writeFileSync(p, yaml('new_sink'));
    await until(() => r.stderr().includes('configuration reloaded'), 15_000, 'the SIGHUP applied once tern runs');
    assert.ok(logs(r).some((l) => l.reason === 'SIGHUP' && l.msg === 'reloading the configuration'), r.stderr());
    // What is written after the reload goes to the new sink: the start-up apply did not come back over it.
    await new Promise((res) => setTimeout(res, 300));
    appendFileSync(join(dir, 'in.log'), Array.from({ length: 5 }, (_, n) => `{"after_reload":${n}}\n`).join(''));
    const out = (sink: string): string[] => (existsSync(join(dir, `${sink}.ndjson`)) ? lines(join(dir, `${sink}.ndjson`)) : []);
    await until(() => out('old_sink').length + out('new_sink').length >= 15, 10_000, 'every line');
    assert.equal(out('new_sink').filter((l) => l.includes('after_reload')).length, 5, 'the lines written after the reload went to new_sink');
    assert.equal(out('old_sink').length + out('new_sink').length, 15, 'every line once, in one sink or the other');
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 0, r.stderr());
  });

  it('a checkpoint that cannot be written makes the run fail, naming it', async () => {
    const dir = tmp();
    write(dir, 'in.log', tetragonLines(10));
    write(dir, 'p.yaml', 'data_dir: ./state\nsources:\n  logs: { type: file, include: ["./in.log"], checkpoint_interval_ms: 100 }\nsinks:\n  out: { type: file, inputs: [logs], path: ./out.ndjson }\n');
    const r = tern(['run', '-c', join(dir, 'p.yaml'), '--log-format', 'json']);
    await until(() => r.stderr().includes('reading file'), 10_000, 'started');
    // The checkpoint directory becomes a file: every later checkpoint write fails.
    await new Promise((res) => setTimeout(res, 300));
    rmSync(join(dir, 'state/checkpoints'), { recursive: true, force: true });
    writeFileSync(join(dir, 'state/checkpoints'), 'not a directory');
    await new Promise((res) => setTimeout(res, 500));
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 1, 'a failed checkpoint is never reported as success');
    const last = logs(r).findLast((l) => String(l.msg).startsWith('stopped')) as { msg: string; code?: string };
    assert.match(last.msg, /source logs: \d+ checkpoint writes? failed/);
    assert.equal(last.code, 'TERN_ERR_CHECKPOINT');
  });
});

describe('events are read-only to sinks', () => {
  it('Parseable re-serialising a line for itself does not change the bytes, or the content-hash ids, Elasticsearch sends', async () => {
    const es = await startElasticsearch();
    const pb = await startParseable();
    closers.push(() => es.close(), () => pb.close());
    // The first bulk answers 503, so Elasticsearch's retry comes after Parseable re-serialised.
    es.fault({ match: { path: /_bulk/ }, times: 1, action: { status: 503 } });
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const dup = '{"seq":1,"a":1,"a":2}'; // duplicate keys: Parseable's strict parser refuses the line
    write(dir, 'in/0.log', `{"seq":0}\n${dup}\n{"seq":2}\n`);
    write(
      dir,
      'p.yaml',
      `data_dir: ./state
sources:
  logs: { type: file, include: ["./in/*.log"], decoding: json_lazy }
sinks:
  pb: { type: parseable, inputs: [logs], endpoint: "${pb.url}", stream: tetragon, username: admin, password: admin, batch: { timeout_ms: 10 } }
  es:
    type: elasticsearch
    inputs: [logs]
    endpoints: ["${es.url}"]
    mode: index
    index: shared
    id: content_hash
    request: { retry_initial_ms: 300, retry_max_ms: 300 }
`,
    );
    const r = tern(['run', '--once', '-c', join(dir, 'p.yaml'), '--log-format', 'json']);
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(pb.stats().byStatus[400], 1, 'Parseable refused the line once, and got it re-serialised');
    const docs = es.docs('shared');
    assert.equal(docs.length, 3);
    const id = (line: string) => createHash('sha1').update(line).digest('base64url');
    assert.ok(docs.some((d) => d._id === id(dup)), 'the id is the hash of the line as read, not of a re-serialisation');
  });
});
