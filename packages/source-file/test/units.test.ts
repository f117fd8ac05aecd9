/** The tricky parts of the file source on their own: globs, the acknowledgement tracker, atomic checkpoints. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AckTracker, CheckpointStore, compileGlob, expandGlobs, globToRegExp } from '../src/index.ts';

describe('globs', () => {
  it('matches *, ?, classes, alternatives and **', () => {
    const cases: Array<[string, string, boolean]> = [
      ['/var/log/*.log', '/var/log/tetragon.log', true],
      ['/var/log/*.log', '/var/log/sub/tetragon.log', false],
      ['/var/log/tetragon.log*', '/var/log/tetragon.log.1', true],
      ['/logs/**/*.log', '/logs/a/b/c.log', true],
      ['/logs/**/*.log', '/logs/c.log', true],
      ['/logs/{conn,dns}.log', '/logs/dns.log', true],
      ['/logs/{conn,dns}.log', '/logs/http.log', false],
      ['/logs/file-?.[0-9]', '/logs/file-a.7', true],
    ];
    for (const [g, p, want] of cases) assert.equal(globToRegExp(g).test(p), want, `${g} vs ${p}`);
  });

  it('walks only from the static base and honours excludes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tern-glob-'));
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    for (const f of ['x.log', 'a/y.log', 'a/b/z.log', 'a/b/z.gz']) writeFileSync(join(dir, f), '');
    const found = await expandGlobs([compileGlob('**/*.{log,gz}', dir)], [compileGlob('**/*.gz', dir).re]);
    assert.deepEqual(found, [join(dir, 'a/b/z.log'), join(dir, 'a/y.log'), join(dir, 'x.log')]);
    assert.deepEqual(await expandGlobs([compileGlob('missing/*.log', dir)], []), []);
  });
});

describe('AckTracker', () => {
  it('advances only over a contiguous prefix of acknowledged batches', () => {
    const t = new AckTracker(0);
    const a = t.track(100);
    const b = t.track(200);
    const c = t.track(300);
    c();
    assert.equal(t.committed, 0, 'a later batch must not move the checkpoint past an earlier one');
    a();
    assert.equal(t.committed, 100);
    b();
    assert.equal(t.committed, 300);
    assert.equal(t.inFlight, 0);
  });

  it('ignores acknowledgements of batches from before a truncation', () => {
    const t = new AckTracker(0);
    const old = t.track(500);
    t.reset(0);
    old();
    assert.equal(t.committed, 0);
    t.track(40)();
    assert.equal(t.committed, 40);
  });
});

describe('CheckpointStore', () => {
  it('writes atomically and reads back, leaving no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tern-cp-'));
    const s = new CheckpointStore(dir, 'src');
    assert.deepEqual(s.load(), { version: 1, files: {} });
    const cp = { version: 1 as const, files: { '1:2': { path: '/x', offset: 42, head_hash: 'h', head_len: 10, updated: 1 } } };
    s.save(cp);
    assert.deepEqual(s.load(), cp);
    assert.deepEqual(readdirSync(join(dir, 'checkpoints')), ['src.json']);
  });
});
