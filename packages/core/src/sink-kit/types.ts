/**
 * The contract between a network sink's protocol code and the delivery kit.
 *
 * A sink author implements `SinkProtocol`: turn events into one request (`encode`, pure), send it
 * once (`send`), and say what the answer means (`SendResult`). Everything else (batching,
 * partitioning, compression, concurrency, timeouts, retries, splitting, pausing on bad credentials,
 * acknowledgements, counters, shutdown) is the kit's job, so every sink behaves the same way under
 * failure. The option types keep the YAML keys (snake_case) so no mapping layer can drift.
 */
import type { LogEvent } from '../event/event.ts';

/** An encoded request: the body (before compression) plus whatever the sink needs to send it. */
export interface EncodedRequest {
  /** Request body before compression. Its UTF-8 length is what `batch.max_bytes` limits. */
  readonly body: string | Buffer;
}

/** The body as it goes on the wire. */
export interface Payload {
  /** Compressed when `encoding` is `gzip`, else the encoded body itself. */
  readonly body: string | Buffer;
  /** `gzip`: the sink must send `Content-Encoding: gzip`. */
  readonly encoding: 'gzip' | 'identity';
  /** Bytes of the uncompressed body. */
  readonly rawBytes: number;
  /** Bytes on the wire. */
  readonly wireBytes: number;
}

/** An event the server refused for good, by its position in the request. */
export interface ItemRejection {
  readonly index: number;
  readonly reason: string;
  /** The item's own status, when the protocol has one (Elasticsearch bulk items). */
  readonly status?: number;
  /** The server's answer for this item (its error object as JSON, or text), for the dead letter. */
  readonly answer?: string;
}

/**
 * What one request's answer means.
 *
 * - `ok`: every event is stored. `duplicates` counts those the server already had (ES 409 on
 *   `create` with a deterministic id): they are delivered, and also counted as `events_duplicate`.
 * - `retry`: nothing (reliably) stored; send the same events again after backoff, or after
 *   `afterMs` (Retry-After) when it is longer.
 * - `retry_items`: the request was answered item by item. `indices` (positions in the request) are
 *   resent alone in a new, smaller request; `rejected` are refused for good; every other event is
 *   stored.
 * - `permanent`: the server will never take this request (bad request, other 4xx): its events are
 *   rejected, counted and their acks released as `rejected`.
 * - `too_large`: split in halves and resend; a single event that is too large is rejected.
 * - `auth`: the credentials were refused (401/403). The kit pauses the sink, logs
 *   `TERN_ERR_SINK_AUTH` once, and keeps retrying slowly with the data kept.
 * - `unsupported`: the server is not what the sink speaks to (OpenSearch, a too old major, 406).
 *   Like `auth`, with `TERN_ERR_SINK_UNSUPPORTED`: rejecting the data would lose it for a problem
 *   a human fixes by pointing the sink elsewhere.
 */
export type SendResult =
  | { readonly kind: 'ok'; readonly duplicates?: number }
  | { readonly kind: 'retry'; readonly reason: string; readonly afterMs?: number }
  | {
      readonly kind: 'retry_items';
      readonly indices: readonly number[];
      readonly reason: string;
      readonly afterMs?: number;
      readonly rejected?: readonly ItemRejection[];
      readonly duplicates?: number;
    }
  | { readonly kind: 'permanent'; readonly reason: string; readonly status?: number; readonly answer?: string }
  | { readonly kind: 'too_large'; readonly reason?: string }
  | { readonly kind: 'auth'; readonly status: number; readonly reason: string }
  | { readonly kind: 'unsupported'; readonly reason: string };

