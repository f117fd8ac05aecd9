// End to end through the real binary: a 100,000-line Tetragon log, `file → webhook` with
// `body: ndjson`, arrives complete at the generic emulator, every request NDJSON.
import { after, before, describe, it } from 'node:test';
import { LINES, scenario, workspace } from './e2e-helpers.ts';

let ws: Awaited<ReturnType<typeof workspace>>;
before(async () => {
  ws = await workspace(LINES);
});
after(() => ws?.remove());

describe('file → webhook through the CLI', { timeout: 120_000 }, () => {
  it(`ndjson: ${LINES} Tetragon lines arrive complete, each request NDJSON`, () => scenario(ws.dir, 'ndjson', ws.big, LINES));
});
