// End to end through the real binary: a 100,000-line Tetragon log, `file → webhook` with
// `body: array`, arrives complete at the generic emulator, every request a JSON array; and
// `body: single` on the first 1,000 lines, one JSON object per request. (NDJSON: e2e-ndjson.test.ts.)
import { after, before, describe, it } from 'node:test';
import { LINES, SMALL, scenario, workspace } from './e2e-helpers.ts';

let ws: Awaited<ReturnType<typeof workspace>>;
before(async () => {
  ws = await workspace(LINES, SMALL);
});
after(() => ws?.remove());

describe('file → webhook through the CLI', { timeout: 120_000 }, () => {
  it(`array: ${LINES} Tetragon lines arrive complete, each request a JSON array`, () => scenario(ws.dir, 'array', ws.big, LINES));
  it(`single: ${SMALL} lines, one JSON object per request`, () => scenario(ws.dir, 'single', ws.small, SMALL));
});
