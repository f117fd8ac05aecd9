/**
 * Public API of `@tern/transforms`: the transform definitions the CLI registers (`transforms`), each
 * definition on its own, and the pure helpers other packages may reuse (CEL compilation and its
 * validation messages, field paths, templates, Tetragon filter lists, label selectors, the
 * user-agent, public-suffix and GeoIP lookups).
 */
import type { TransformDefinition } from '@tern/core';
import { dedupeTransform } from './dedupe.ts';
import { domainTransform } from './domain.ts';
import { ecsTransform } from './ecs/index.ts';
import { filterTransform } from './filter.ts';
import { geoipTransform } from './geoip.ts';
import { remapTransform } from './remap.ts';
import { routeTransform } from './route.ts';
import { sampleTransform } from './sample.ts';
import { tetragonFilterTransform } from './tetragon-filter.ts';
import { throttleTransform } from './throttle.ts';
import { timestampTransform } from './timestamp.ts';
import { userAgentTransform } from './user-agent.ts';

export { dedupeTransform, domainTransform, ecsTransform, filterTransform, geoipTransform, remapTransform, routeTransform, sampleTransform, tetragonFilterTransform, throttleTransform, timestampTransform, userAgentTransform };
export type { DomainConfig, DomainParts } from './domain.ts';
export type { GeoipConfig } from './geoip.ts';
export type { UserAgentConfig, UserAgentFields } from './user-agent.ts';
export { splitDomain } from './domain.ts';
export { asFields, geoFields } from './geoip.ts';
export { createUserAgentParser, parseUserAgentUncached } from './user-agent.ts';
export type { DedupeConfig } from './dedupe.ts';
export type { FilterConfig } from './filter.ts';
export type { RemapConfig, RemapOperation } from './remap.ts';
export type { RouteConfig } from './route.ts';
export type { SampleConfig } from './sample.ts';
export type { CapFilter, CapFilterSet, TetragonFilterConfig, TetragonFilterSpec } from './tetragon-filter.ts';
export type { ThrottleConfig, ThrottleTransform } from './throttle.ts';
export { UNMATCHED_OUTPUT } from './route.ts';
export { createThrottle } from './throttle.ts';
export { keepKey } from './sample.ts';
export { compileCondition, conditionError, ConditionCompileError } from './cel.ts';
export type { CompiledCondition, ConditionScope } from './cel.ts';
export { compileRe2, compileTetragonFilter, parseFilterList, EVENT_TYPES } from './tetragon-filter.ts';
export { parseLabelSelector } from './label-selector.ts';
export type { LabelMatcher } from './label-selector.ts';

/** Every transform of this package, in the order `tern validate` lists them. */
export const transforms: TransformDefinition[] = [
  timestampTransform,
  ecsTransform,
  userAgentTransform,
  domainTransform,
  geoipTransform,
  filterTransform,
  routeTransform,
  remapTransform,
  sampleTransform,
  throttleTransform,
  dedupeTransform,
  tetragonFilterTransform,
];
