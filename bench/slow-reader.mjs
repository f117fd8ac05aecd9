#!/usr/bin/env node
// Reads standard input at no more than RATE bytes per second (a slow destination), counting lines.
// usage: node slow-reader.mjs RATE_BYTES_PER_S
const rate = Number(process.argv[2] ?? 1_000_000);
let bytes = 0;
let lines = 0;
const t0 = Date.now();
process.stdin.on('data', (c) => {
  bytes += c.length;
  for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
  const ahead = bytes / rate - (Date.now() - t0) / 1000;
  if (ahead > 0) {
    process.stdin.pause();
    setTimeout(() => process.stdin.resume(), ahead * 1000);
  }
});
process.stdin.on('end', () => process.stderr.write(`slow-reader: ${lines} lines, ${bytes} bytes\n`));
process.on('SIGTERM', () => {
  process.stderr.write(`slow-reader: ${lines} lines, ${bytes} bytes\n`);
  process.exit(0);
});
