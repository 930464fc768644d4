/**
 * Grants: what a principal may do, compiled once at authentication into a `Scope` the core asks
 * on every produce, subscribe, fetch and join. Grants name topics AND keys, so one rule serves a
 * whole device fleet: `{"mqtt": "devices/{sub}/#"}` lets every device read and write its own MQTT
 * topics and nothing else, whichever Kafka topics the MQTT routes put them in.
 *
 * Grant syntax (API keys, certificates, anonymousGrants, and the JWT `topics` claim):
 * ```
 * { read:  [entry…], write: [entry…], admin: [topicPattern…], groups: [groupPattern…], metrics: bool, schemas: bool }
 * entry = "topicPattern"                       every key of the matching topics
 *       | {topic: "topicPattern", key: "F"}    keys matching the MQTT-style filter F
 *       | {mqtt: "F"}                          MQTT topics matching F, in the Kafka topics routes give them
 * ```
 * Patterns use `*` for any run of characters (matched in linear time). `{sub}` (the principal's
 * subject) and `{claim:NAME}` (a JWT string claim) are substituted first; an entry whose
 * substituted value is missing or contains a wildcard or level separator (`* + # /`) is dropped,
 * so a crafted identity can never widen a grant.
 */
import { z } from 'zod';
import type { KeyFilter, Principal } from './api.js';
import { compileFilters, type KeyPredicate } from './hub/filters.js';
import { mqttMatch, validateMqttFilter } from './hub/filters.js';

const entrySchema = z.union([
  z.string().min(1),
  z.strictObject({ topic: z.string().min(1), key: z.string().min(1).optional() }),
  z.strictObject({ mqtt: z.string().min(1) }),
]);

/** One entry of a `read` / `write` list. */
export type GrantEntry = z.infer<typeof entrySchema>;

/** The grants of a principal, as configured or claimed. */
export const grantsSchema = z.strictObject({
  read: z.array(entrySchema).default([]),
  write: z.array(entrySchema).default([]),
  /** Topic patterns: read and write of every key, and every group, on matching topics. */
  admin: z.array(z.string().min(1)).default([]),
  /** Group name patterns this principal may join, commit and read offsets of (as Kafka's GROUP ACLs). */
  groups: z.array(z.string().min(1)).default([]),
  /** May read `/metrics` (also implied by `admin: ["*"]`). */
  metrics: z.boolean().default(false),
  /**
   * May change the schema registry: register schemas, delete subjects and versions, set
   * compatibility and mode (also implied by `admin: ["*"]`). Reading it needs only an
   * authenticated (non-anonymous) principal.
   */
  schemas: z.boolean().default(false),
});

/** Validated grants (defaults filled in), the input `Scope.compile` turns into a principal's scope. */
export type Grants = z.infer<typeof grantsSchema>;

/** MQTT routing as the composition root hands it to the core: what `{mqtt: F}` grants expand to. */
export interface MqttRouting {
  /** First match wins: MQTT topic filter → Kafka topic. */
  readonly routes: readonly { readonly filter: string; readonly topic: string }[];
  /** Kafka topic of MQTT topics no route matches. */
  readonly defaultTopic: string;
}

/** `*` matches any run of characters; linear time (greedy with one backtrack point). */
export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

