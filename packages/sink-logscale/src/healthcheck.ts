/**
 * The start-up check. LogScale has no "who am I" call an ingest token may use (the token can only
 * ingest), so the check is an ingest of nothing: `POST <ingest path>` with `[]`, which proves the
 * endpoint, the path and the token without storing an event. HEC mode uses the HEC health path
 * Vector's `humio_logs` sink calls (200 healthy, 400 invalid token, 503 queues full; §1.1).
 *
 * A refused token is a `TERN_ERR_SINK_AUTH` (logged once, retried slowly, events kept); a 404 on
 * the path means a wrong endpoint or a mode the cluster does not serve; anything else is retried.
 * That LogScale answers `[]` with 200 is [UNCONFIRMED] against a real cluster (the emulator does).
 */
import { HttpClient, TernError, bodyExcerpt } from '@tern/core';
import { INGEST_PATHS } from './request.ts';
import type { LogScaleMode } from './schema.ts';

export async function healthcheck(client: HttpClient, mode: LogScaleMode, signal: AbortSignal): Promise<void> {
  const res =
    mode === 'hec'
      ? await client.request({ method: 'GET', path: '/services/collector/health/1.0', signal })
      : await client.request({ method: 'POST', path: INGEST_PATHS[mode], headers: { 'content-type': 'application/json' }, body: '[]', signal });
  const excerpt = res.body ? `: ${bodyExcerpt(res.body)}` : '';
  if (res.status === 200) return;
  if (res.status === 401 || res.status === 403 || (mode === 'hec' && res.status === 400)) {
    throw new TernError('TERN_ERR_SINK_AUTH', `LogScale refused the ingest token (HTTP ${res.status}${excerpt})`);
  }
  if (res.status === 404) {
    throw new TernError('TERN_ERR_SINK_UNSUPPORTED', `LogScale answered 404 for ${mode === 'hec' ? 'the HEC health path' : INGEST_PATHS[mode]}: check endpoint and mode (HTTP 404${excerpt})`);
  }
  throw new Error(`LogScale healthcheck: HTTP ${res.status}${excerpt}`);
}
