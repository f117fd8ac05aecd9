#!/usr/bin/env node
/** Entry point of the `tern` binary. */
// First: V8 settings that must be in place before the rest of tern allocates.
import './v8-settings.ts';
// Then: a SIGHUP while tern loads must not end it (early-signals.ts). The rest of tern is imported
// only after this module ran: a static import would be loaded and linked with the whole graph (some
// 300-500 ms) before this module's handler is installed.
import './early-signals.ts';

const { main } = await import('./main.ts');
main().catch((e: unknown) => {
  process.stderr.write(`tern: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
