/**
 * Sources that read lines: `file` (tail with globs, rotation and checkpoints) and `stdin`.
 */
import { decodingSchema, multilineSchema, optionsSchema, validateMultiline, type SourceDefinition } from '@tern/core';
import { FileSource, type FileSourceConfig } from './file-source.ts';
import { StdinSource, type StdinSourceConfig } from './stdin-source.ts';
import { compilePathTemplate } from './path-fields.ts';

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
  schema: optionsSchema<FileSourceConfig>()({
    type: 'object',
    additionalProperties: false,
    required: ['include'],
    properties: {
      include: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'Glob patterns of files to read (`*`, `?`, `[..]`, `{a,b}`, `**`), relative to the pipeline file. A matched file whose name ends in `.gz` is decompressed (streaming gunzip) and read once, whole; do not match compressed backups of files you also read uncompressed, or their lines arrive twice.', examples: [['/var/run/cilium/tetragon/tetragon.log']] },
      exclude: { type: 'array', items: { type: 'string' }, default: [], description: 'Glob patterns of matched files to skip.', examples: [['/var/log/tetragon/*.gz']] },
      read_from: { enum: ['beginning', 'end'], default: 'beginning', description: 'Where to start in a file that has no checkpoint and was there when tern started (`end`: only lines written from now on). Files that appear later, and `.gz` files, are always read from their start.', examples: ['end'] },
      decoding: decodingSchema,
      max_line_bytes: maxLineBytes,
      read_buffer_bytes: { type: 'integer', minimum: 4096, default: 524288, description: 'Bytes read from one file per turn; the lines of one read form one batch. Files take turns, one read each, so a busy file cannot starve the others.', examples: [262144] },
      glob_interval_ms: { type: 'integer', minimum: 10, default: 1000, description: 'How often to look for new, renamed and deleted files, and for new data in files whose handle was closed (filesystem notifications of new and renamed files also trigger a look).', examples: [5000] },
      poll_interval_ms: { type: 'integer', minimum: 10, default: 1000, description: 'How often an open idle file is checked for new data (one `fstat`) when no filesystem notification names it. Where notifications work (local disks, hostPath) a write is seen at once; where they do not (NFS, some overlay and FUSE filesystems) this is the delay to see it.', examples: [250] },
      checkpoint_interval_ms: { type: 'integer', minimum: 10, default: 1000, description: 'How often acknowledged offsets are written to `<data_dir>/checkpoints/<source id>.json` (also earlier when `max_unsaved_events` calls for it, and always at shutdown).', examples: [5000] },
      max_unsaved_events: { type: 'integer', minimum: 1, default: 100000, description: 'Most events read beyond the last written checkpoint. Half-way there a checkpoint is written as soon as acknowledgements allow; at the limit reading waits. A crash (`kill -9`, OOM kill, node loss) makes tern send again at most this many events plus one read (`read_buffer_bytes`) per file; it never skips any.', examples: [20000] },
      fingerprint_bytes: { type: 'integer', minimum: 16, default: 1024, description: 'Bytes at the start of a file that, with its device and inode, identify it: a renamed file keeps its checkpoint, a new file reusing an inode does not. A file shorter than this is identified by all its bytes, and its checkpoint never claims more than them, so two short files with the same start never make tern skip unread lines.', examples: [256] },
      rotate_wait_ms: { type: 'integer', minimum: 0, default: 5000, description: 'After a file was renamed out of the globs or deleted and read to its end, how long to keep it open for late writes before closing it (a last line without newline is delivered then).', examples: [10000] },
      close_inactive_ms: { type: 'integer', minimum: 0, default: 300000, description: 'Close the handle of a file that had no new data for this long (`0`: never). Its position stays in memory; the next scan that sees it grow opens it again. A closed file that is renamed is found again by inode in its directory; one that is deleted before tern reopened it loses its unread lines.', examples: [60000] },
      close_removed: { type: 'boolean', default: false, description: 'Close a deleted file as soon as a scan notices the deletion, dropping what was not read yet, so its disk space is freed at once. By default a deleted file is read to its end first.', examples: [true] },
      ignore_older_ms: { type: 'integer', minimum: 0, default: 0, description: 'Skip files not modified for this long when first seen (`0`: read every file). If such a file is written to later, tern reads only what was added after it was skipped.', examples: [86400000] },
      max_open_files: { type: 'integer', minimum: 1, default: 1024, description: 'Most files open at once. With more files with data than this, idle files give up their handle first, then busy files after 16 reads in a row, round-robin, so every file progresses. A file without a handle that is deleted cannot be read to its end.', examples: [256] },
      path_fields: {
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
        description: 'Template(s) of the file path naming the parts to capture as fields, e.g. `/logs/{pod}/{name}.log` or `/nfs/zeek/{observer.name}/{labels.date}/{log}.log`: `{field}` matches within one path segment, `*` and `**` as in globs. The first template that matches gives the fields, computed once per file (never per line). They travel as event origin fields, for transforms, and are written into events by `add_metadata: ecs` (dotted names become nested fields).',
        examples: ['/var/log/pods/{kubernetes.namespace}_{kubernetes.pod.name}_*/{container.name}/*.log'],
      },
      multiline: multilineSchema,
      add_metadata: { enum: ['none', 'ecs'], default: 'none', description: '`ecs`: write the origin into each event as Filebeat does: `log.file.path`, `log.offset` (byte offset of the line), `host.name` (`NODE_NAME`, unless the event has one) and the `path_fields`. This changes every event, so sinks serialise it again instead of forwarding the original line, and lazily decoded (`json`) events get parsed: measure before turning it on at high rates. `none`: events stay as read; path, offset and host are still known to tern (for ids and transforms).', examples: ['ecs'] },
    },
  }),
  validate(cfg) {
    const out: string[] = validateMultiline(cfg.multiline);
    const tpl = cfg.path_fields === undefined ? [] : typeof cfg.path_fields === 'string' ? [cfg.path_fields] : cfg.path_fields;
    for (const t of tpl) {
      try {
        compilePathTemplate(t, '/');
      } catch (e) {
        out.push((e as Error).message);
      }
    }
    return out;
  },
  build: (cfg, ctx) => new FileSource(cfg, ctx),
};

export const stdinSource: SourceDefinition<StdinSourceConfig> = {
  kind: 'source',
  type: 'stdin',
  description: 'Reads lines from standard input until end of file, then lets the pipeline flush and exit.',
  schema: optionsSchema<StdinSourceConfig>()({
    type: 'object',
    additionalProperties: false,
    properties: { decoding: decodingSchema, max_line_bytes: maxLineBytes, multiline: multilineSchema },
  }),
  validate: (cfg) => validateMultiline(cfg.multiline),
  build: (cfg, ctx) => new StdinSource(cfg, ctx),
};

export const sources = [fileSource, stdinSource];
export { FileSource, StdinSource };
export { CheckpointStore, AckTracker } from './checkpoint.ts';
export { compileGlob, expandGlobs, globToRegExp } from './glob.ts';
export { compilePathTemplate, pathFields } from './path-fields.ts';
