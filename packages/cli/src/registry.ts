/**
 * Every built-in plugin, registered once. The CLI is the only package that knows them all; core
 * imports no plugin.
 */
import { Registry, type ComponentDefinition } from '@tern/core';
import * as elasticsearch from '@tern/sink-elasticsearch';
import { sinks as fileSinks } from '@tern/sink-file';
import * as logscale from '@tern/sink-logscale';
import * as parseable from '@tern/sink-parseable';
import * as webhook from '@tern/sink-webhook';
import { sources } from '@tern/source-file';
import { sources as httpSources } from '@tern/source-http';
import * as transforms from '@tern/transforms';

/** Reads a package's list of definitions (`sinks`, `transforms`), tolerating packages that export none yet. */
function list(pkg: object, key: string): ComponentDefinition<never>[] {
  const v = (pkg as Record<string, unknown>)[key];
  return Array.isArray(v) ? (v as ComponentDefinition<never>[]) : [];
}

export function builtinRegistry(): Registry {
  return new Registry().register(
    ...(sources as ComponentDefinition<never>[]),
    ...(httpSources as ComponentDefinition<never>[]),
    ...list(transforms, 'transforms'),
    ...(fileSinks as ComponentDefinition<never>[]),
    ...list(elasticsearch, 'sinks'),
    ...list(logscale, 'sinks'),
    ...list(parseable, 'sinks'),
    ...list(webhook, 'sinks'),
  );
}
