#!/usr/bin/env node
/** Entry point of the `tern` binary. */
// First: V8 settings that must be in place before the rest of tern allocates.
import './v8-settings.ts';
// Then: a SIGHUP while tern loads must not end it (early-signals.ts).
import './early-signals.ts';
import { main } from './main.ts';

main().catch((e: unknown) => {
  process.stderr.write(`tern: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
