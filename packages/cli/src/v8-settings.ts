/**
 * V8's heap growing factor, fixed at 2: after each full collection the old generation may grow to twice
 * what survived before the next one starts. Left to itself, V8 picks the factor from the heap limit:
 * up to 4 on a large host (RSS several times the live set), and barely above 1 under a pod's memory
 * limit, where it then collects again and again (a third of the CPU for 500,000 Tetragon lines in a
 * 200 MiB cgroup: bench/RESULTS.md, "Memory"). tern's live set is bounded by its configuration, so a
 * fixed factor bounds the heap as well. Set at run time, before the rest of tern loads: a shebang
 * cannot pass flags portably (busybox `env` has no `-S`) and NODE_OPTIONS refuses this one. A value
 * given on node's own command line wins.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;

if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
