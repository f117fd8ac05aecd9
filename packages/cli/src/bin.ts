#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=100
/** Entry point of the `tern` binary. */
import { main } from './main.ts';

main().catch((e: unknown) => {
  process.stderr.write(`tern: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
