/**
 * Compatibility levels of a Confluent-compatible registry, checked between a new schema and the
 * subject's live (not deleted) versions. BACKWARD: consumers using the new schema read data
 * written with the latest version; FORWARD: consumers of the latest version read data written
 * with the new one; FULL: both. The `_TRANSITIVE` variants check every earlier version instead of
 * the latest only; NONE checks nothing (Confluent's CompatibilityChecker).
 */
import type { CompiledSchema } from './formats.js';

/** Every level the `/config` API accepts. */
export const COMPATIBILITY_LEVELS = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const;

/** One compatibility level. */
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

/**
 * The incompatibilities of `candidate` with `previous` (oldest first) under `level`; empty when
 * compatible. Each message names the version it breaks with.
 */
export function checkCompatibility(level: CompatibilityLevel, candidate: CompiledSchema, previous: readonly { version: number; schema: CompiledSchema }[]): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const messages: string[] = [];
  for (const { version, schema } of [...against].reverse()) {
    if (backward) for (const m of candidate.canRead(schema)) messages.push(`BACKWARD with version ${version}: ${m}`);
    if (forward) for (const m of schema.canRead(candidate)) messages.push(`FORWARD with version ${version}: ${m}`);
    if (messages.length >= 50) break;
  }
  return messages;
}
