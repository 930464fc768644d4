/**
 * Key filters, evaluated in the hub so adapters never re-filter: exact key, key prefix, and MQTT
 * topic filters over the key (MQTT keys records by their MQTT topic name).
 */
import type { KeyFilter } from '../api.js';
import { GatewayError } from '../errors.js';

/** A compiled predicate over record keys. */
export type KeyPredicate = (key: Buffer | null) => boolean;

/**
 * The predicate of a subscription without key filters or read scope. The hub recognises it by
 * identity and hands such subscribers the shared reader's record array itself (no per-subscriber
 * copy), which lets adapters encode a whole batch once for all of them (gateway/encoded.ts).
 */
export const MATCH_ALL: KeyPredicate = () => true;

/** Validates filters and compiles them into one predicate (any filter matching = match). */
export function compileFilters(filters: readonly KeyFilter[] | undefined): KeyPredicate {
  if (filters === undefined || filters.length === 0) return MATCH_ALL;
  const predicates = filters.map(compileOne);
  if (predicates.length === 1) return predicates[0]!;
  return (key) => predicates.some((p) => p(key));
}

function compileOne(filter: KeyFilter): KeyPredicate {
  switch (filter.kind) {
    case 'all':
      return MATCH_ALL;
    case 'exact': {
      const wanted = Buffer.from(filter.key, 'utf8');
      return (key) => key !== null && key.equals(wanted);
    }
    case 'prefix': {
      const prefix = Buffer.from(filter.prefix, 'utf8');
      return (key) => key !== null && key.length >= prefix.length && key.subarray(0, prefix.length).equals(prefix);
    }
    case 'mqtt': {
      validateMqttFilter(filter.filter);
      const levels = filter.filter.split('/');
      return (key) => key !== null && mqttMatchLevels(levels, key.toString('utf8'));
    }
  }
}

/**
 * Checks an MQTT topic filter: non-empty, `#` only as the whole last level, `+` only as a whole
 * level, no NUL. [MQTT-5:4.7.1-1] [MQTT-5:4.7.1-2] [MQTT-5:4.7.3-1] (the same clauses in 3.1.1)
 */
export function validateMqttFilter(filter: string): void {
  if (filter.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'A topic filter must not be empty.');
  if (filter.includes('\u0000')) throw new GatewayError('INVALID_ARGUMENT', 'A topic filter must not contain NUL.');
  const levels = filter.split('/');
  levels.forEach((level, i) => {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      throw new GatewayError('INVALID_ARGUMENT', `Invalid topic filter "${filter}": "#" must be the whole last level.`);
    }
    if (level.includes('+') && level !== '+') {
      throw new GatewayError('INVALID_ARGUMENT', `Invalid topic filter "${filter}": "+" must be a whole level.`);
    }
  });
}

/** True when the MQTT topic name matches the filter. */
export function mqttMatch(filter: string, topic: string): boolean {
  return mqttMatchLevels(filter.split('/'), topic);
}

function mqttMatchLevels(filterLevels: readonly string[], topic: string): boolean {
  // [MQTT-5:4.7.2-1] / [MQTT-3.1.1:4.7.2-1] a filter starting with a wildcard does not match topics starting with "$".
  if (topic.startsWith('$') && (filterLevels[0] === '#' || filterLevels[0] === '+')) return false;
  const topicLevels = topic.split('/');
  for (let i = 0; i < filterLevels.length; i++) {
    const f = filterLevels[i]!;
    if (f === '#') return true; // also matches the parent level: "a/#" matches "a" [MQTT-5:4.7.1-2]
    if (i >= topicLevels.length) return false;
    if (f !== '+' && f !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