/** Protocol code of one sink. `R` is the sink's encoded request. */
export interface SinkProtocol<R extends EncodedRequest = EncodedRequest> {
  /** Encodes events for one request. Pure: no I/O, no shared state changes (the kit may re-encode subsets). */
  encode(events: readonly LogEvent[], partition: string): R;
  /**
   * Sends one request and classifies the answer. A thrown error counts as a transient failure
   * (connection reset, timeout), except a `TernError` with code `TERN_ERR_SINK_UNSUPPORTED` or
   * `TERN_ERR_SINK_AUTH`, which pauses the sink like an `auth` result.
   */
  send(request: R, payload: Payload, signal: AbortSignal): Promise<SendResult>;
  /** Partition key (index, stream) of an event: the kit keeps one batch per key. Omit for one batch. */
  partition?(ev: LogEvent): string;
  /** Estimated encoded bytes of one event, for `max_bytes` before encoding (default: raw length + 1). */
  estimate?(ev: LogEvent): number;
  /**
   * Checks that the destination is reachable and is what we expect. Resolves when healthy; throws
   * otherwise (a `TernError` with `TERN_ERR_SINK_UNSUPPORTED` or `TERN_ERR_SINK_AUTH` is logged as
   * an error once and retried slowly; anything else is retried with backoff).
   */
  healthcheck?(signal: AbortSignal): Promise<void>;
  /** Releases connections after the kit stopped. */
  close?(): Promise<void>;
}

// ---------------------------------------------------------------- shared options (YAML keys)

export interface BatchOptions {
  /** Flush a batch when it holds this many events. */
  readonly max_events?: number;
  /** Flush a batch when its encoded size (before compression) reaches this many bytes. */
  readonly max_bytes?: number;
  /** Flush a non-empty batch this long after its first event arrived. */
  readonly timeout_ms?: number;
}

export interface RequestOptions {
  /** Requests in flight at once. */
  readonly concurrency?: number;
  /** Abort a request (and retry it) after this long. */
  readonly timeout_ms?: number;
  /** Backoff base of the first retry. */
  readonly retry_initial_ms?: number;
  /** Backoff cap; also the probe interval while paused on bad credentials. */
  readonly retry_max_ms?: number;
  /** Give up on transient failures after this long and reject the events; 0 retries forever. */
  readonly retry_max_duration_ms?: number;
  /** Extra HTTP headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface TlsOptions {
  readonly ca_file?: string;
  readonly crt_file?: string;
  readonly key_file?: string;
  readonly server_name?: string;
  readonly verify?: boolean;
}

/** The `auth` block (one closed object in the schema; `validateAuth` checks which keys go with which strategy). */
export interface AuthOptions {
  readonly strategy: 'basic' | 'bearer' | 'api_key';
  readonly user?: string;
  readonly password?: string;
  readonly password_file?: string;
  readonly token?: string;
  readonly token_file?: string;
  readonly api_key?: string;
  readonly api_key_file?: string;
}

export type Compression = 'gzip' | 'none';

/** The `buffer` block every sink has (see buffer/schema.ts). */
export interface BufferOptions {
  /** `memory`: events wait in memory; `disk`: in a checksummed segment log under `data_dir`. */
  readonly type?: 'memory' | 'disk';
  /** Memory buffer: events held (accepted, not yet delivered or refused). */
  readonly max_events?: number;
  /** Memory: bytes of events held; disk: bytes on disk. */
  readonly max_bytes?: number;
  /** What happens when the buffer is full: wait (backpressure to the sources), or drop and count the newest events. */
  readonly when_full?: 'block' | 'drop_newest';
  /** Disk: `batch` fsyncs before the source's checkpoint may move (survives power loss); `none` leaves it to the OS (survives a crash of tern). */
  readonly sync?: 'batch' | 'none';
}

/** Delivery options of one sink, as read from YAML (everything optional; the kit fills defaults). */
export interface DeliveryOptions {
  readonly batch?: BatchOptions;
  readonly request?: RequestOptions;
  readonly compression?: Compression;
  readonly healthcheck?: boolean;
  readonly buffer?: BufferOptions;
}

/**
 * Delivery options as a sink's schema completes them (`batchSchema`, `requestSchema`,
 * `COMPRESSION_SCHEMA`, `HEALTHCHECK_SCHEMA` all carry defaults): the type a sink's `build`
 * receives, so it reads them without defaulting again.
 */
export interface DefaultedDelivery extends DeliveryOptions {
  readonly batch: Required<BatchOptions>;
  readonly request: Required<Omit<RequestOptions, 'headers'>> & Pick<RequestOptions, 'headers'>;
  readonly compression: Compression;
  readonly healthcheck: boolean;
}

export type { Clock } from '../time/clock.ts';
