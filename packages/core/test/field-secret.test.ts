/**
 * Secrets from files (field/secret.ts): the one `readSecret`. The two copies it replaced disagreed:
 * config/secret.ts removed one trailing newline and refused a value and a file together; the sink
 * kit's removed every trailing newline, read an empty value as unset and let a value win over a
 * file silently.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTernError } from '../src/errors.ts';
import { readSecret } from '../src/field/index.ts';

describe('readSecret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tern-secret-'));
  const files: Record<string, string> = { plain: 's3cret', lf: 's3cret\n', crlf: 's3cret\r\n', many: 's3cret\n\n\n', inner: 'two\nlines\n', blank: '\n' };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);

  // [value, file, result]
  const rows: Array<[string | undefined, string | undefined, string | undefined]> = [
    ['literal', undefined, 'literal'],
    [undefined, 'plain', 's3cret'],
    [undefined, 'lf', 's3cret'],
    [undefined, 'crlf', 's3cret'],
    [undefined, 'many', 's3cret'], // every trailing line break goes (config/secret.ts kept all but one)
    [undefined, 'inner', 'two\nlines'],
    [undefined, 'blank', ''],
    ['', 'plain', 's3cret'], // an empty value is unset (`${TOKEN:-}`)
    ['literal', '', 'literal'],
    [undefined, undefined, undefined],
    ['', '', undefined],
  ];
  for (const [value, file, want] of rows) it(`value ${JSON.stringify(value)}, file ${JSON.stringify(file)}`, () => assert.equal(readSecret(value, file, 'token', dir), want));

  it('a value and a file together are an error naming the option', () => {
    assert.throws(() => readSecret('x', 'plain', 'auth.token', dir), (e: unknown) => isTernError(e) && e.code === 'TERN_ERR_CONFIG_INVALID' && /auth\.token and auth\.token_file are both set/.test(e.message));
  });
  it('an unreadable file names the option and the path', () => {
    assert.throws(() => readSecret(undefined, 'nope', 'auth.token', dir), (e: unknown) => isTernError(e) && e.code === 'TERN_ERR_SECRET_FILE' && e.message.startsWith(`auth.token_file: cannot read ${join(dir, 'nope')}`));
    assert.throws(() => readSecret(undefined, join(dir, 'nope'), 'url', '/elsewhere'), /url_file: cannot read/);
  });
});
