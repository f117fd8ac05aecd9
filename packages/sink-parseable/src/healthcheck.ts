/**
 * The start-up check: `GET /api/v1/readiness` (no credentials needed; 503 while the server is not
 * ready), then, with `create_stream`, `PUT /api/v1/logstream/{stream}`, where "already exists"
 * (400) counts as done. Credentials are only checked when the stream is created: an ingest-only
 * user may not list or create streams, so without `create_stream` a refused password shows at the
 * first ingest (the kit pauses the sink then, loudly, and keeps the data).
 */
import { HttpClient, TernError, bodyExcerpt } from '@tern/core';

export async function healthcheck(client: HttpClient, createStream: string | undefined, signal: AbortSignal): Promise<'created' | 'exists' | 'ready'> {
  const ready = await client.request({ method: 'GET', path: '/api/v1/readiness', signal });
  if (ready.status === 404) throw new TernError('TERN_ERR_SINK_UNSUPPORTED', 'GET /api/v1/readiness answered 404: is the endpoint a Parseable server (v1.x or later)?');
  if (ready.status !== 200) throw new Error(`Parseable is not ready (GET /api/v1/readiness: HTTP ${ready.status})`);
  if (createStream === undefined) return 'ready';
  const res = await client.request({ method: 'PUT', path: `/api/v1/logstream/${encodeURIComponent(createStream)}`, signal });
  const excerpt = res.body ? `: ${bodyExcerpt(res.body)}` : '';
  if (res.status === 200) return 'created';
  if (res.status === 400 && /already exists/i.test(res.body)) return 'exists';
  if (res.status === 401 || res.status === 403) throw new TernError('TERN_ERR_SINK_AUTH', `Parseable refused the credentials creating stream ${createStream} (HTTP ${res.status}${excerpt})`);
  throw new Error(`creating stream ${createStream} failed: HTTP ${res.status}${excerpt}`);
}
