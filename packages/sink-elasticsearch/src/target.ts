/**
 * What the sink writes to: the mode in effect, the default index, data-stream names, and how target
 * templates (`index`, `data_stream.*`) render — a missing, empty or object field as `unknown` (one
 * odd index name beats failing the batch), lower-cased (index names must be), with `%Y %m %d %H`
 * from the event time. Shared by the schema's checks, the encoder and the index template.
 */
import { NAME_TEMPLATE, type TemplateOptions } from '@tern/core';

export type EsMode = 'data_stream' | 'index';
export type EsIdStrategy = 'none' | 'content_hash' | 'source_offset';

export const TARGET_TEMPLATE: TemplateOptions = Object.freeze({ ...NAME_TEMPLATE, case: 'lower', dates: true });

/** The target in mode index when `index` is not set (it cannot be a schema default: setting `index` selects the mode). */
export const DEFAULT_INDEX = 'tern-%Y.%m.%d';

/** `<type>-<dataset>-<namespace>` with a type Elasticsearch ships data-stream templates for. */
export const DATA_STREAM_NAME = /^(?:logs|metrics|traces|synthetics)-[^-]+-[^-]+$/;

/** The mode in effect: as set, else `index` when an index is named, else `data_stream`. */
export function effectiveMode(c: { readonly mode?: EsMode | undefined; readonly index?: string | undefined }): EsMode {
  return c.mode ?? (c.index !== undefined ? 'index' : 'data_stream');
}
