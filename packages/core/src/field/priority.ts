/**
 * Falco's priority order, the one Falcosidekick's `minimumpriority` ranks by: the webhook sink's
 * `minimum_priority` and the CEL function `priority_at_least` (filter, route) both read it here, so
 * one pipeline cannot rank the same alert two ways.
 */

/** Falco's priorities, lowest first; `info` is Falco's short form of `informational`. */
export const PRIORITIES = ['debug', 'informational', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Rank of a priority (any case) in Falco's order; -1 for an unknown one (below every minimum). */
export function priorityRank(severity: string): number {
  const s = severity.toLowerCase();
  return PRIORITIES.indexOf((s === 'info' ? 'informational' : s) as Priority);
}
