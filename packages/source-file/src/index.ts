/**
 * Sources that read lines: `file` (tail with globs, rotation and checkpoints) and `stdin`.
 */
import { decodingSchema, type SourceDefinition } from '@tern/core';
import { FileSource, type FileSourceConfig } from './file-source.ts';
import { StdinSource, type StdinSourceConfig } from './stdin-source.ts';

const maxLineBytes = {
  type: 'integer',
  minimum: 64,
  default: 1048576,
  description: 'Longest line kept, in bytes. A longer line is skipped up to its newline, with a warning naming the file and byte offset; its neighbours are read as usual.',
  examples: [262144],
} as const;

export const fileSource: SourceDefinition<FileSourceConfig> = {
  kind: 'source',
  type: 'file',
  description: 'Tails files matched by globs, one event per line, with checkpoints advanced by acknowledgements.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['include'],
    properties: {
      include: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'Glob patterns of files to read (`*`, `?`, `[..]`, `{a,b}`, `**`), relative to the pipeline file.', examples: [['/var/run/cilium/tetragon/*.log']] },
      exclude: { type: 'array', items: { type: 'string' }, default: [], description: 'Glob patterns of matched files to skip.', examples: [['/var/log/tetragon/*.gz']] },
      read_from: { enum: ['beginning', 'end'], default: 'beginning', description: 'Where to start in a file that has no checkpoint and was there when tern started. Files that appear later are always read from their start.', examples: ['end'] },
      decoding: decodingSchema,
      max_line_bytes: maxLineBytes,
      read_buffer_bytes: { type: 'integer', minimum: 4096, default: 524288, description: 'Bytes read from one file per turn; the lines of one read form one batch.', examples: [262144] },
      glob_interval_ms: { type: 'integer', minimum: 10, default: 1000, description: 'How often to look for new, renamed and deleted files (filesystem notifications also trigger a look).', examples: [5000] },
      poll_interval_ms: { type: 'integer', minimum: 10, default: 250, description: 'Longest wait before checking idle files for new data when no filesystem notification arrives (the fallback on NFS and overlay filesystems).', examples: [1000] },
      checkpoint_interval_ms: { type: 'integer', minimum: 10, default: 1000, description: 'How often acknowledged offsets are written to the data directory (and always at shutdown).', examples: [5000] },
      fingerprint_bytes: { type: 'integer', minimum: 16, default: 1024, description: 'Bytes at the start of a file hashed to tell a renamed file (same device, inode and head) from a new file that reuses an inode.', examples: [256] },
      rotate_wait_ms: { type: 'integer', minimum: 0, default: 5000, description: 'After a file was renamed away or deleted and read to its end, how long to keep it open for late writes before closing it.', examples: [10000] },
    },
  },
  build: (cfg, ctx) => new FileSource(cfg, ctx),
};

export const stdinSource: SourceDefinition<StdinSourceConfig> = {
  kind: 'source',
  type: 'stdin',
  description: 'Reads lines from standard input until end of file, then lets the pipeline flush and exit.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { decoding: decodingSchema, max_line_bytes: maxLineBytes },
  },
  build: (cfg, ctx) => new StdinSource(cfg, ctx),
};

export const sources = [fileSource, stdinSource];
export { FileSource, StdinSource };
export { CheckpointStore, AckTracker } from './checkpoint.ts';
export { compileGlob, expandGlobs, globToRegExp } from './glob.ts';
