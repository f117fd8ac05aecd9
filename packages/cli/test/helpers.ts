/**
 * End-to-end helpers of the CLI tests: the shared ones from `@tern/test-kit/e2e` (run the real
 * `tern` binary from source, work directories, files, logs).
 */
export { finalCounters, lines, logs, tern, tetragonLines, tmp, until, write, TERN_BIN as BIN, type Run } from '@tern/test-kit/e2e';
