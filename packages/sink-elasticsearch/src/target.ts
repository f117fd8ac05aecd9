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

/**
 * A name Elasticsearch's stock templates make a data stream: their patterns are globs (`logs-*-*`,
 * `metrics-*-*`, ...), so `logs-my-app-default` is one as much as `logs-cilium_tetragon.log-default`
 * (a `*` takes dashes too). Tested the way Elasticsearch matches them, not as three dash-free parts:
 * a name the cluster takes as a data stream but tern did not would get no `@timestamp`, and every
 * document would be refused.
 */
export const DATA_STREAM_NAME = /^(?:logs|metrics|traces|synthetics)-.*-/s;

/** The mode in effect: as set, else `index` when an index is named, else `data_stream`. */
export function effectiveMode(c: { readonly mode?: EsMode | undefined; readonly index?: string | undefined }): EsMode {
  return c.mode ?? (c.index !== undefined ? 'index' : 'data_stream');
}
