/**
 * The `http_server` source: events pushed over HTTP(S) by Falco (`http_output`), kube-apiserver's
 * audit webhook backend, or any client that POSTs JSON, NDJSON or lines. See README.md.
 */
import type { SourceDefinition } from '@tern/core';
import { schema, validate, type HttpServerConfig } from './schema.ts';
import { HttpServerSource } from './server.ts';

export const httpServerSource: SourceDefinition<HttpServerConfig> = {
  kind: 'source',
  type: 'http_server',
  description: 'Receives events pushed over HTTP(S) (Falco http_output, the kube-apiserver audit webhook, JSON/NDJSON/text POSTs) and answers each sender the way it needs: hold or refuse with Retry-After when full, 2xx once every sink has them.',
  schema,
  validate,
  build: (config, ctx) => new HttpServerSource(config, ctx),
};

export const sources = [httpServerSource];
export { HttpServerSource };
export { PRESETS, parseAddress, schema, validate, type BodyDecoding, type HttpServerConfig, type Sender, type ServerTlsOptions, type WhenFull } from './schema.ts';
