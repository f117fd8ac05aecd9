#!/usr/bin/env node
// Does lazy JSON parsing pay off? Measures, per event of the Tetragon-like log, the cost of the
// decode step alone in three shapes, on the same lines in memory (no I/O):
//   text   — no parse (what `decoding: text` does; the event is forwarded as its bytes)
//   lazy   — a framing check now, JSON.parse only if a later stage reads a field (LogEvent.data)
//   eager  — JSON.parse at the source (what `decoding: json` does; malformed lines caught with their offset)
// plus the cost of re-serialising (JSON.stringify) that keeping the original line avoids.
// usage: node bench/lazy-parse.mjs [N=200000]
import { readFileSync } from 'node:fs';
import { dataFile } from './lib.mjs';
import { decodeLine, LogEvent } from '../packages/core/src/index.ts';

const N = Number(process.argv[2] ?? 200_000);
const lines = readFileSync(dataFile(N), 'utf8').split('\n').filter(Boolean);
const origin = { sourceId: 'b', path: 'x', host: 'h' };
function time(name, fn) {
  for (let w = 0; w < 2; w++) fn();
  const t0 = process.hrtime.bigint();
  const r = fn();
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / lines.length;
  console.log(`| ${name} | ${us.toFixed(2)} |`);
  return r;
}
console.log('| step (per event) | µs |');
console.log('|---|---:|');
time('text: wrap the line, no parse', () => lines.map((l, i) => decodeLine(origin, l, i, 'text')));
const lazy = time('lazy: framing check, parse deferred', () => lines.map((l, i) => (l.charCodeAt(0) === 123 ? new LogEvent(origin, l, 'json', undefined, i) : null)));
time('lazy, then a stage reads one field (parse on access)', () => lazy.map((e) => new LogEvent(origin, e.raw, 'json', undefined, 0).data.time));
const eager = time('eager: JSON.parse at the source (decoding: json)', () => lines.map((l, i) => decodeLine(origin, l, i, 'json')));
time('write unchanged: original line (toJson of an unmodified event)', () => eager.map((e) => e.toJson()));
time('write changed: JSON.stringify (toJson of a modified event)', () => eager.map((e) => JSON.stringify(e.data)));
console.log(`\n${lines.length} lines of ${Math.round(lines.reduce((a, l) => a + l.length, 0) / lines.length)} bytes on average; Node ${process.versions.node}.`);
