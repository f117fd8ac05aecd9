/**
 * A strict JSON parser with serde_json-style error texts, for the Parseable emulator.
 *
 * Parseable refuses objects with duplicate keys (its `StrictValue`, protocols §3.4) while
 * `JSON.parse` silently keeps the last one, and its 400 bodies quote serde_json's messages
 * ("expected value at line 1 column 1", "duplicate key in JSON at line 3 column 1"). Tests that
 * assert those bodies need the same wording, so this file re-implements the little that is needed.
 */

export class StrictJsonError extends Error {}

export function parseStrictJson(text: string): unknown {
  const p = new Parser(text);
  p.ws();
  if (p.i >= text.length) throw p.error('EOF while parsing a value');
  const v = p.value();
  p.ws();
  if (p.i < text.length) throw p.error('trailing characters', p.i + 1);
  if (p.duplicate) throw p.error('duplicate key in JSON', p.i);
  return v;
}

class Parser {
  readonly s: string;
  i = 0;
  /** serde reports the duplicate only once the whole value is read, at its end. */
  duplicate = false;

  constructor(s: string) {
    this.s = s;
  }

  error(message: string, at = this.i): StrictJsonError {
    let line = 1;
    let col = 0;
    for (let k = 0; k < Math.min(at, this.s.length); k++) {
      if (this.s.charCodeAt(k) === 10) {
        line++;
        col = 0;
      } else col++;
    }
    return new StrictJsonError(`${message} at line ${line} column ${col}`);
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }

  value(): unknown {
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      case undefined:
        throw this.error('EOF while parsing a value');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number();
        throw this.error('expected value', this.i + 1);
    }
  }

  literal<T>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    throw this.error('expected ident', this.i + 1);
  }

  number(): number {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (m === null) throw this.error('invalid number', this.i + 1);
    this.i += m[0].length;
    return Number(m[0]);
  }

  string(): string {
    const start = this.i;
    this.i++;
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 34) {
        this.i++;
        try {
          return JSON.parse(s.slice(start, this.i)) as string;
        } catch {
          throw this.error('invalid escape', this.i);
        }
      }
      if (c === 92) this.i += 2;
      else if (c < 0x20) throw this.error('control character (\\u0000-\\u001F) found while parsing a string', this.i + 1);
      else this.i++;
    }
    throw this.error('EOF while parsing a string');
  }

  array(): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return out;
      }
      if (c === undefined) throw this.error('EOF while parsing a list');
      throw this.error('expected `,` or `]`', this.i + 1);
    }
  }

  object(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] === undefined) throw this.error('EOF while parsing an object');
      if (this.s[this.i] !== '"') throw this.error('key must be a string', this.i + 1);
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') throw this.s[this.i] === undefined ? this.error('EOF while parsing an object') : this.error('expected `:`', this.i + 1);
      this.i++;
      this.ws();
      const v = this.value();
      if (Object.hasOwn(out, key)) this.duplicate = true;
      // defineProperty: a "__proto__" key must become an own property, not the prototype.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return out;
      }
      if (c === undefined) throw this.error('EOF while parsing an object');
      throw this.error('expected `,` or `}`', this.i + 1);
    }
  }
}