const PLACEHOLDER = /\{(sub|claim:([^{}]+))\}/g;
const UNSAFE_VALUE = /[*+#/\u0000]/;

/**
 * Substitutes `{sub}` (the principal's subject) and `{claim:NAME}` (a JWT string claim) in a
 * pattern. Undefined when a value is missing, empty, or contains `* + # /` or NUL — the caller
 * then grants nothing for that pattern.
 */
export function expandIdentityPattern(pattern: string, principal: Pick<Principal, 'id' | 'subject' | 'claims'>): string | undefined {
  let failed = false;
  const out = pattern.replace(PLACEHOLDER, (_, what: string, claim: string | undefined) => {
    const value = claim === undefined ? (principal.subject ?? principal.id) : principal.claims?.[claim];
    if (value === undefined || value === '' || UNSAFE_VALUE.test(value)) {
      failed = true;
      return '';
    }
    return value;
  });
  return failed ? undefined : out;
}

/** One compiled read or write rule. `key` undefined = every key. */
interface Rule {
  readonly topic: string;
  readonly key?: string;
}

/** What a principal may do on one topic for one action. */
export type TopicAccess = { readonly kind: 'none' } | { readonly kind: 'all' } | { readonly kind: 'keys'; readonly filters: readonly KeyFilter[]; readonly predicate: KeyPredicate };

const NONE: TopicAccess = Object.freeze({ kind: 'none' });
const ALL: TopicAccess = Object.freeze({ kind: 'all' });

/** Bound on the per-scope topic cache (a principal touching more topics just recomputes). */
const MAX_CACHED_TOPICS = 1_000;

/** A principal's compiled grants. Immutable; answers in time linear in the grants' size. */
export class Scope {
  private readonly cache = { read: new Map<string, TopicAccess>(), write: new Map<string, TopicAccess>() };

  private constructor(
    private readonly rules: { readonly read: readonly Rule[]; readonly write: readonly Rule[] },
    private readonly admin: readonly string[],
    private readonly groups: readonly string[],
    /** May read `/metrics`. */
    readonly metrics: boolean,
    /** May change the schema registry (grant `schemas`). */
    readonly schemas = false,
  ) {}

  /** A scope that allows nothing (a principal without grants while authentication is on). */
  static readonly EMPTY = new Scope({ read: [], write: [] }, [], [], false);

  /** Compiles grants for one principal (substitution done here, once). */
  static compile(grants: Grants, principal: Pick<Principal, 'id' | 'subject' | 'claims'>, mqtt?: MqttRouting): Scope {
    const expand = (p: string) => expandIdentityPattern(p, principal);
    const rules = (entries: readonly GrantEntry[]): Rule[] =>
      entries.flatMap((entry): Rule[] => {
        if (typeof entry === 'string') {
          const topic = expand(entry);
          return topic === undefined ? [] : [{ topic }];
        }
        if ('mqtt' in entry) {
          const filter = expand(entry.mqtt);
          if (filter === undefined || !validFilter(filter)) return [];
          return mqttTopicsFor(filter, mqtt).map((topic) => ({ topic, key: filter }));
        }
        const topic = expand(entry.topic);
        if (topic === undefined) return [];
        if (entry.key === undefined) return [{ topic }];
        const key = expand(entry.key);
        return key === undefined || !validFilter(key) ? [] : [{ topic, key }];
      });
    const list = (patterns: readonly string[]) => patterns.map(expand).filter((p): p is string => p !== undefined);
    const admin = list(grants.admin);
    return new Scope({ read: rules(grants.read), write: rules(grants.write) }, admin, list(grants.groups), grants.metrics || admin.includes('*'), grants.schemas || admin.includes('*'));
  }

  /** Holds `admin: ["*"]`: may use the operator's endpoints (connections, MQTT sessions, live metrics, the console's admin views). */
  get operator(): boolean {
    return this.admin.includes('*');
  }

  /** Holds some write grant (or an admin grant): the console shows it a produce form. */
  get writes(): boolean {
    return this.admin.length > 0 || this.rules.write.length > 0;
  }

  /** Which keys of `topic` the principal may read or write. */
  access(action: 'read' | 'write', topic: string): TopicAccess {
    const cache = this.cache[action];
    let access = cache.get(topic);
    if (access !== undefined) return access;
    access = this.compute(action, topic);
    if (cache.size >= MAX_CACHED_TOPICS) cache.clear();
    cache.set(topic, access);
    return access;
  }

  /** Whether the record with this key may be read / written on `topic`. */
  permits(action: 'read' | 'write', topic: string, key: Buffer | null): boolean {
    const access = this.access(action, topic);
    return access.kind === 'all' || (access.kind === 'keys' && access.predicate(key));
  }

  /**
   * Whether the principal may join, commit and read the offsets of `group` reading `topics`. Without
   * topics (group state kept before any join, e.g. a REST consumer instance) an admin of any topic
   * may: the join that follows is checked with its topics.
   */
  permitsGroup(group: string, topics?: readonly string[]): boolean {
    if (this.groups.some((p) => globMatch(p, group)) || this.admin.includes('*')) return true;
    if (topics === undefined) return this.admin.length > 0;
    return topics.length > 0 && topics.every((t) => this.admin.some((p) => globMatch(p, t)));
  }

  /** Whether the principal administers `topic` (an `admin` grant matches it): create, delete. */
  permitsAdmin(topic: string): boolean {
    return this.admin.some((p) => globMatch(p, topic));
  }

  private compute(action: 'read' | 'write', topic: string): TopicAccess {
    if (this.admin.some((p) => globMatch(p, topic))) return ALL;
    const filters: KeyFilter[] = [];
    for (const rule of this.rules[action]) {
      if (!globMatch(rule.topic, topic)) continue;
      if (rule.key === undefined) return ALL;
      filters.push({ kind: 'mqtt', filter: rule.key });
    }
    if (filters.length === 0) return NONE;
    return Object.freeze({ kind: 'keys', filters, predicate: compileFilters(filters) });
  }
}

function validFilter(filter: string): boolean {
  try {
    validateMqttFilter(filter);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Kafka topics where MQTT topics matching `filter` can be: every route whose filter overlaps
 * it, and the default topic unless an earlier route covers the whole filter. Without MQTT routing
 * (no MQTT adapter) `{mqtt: F}` grants nothing.
 */
function mqttTopicsFor(filter: string, mqtt: MqttRouting | undefined): string[] {
  if (mqtt === undefined) return [];
  const topics = new Set<string>();
  for (const route of mqtt.routes) {
    if (!filtersOverlap({ kind: 'mqtt', filter: route.filter }, { kind: 'mqtt', filter })) continue;
    topics.add(route.topic);
    if (mqttCovers(route.filter, filter)) return [...topics];
  }
  topics.add(mqtt.defaultTopic);
  return [...topics];
}

/** Whether every topic `inner` matches is matched by `outer`. */
function mqttCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const i = inner.split('/');
  for (let n = 0; n < o.length; n++) {
    if (o[n] === '#') return n > 0 || !(i[0] ?? '').startsWith('$');
    if (n >= i.length) return false;
    if (i[n] === '#') return false;
    if (o[n] === '+') {
      if (n === 0 && (i[0] ?? '').startsWith('$')) return false;
      continue;
    }
    if (o[n] !== i[n]) return false;
  }
  return o.length === i.length;
}

/**
 * Whether some key could match both filters: decides, before a subscription starts, that one which
 * can never deliver anything inside the principal's scope is refused instead of waiting forever.
 * Conservative (true) where an exact answer would cost more than a level-by-level walk.
 */
export function filtersOverlap(a: KeyFilter, b: KeyFilter): boolean {
  if (a.kind === 'all' || b.kind === 'all') return true;
  if (a.kind === 'exact' && b.kind === 'exact') return a.key === b.key;
  if (a.kind === 'exact') return keyMayMatch(a.key, b);
  if (b.kind === 'exact') return keyMayMatch(b.key, a);
  if (a.kind === 'prefix' && b.kind === 'prefix') return a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
  if (a.kind === 'mqtt' && b.kind === 'mqtt') return mqttOverlap(a.filter.split('/'), b.filter.split('/'));
  return true;
}

function keyMayMatch(key: string, filter: KeyFilter): boolean {
  switch (filter.kind) {
    case 'all':
      return true;
    case 'exact':
      return filter.key === key;
    case 'prefix':
      return key.startsWith(filter.prefix);
    case 'mqtt':
      return mqttMatch(filter.filter, key);
  }
}

function mqttOverlap(a: readonly string[], b: readonly string[]): boolean {
  // [MQTT-5:4.7.2-1] a leading wildcard never matches a `$` topic.
  const dollar = (levels: readonly string[]) => (levels[0] ?? '').startsWith('$');
  const wild = (level: string | undefined) => level === '+' || level === '#';
  if ((dollar(a) && wild(b[0])) || (dollar(b) && wild(a[0]))) return false;
  for (let n = 0; ; n++) {
    const x = a[n];
    const y = b[n];
    if (x === '#' || y === '#') return true;
    if (x === undefined || y === undefined) return x === undefined && y === undefined;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
}
