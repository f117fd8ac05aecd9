/**
 * Every built-in plugin, registered once. The CLI is the only package that knows them all; core
 * imports no plugin. Each package exports its definitions as a typed list (`sources`, `transforms`,
 * `sinks`), read here by name: a package that stopped exporting its list fails the typecheck
 * instead of registering nothing.
 */
import { Registry } from '@tern/core';
import { sinks as elasticsearchSinks } from '@tern/sink-elasticsearch';
import { sinks as fileSinks } from '@tern/sink-file';
import { sinks as logscaleSinks } from '@tern/sink-logscale';
import { sinks as parseableSinks } from '@tern/sink-parseable';
import { sinks as webhookSinks } from '@tern/sink-webhook';
import { sources as fileSources } from '@tern/source-file';
import { sources as httpSources } from '@tern/source-http';
import { transforms } from '@tern/transforms';

export function builtinRegistry(): Registry {
  return new Registry().register(...fileSources, ...httpSources, ...transforms, ...fileSinks, ...elasticsearchSinks, ...logscaleSinks, ...parseableSinks, ...webhookSinks);
}
