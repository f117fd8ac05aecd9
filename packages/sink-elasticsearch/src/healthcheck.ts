/**
 * The start-up check: `GET /` through the official client, which applies the product check
 * (§2.3). It tells the three failures a human must fix apart from a server that is merely not up
 * yet: wrong credentials (TERN_ERR_SINK_AUTH), a server that is not Elasticsearch or is a major
 * this client cannot speak to (TERN_ERR_SINK_UNSUPPORTED: OpenSearch, Elasticsearch 7). The kit
 * logs those once, keeps the events buffered, and keeps checking.
 */
import type { Client } from '@elastic/elasticsearch';
import { TernError } from '@tern/core';

/** Majors the 8.x client works with: 8 natively, 9 through compatible-with=8 (§2.2). */
export const SUPPORTED_MAJORS: readonly number[] = [8, 9];

export interface ServerInfo {
  readonly version: string;
  readonly major: number;
  readonly distribution: string | undefined;
}

/** Checks what `GET /` says; throws a `TernError` for what the sink cannot use, resolves with the version otherwise. */
export function checkInfo(body: unknown): ServerInfo {
  const v = (body as { version?: { number?: unknown; distribution?: unknown } } | null)?.version;
  const version = typeof v?.number === 'string' ? v.number : '';
  const distribution = typeof v?.distribution === 'string' ? v.distribution : undefined;
  if (distribution === 'opensearch') {
    throw new TernError('TERN_ERR_SINK_UNSUPPORTED', `the server is OpenSearch ${version}, not Elasticsearch; the elasticsearch sink supports Elasticsearch ${SUPPORTED_MAJORS.join(' and ')}`);
  }
  const major = Number.parseInt(version, 10);
  if (!Number.isFinite(major)) throw new Error(`GET / did not report version.number`);
  if (!SUPPORTED_MAJORS.includes(major)) {
    throw new TernError('TERN_ERR_SINK_UNSUPPORTED', `the server is Elasticsearch ${version}; the elasticsearch sink supports majors ${SUPPORTED_MAJORS.join(' and ')}`);
  }
  return { version, major, distribution };
}

export async function healthcheck(client: Client, signal: AbortSignal): Promise<ServerInfo> {
  let body: unknown;
  try {
    body = await client.info({}, { signal, maxRetries: 0 });
  } catch (err) {
    const e = err as { name?: string; meta?: { statusCode?: number; body?: unknown } };
    const status = e.meta?.statusCode;
    if (e.name === 'ProductNotSupportedError') {
      throw new TernError('TERN_ERR_SINK_UNSUPPORTED', 'the server is not Elasticsearch (no X-Elastic-Product: Elasticsearch header; OpenSearch or a proxy in between?)', { cause: err });
    }
    if (status === 401 || status === 403) {
      throw new TernError('TERN_ERR_SINK_AUTH', `Elasticsearch refused the credentials (HTTP ${status})`, { cause: err });
    }
    if (status === 406 || (status === 400 && JSON.stringify(e.meta?.body ?? '').includes('media_type_header_exception'))) {
      throw new TernError('TERN_ERR_SINK_UNSUPPORTED', `the server refused the Elasticsearch 8 media type (HTTP ${status}): OpenSearch or Elasticsearch 7 are not supported`, { cause: err });
    }
    throw err;
  }
  return checkInfo(body);
}
