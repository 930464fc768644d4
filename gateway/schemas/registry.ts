/**
 * A Confluent-compatible schema registry in the core: subjects, versions, global schema ids,
 * compatibility, config and mode, stored so that Confluent Schema Registry or Karapace could
 * later be pointed at the same topic.
 *
 * Storage. The registry's state is the compacted single-partition topic `schemaRegistry.topic`
 * (default `_schemas`) in Confluent's record format: key
 * `{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}` → value
 * `{"subject","version","id","schemaType"?,"references"?,"schema","deleted"}`, plus `CONFIG`,
 * `MODE` and `DELETE_SUBJECT` keys; a permanently deleted version is a tombstone. Every instance
 * reads that topic fully and follows it (a CompactedTable), so it answers reads from memory.
 *
 * Ids. Ids are global (one id per distinct schema, whatever the subject) and allocated without a
 * leader, by a deterministic fold over a second single-partition topic,
 * `__streamgate-schema-ids`: an instance about to register appends an allocation request
 * (subject, the schema's identity, and the subject's last allocated version it saw); every
 * instance folds those requests in log (offset) order with the same rule — a request made on a
 * stale view of its subject loses and is retried, the identity of a known schema keeps its id,
 * a new one takes max id + 1 — so all instances compute the same id and version for each
 * request, and two concurrent registrations can never take the same id or overwrite each
 * other's `_schemas` key. The winner then writes the SCHEMA record and answers. A leader
 * elected through the instance table would need requests forwarded to it and a fence against
 * two leaders during a handover; the log already orders writers, so it is the arbiter. The
 * allocation log is small (one record per registration, never compacted away: unique keys).
 * An allocation whose writer crashed before writing `_schemas` only leaves a version-number gap;
 * the client's retry registers again (same id).
 *
 * Compiled schemas are cached per id (bounded LRU) for encode / decode / validate.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Context } from '../api.js';
import { GatewayError } from '../errors.js';
import type { CompactedTable } from '../table.js';
import { checkCompatibility, COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility.js';
import { compileSchema, invalidSchema, SCHEMA_TYPES, type CompiledSchema, type ResolvedReference, type SchemaLimits, type SchemaType } from './formats.js';
import { decodeFramed, encodeFramed } from './wire.js';

/** The registry's configuration (config section `schemaRegistry`). */
export interface SchemaRegistryOptions extends SchemaLimits {
  /** The compacted topic holding the schemas (Confluent's `kafkastore.topic`, default `_schemas`). */
  readonly topic: string;
  /** The level subjects without their own config get until `/config` is set. */
  readonly defaultCompatibility: CompatibilityLevel;
  /** Compiled schemas kept for encode / decode / validate. */
  readonly compiledCacheSize: number;
  /** Subjects the registry holds at most (each registration checks). */
  readonly maxSubjects: number;
  /** Versions one subject holds at most (live or soft-deleted). */
  readonly maxVersionsPerSubject: number;
}

/** A reference as the API names it: the name the schema imports, and the subject version it is. */
export interface SchemaReference {
  readonly name: string;
  readonly subject: string;
  readonly version: number;
}

/** A schema as a client registers it. */
export interface SchemaInput {
  readonly schema: string;
  readonly schemaType?: SchemaType;
  readonly references?: readonly SchemaReference[];
}

/** One version of a subject. */
export interface SubjectVersion {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly schemaType: SchemaType;
  readonly schema: string;
  readonly references: readonly SchemaReference[];
  readonly deleted: boolean;
}

/** The registry modes of the `/mode` API. IMPORT is accepted and stored; streamgate never assigns ids from requests. */
export const MODES = ['READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT'] as const;
/** One registry mode. */
export type Mode = (typeof MODES)[number];

interface StoredSchema {
  readonly id: number;
  readonly schemaType: SchemaType;
  readonly schema: string;
  readonly references: readonly SchemaReference[];
}

interface Allocation {
  readonly subject: string;
  /** Identity of the schema: type + canonical text + references. */
  readonly identity: string;
  /** The subject's last allocated version the requester saw (0 = none). */
  readonly basis: number;
}

type AllocationResult = { readonly id: number; readonly version: number } | 'conflict';

const ALLOCATION_RETRIES = 8;
/** A bound subject not known here is looked for in the backend at most this often (topic bindings). */
const MISSING_SUBJECT_SYNC_MS = 1_000;

/** The registry over its two tables. Every method takes the caller's context for authorization. */
export class SchemaRegistry {
  private readonly versions = new Map<string, Map<number, SubjectVersion>>();
  private readonly byId = new Map<number, StoredSchema>();
  private readonly configs = new Map<string, CompatibilityLevel>();
  private readonly modes = new Map<string, Mode>();
  private readonly compiled = new Map<number, CompiledSchema>();
  private readonly missSyncs = new Map<string, number>();
  private fold: { offsetCount: number; results: Map<string, AllocationResult>; subjectMax: Map<string, number> } | undefined;
  private opened: Promise<{ store: CompactedTable; ids: CompactedTable }> | undefined;

  constructor(
    readonly options: SchemaRegistryOptions,
    private readonly openTables: () => Promise<{ store: CompactedTable; ids: CompactedTable }>,
    private readonly log: Logger,
  ) {}

  /** The schema types the registry accepts. */
  types(): readonly SchemaType[] {
    return SCHEMA_TYPES;
  }

  // --- authorization ---------------------------------------------------------------------------

  /** Reading needs an authenticated principal once authentication is on (anonymous ones are refused). */
  private checkRead(ctx: Context): void {
    if (ctx.principal.scope !== undefined && ctx.principal.anonymous) throw new GatewayError('UNAUTHENTICATED', 'The schema registry needs credentials.');
  }

  /** Changing the registry needs the `schemas` grant (or `admin: ["*"]`). */
  private checkWrite(ctx: Context, subject: string | undefined, operation: string): void {
    this.checkRead(ctx);
    const scope = ctx.principal.scope;
    if (scope !== undefined && !scope.schemas) {
      ctx.log.warn({ audit: 'denied', action: operation, subject, protocol: ctx.protocol }, 'request denied');
      throw new GatewayError('PERMISSION_DENIED', `Principal ${ctx.principal.id} may not change the schema registry (grant "schemas").`);
    }
  }

  private checkMode(subject: string | undefined): void {
    const mode = (subject === undefined ? undefined : this.modes.get(subject)) ?? this.modes.get('') ?? 'READWRITE';
    if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') throw new GatewayError('OPERATION_NOT_PERMITTED', `The ${subject === undefined ? 'registry' : `subject ${subject}`} is in ${mode} mode.`);
  }

  // --- tables ----------------------------------------------------------------------------------

  private async tables(): Promise<{ store: CompactedTable; ids: CompactedTable }> {
    if (this.opened === undefined) {
      const opened = this.openTables().then((t) => {
        for (const [key] of t.store.entries()) this.applyStore(t.store, key);
        t.store.onChange((key) => this.applyStore(t.store, key));
        t.ids.onChange(() => (this.fold = undefined));
        return t;
      });
      this.opened = opened;
      opened.catch(() => {
        if (this.opened === opened) this.opened = undefined;
      });
    }
    return this.opened;
  }

  /** Brings both tables up to what the backend acknowledged (another instance's writes included). */
  private async synced(): Promise<{ store: CompactedTable; ids: CompactedTable }> {
    const t = await this.tables();
    await Promise.all([t.store.sync(), t.ids.sync()]);
    return t;
  }

  private applyStore(store: CompactedTable, rawKey: string): void {
    let key: { keytype?: unknown; subject?: unknown; version?: unknown };
    try {
      key = JSON.parse(rawKey) as typeof key;
    } catch {
      return; // not a registry key (NOOP records and foreign writers are skipped)
    }
    const raw = store.get(rawKey);
    let value: Record<string, unknown> | undefined;
    try {
      value = raw === undefined || raw.length === 0 ? undefined : (JSON.parse(raw.toString('utf8')) as Record<string, unknown>);
    } catch {
      this.log.warn({ key: rawKey }, 'unreadable schema registry record ignored');
      return;
    }
    const subject = typeof key.subject === 'string' ? key.subject : undefined;
    switch (key.keytype) {
      case 'SCHEMA': {
        if (subject === undefined || typeof key.version !== 'number') return;
        const versions = this.versions.get(subject) ?? new Map<number, SubjectVersion>();
        if (value === undefined) versions.delete(key.version);
        else {
          const entry = parseSchemaValue(value);
          if (entry === undefined) return;
          versions.set(entry.version, entry);
          if (!this.byId.has(entry.id)) this.byId.set(entry.id, { id: entry.id, schemaType: entry.schemaType, schema: entry.schema, references: entry.references });
        }
        if (versions.size === 0) this.versions.delete(subject);
        else this.versions.set(subject, versions);
        return;
      }
      case 'CONFIG': {
        const level = value?.compatibilityLevel;
        if (value === undefined || typeof level !== 'string' || !(COMPATIBILITY_LEVELS as readonly string[]).includes(level)) this.configs.delete(subject ?? '');
        else this.configs.set(subject ?? '', level as CompatibilityLevel);
        return;
      }
      case 'MODE': {
        const mode = value?.mode;
        if (value === undefined || typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) this.modes.delete(subject ?? '');
        else this.modes.set(subject ?? '', mode as Mode);
        return;
      }
      case 'DELETE_SUBJECT': {
        // Confluent's soft delete of a subject: every version up to `version` is deleted.
        const upTo = value?.version;
        const versions = subject === undefined ? undefined : this.versions.get(subject);
        if (versions === undefined || typeof upTo !== 'number') return;
        for (const [v, entry] of versions) if (v <= upTo) versions.set(v, { ...entry, deleted: true });
        return;
      }
      default:
        return;
    }
  }

  /** The allocation fold (see the file comment), recomputed when the allocation log changed. */
  private allocations(ids: CompactedTable): NonNullable<SchemaRegistry['fold']> {
    if (this.fold !== undefined) return this.fold;
    const entries: { offset: bigint; key: string; value: Allocation }[] = [];
    for (const [key, raw] of ids.entries()) {
      const offset = ids.offsetOf(key);
      if (offset === undefined) continue;
      try {
        const value = JSON.parse(raw.toString('utf8')) as Allocation;
        if (typeof value.subject === 'string' && typeof value.identity === 'string' && typeof value.basis === 'number') entries.push({ offset, key, value });
      } catch {
        // a record this version cannot read allocates nothing, on every instance alike
      }
    }
    entries.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    let maxId = 0;
    const idOf = new Map<string, number>();
    const subjectMax = new Map<string, number>();
    const last = new Map<string, { identity: string; version: number; id: number }>();
    const results = new Map<string, AllocationResult>();
    for (const { key, value } of entries) {
      const current = subjectMax.get(value.subject) ?? 0;
      if (current > value.basis) {
        const previous = last.get(value.subject);
        // The same schema registered concurrently on two instances: both get the one version.
        results.set(key, previous !== undefined && previous.identity === value.identity ? { id: previous.id, version: previous.version } : 'conflict');
        continue;
      }
      let id = idOf.get(value.identity);
      if (id === undefined) {
        id = ++maxId;
        idOf.set(value.identity, id);
      }
      const version = current + 1;
      subjectMax.set(value.subject, version);
      last.set(value.subject, { identity: value.identity, version, id });
      results.set(key, { id, version });
    }
    this.fold = { offsetCount: entries.length, results, subjectMax };
    return this.fold;
  }

  // --- reads -----------------------------------------------------------------------------------

  /** Subject names (live ones, or also soft-deleted ones), sorted. */
  async subjects(ctx: Context, options: { deleted?: boolean; prefix?: string } = {}): Promise<string[]> {
    this.checkRead(ctx);
    await this.synced();
    const out: string[] = [];
    for (const [subject, versions] of this.versions) {
      if (options.prefix !== undefined && !subject.startsWith(options.prefix)) continue;
      if (options.deleted === true || [...versions.values()].some((v) => !v.deleted)) out.push(subject);
    }
    return out.sort();
  }

  /** The subject's version numbers, ascending; SUBJECT_NOT_FOUND when it has none (live). */
  async versionsOf(ctx: Context, subject: string, options: { deleted?: boolean } = {}): Promise<number[]> {
    this.checkRead(ctx);
    await this.synced();
    const list = this.live(subject, options.deleted === true);
    if (list.length === 0) throw subjectNotFound(subject);
    return list.map((v) => v.version);
  }

  /** One version (`latest` = the highest live one). */
  async version(ctx: Context, subject: string, version: string | number, options: { deleted?: boolean } = {}): Promise<SubjectVersion> {
    this.checkRead(ctx);
    await this.synced();
    return this.resolveVersion(subject, version, options.deleted === true);
  }

  /** The schema with this id. */
  async schemaById(ctx: Context, id: number): Promise<StoredSchema> {
    this.checkRead(ctx);
    const found = this.byId.get(id) ?? (await this.synced(), this.byId.get(id));
    if (found === undefined) throw new GatewayError('SCHEMA_NOT_FOUND', `Schema ${id} not found.`);
    return found;
  }

  /** The subject versions that carry schema `id`. */
  async versionsOfId(ctx: Context, id: number, options: { deleted?: boolean } = {}): Promise<{ subject: string; version: number }[]> {
    await this.schemaById(ctx, id);
    const out: { subject: string; version: number }[] = [];
    for (const [subject, versions] of this.versions) for (const v of versions.values()) if (v.id === id && (options.deleted === true || !v.deleted)) out.push({ subject, version: v.version });
    return out.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.version - b.version));
  }

  /** Ids of the schemas that reference this subject version. */
  async referencedBy(ctx: Context, subject: string, version: string | number): Promise<number[]> {
    const target = await this.version(ctx, subject, version);
    const ids = new Set<number>();
    for (const versions of this.versions.values()) for (const v of versions.values()) if (!v.deleted && v.references.some((r) => r.subject === target.subject && r.version === target.version)) ids.add(v.id);
    return [...ids].sort((a, b) => a - b);
  }

  /** The version of `subject` holding this schema (POST /subjects/{s}). */
  async lookup(ctx: Context, subject: string, input: SchemaInput, options: { deleted?: boolean } = {}): Promise<SubjectVersion> {
    this.checkRead(ctx);
    await this.synced();
    if (this.live(subject, true).length === 0) throw subjectNotFound(subject);
    const { identity } = this.prepare(input);
    const found = this.live(subject, options.deleted === true).find((v) => this.identityOf(v) === identity);
    if (found === undefined) throw new GatewayError('SCHEMA_NOT_FOUND', `Schema not found under subject ${subject}.`);
    return found;
  }

  /** The subject's level (own, or the global one, or the default). */
  async compatibility(ctx: Context, subject?: string, options: { defaultToGlobal?: boolean } = {}): Promise<CompatibilityLevel> {
    this.checkRead(ctx);
    await this.synced();
    if (subject !== undefined) {
      const own = this.configs.get(subject);
      if (own !== undefined) return own;
      if (options.defaultToGlobal !== true) throw new GatewayError('SUBJECT_NOT_FOUND', `Subject ${subject} has no compatibility level of its own.`);
    }
    return this.configs.get('') ?? this.options.defaultCompatibility;
  }

  /** The registry's (or a subject's) mode. */
  async mode(ctx: Context, subject?: string): Promise<Mode> {
    this.checkRead(ctx);
    await this.synced();
    return (subject === undefined ? undefined : this.modes.get(subject)) ?? this.modes.get('') ?? 'READWRITE';
  }

  /** Whether `input` is compatible with version `version` of the subject (or, with `all`, every version its level checks). */
  async testCompatibility(ctx: Context, subject: string, version: string | number | 'all', input: SchemaInput): Promise<{ compatible: boolean; messages: string[] }> {
    this.checkRead(ctx);
    await this.synced();
    const { compiled } = this.prepare(input);
    const level = this.levelOf(subject);
    let previous: SubjectVersion[];
    if (version === 'all') previous = this.live(subject, false);
    else {
      previous = [this.resolveVersion(subject, version, false)];
    }
    const messages = checkCompatibility(version === 'all' ? level : (level.replace('_TRANSITIVE', '') as CompatibilityLevel), compiled, previous.map((v) => ({ version: v.version, schema: this.compiledOf(v) })));
    return { compatible: messages.length === 0, messages };
  }

  // --- writes ----------------------------------------------------------------------------------

  /** Registers `input` under `subject` (or returns the live version already holding it). */
  async register(ctx: Context, subject: string, input: SchemaInput): Promise<SubjectVersion> {
    this.checkWrite(ctx, subject, 'register');
    validateSubject(subject);
    for (let attempt = 0; attempt < ALLOCATION_RETRIES; attempt++) {
      const { ids, store } = await this.synced();
      this.checkMode(subject);
      const { compiled, identity, references, schemaType } = this.prepare(input);
      const existing = this.live(subject, false).find((v) => this.identityOf(v) === identity);
      if (existing !== undefined) return existing;
      if (!this.versions.has(subject) && this.versions.size >= this.options.maxSubjects) throw new GatewayError('RESOURCE_EXHAUSTED', `The registry holds ${this.options.maxSubjects} subjects (schemaRegistry.maxSubjects).`);
      if ((this.versions.get(subject)?.size ?? 0) >= this.options.maxVersionsPerSubject) throw new GatewayError('RESOURCE_EXHAUSTED', `Subject ${subject} holds ${this.options.maxVersionsPerSubject} versions (schemaRegistry.maxVersionsPerSubject).`);
      const level = this.levelOf(subject);
      const messages = checkCompatibility(level, compiled, this.live(subject, false).map((v) => ({ version: v.version, schema: this.compiledOf(v) })));
      if (messages.length > 0) throw new GatewayError('INCOMPATIBLE_SCHEMA', `Schema being registered is incompatible with an earlier schema for subject "${subject}" (${level}): ${messages.slice(0, 5).join('; ')}`, { details: { messages } });
      // Allocate through the log (file comment), then wait until this copy has folded everything up to the request.
      const basis = this.allocations(ids).subjectMax.get(subject) ?? 0;
      const key = `a/${randomUUID()}`;
      await ids.set(key, Buffer.from(JSON.stringify({ subject, identity, basis } satisfies Allocation), 'utf8'));
      await ids.sync();
      this.fold = undefined;
      const result = this.allocations(ids).results.get(key);
      if (result === undefined || result === 'conflict') {
        ctx.log.debug({ subject, attempt }, 'schema id allocation lost to a concurrent registration; retrying');
        continue;
      }
      const entry: SubjectVersion = { subject, version: result.version, id: result.id, schemaType, schema: input.schema, references, deleted: false };
      await store.set(schemaKey(subject, result.version), schemaValue(entry));
      ctx.log.info({ audit: 'schema_registered', subject, version: result.version, id: result.id, schemaType }, 'schema registered');
      return this.versions.get(subject)?.get(result.version) ?? entry;
    }
    throw new GatewayError('UNAVAILABLE', `Too many concurrent registrations for subject ${subject}; retry.`);
  }

  /** Soft-deletes one version, or (`permanent`) removes a soft-deleted one. Returns the version number. */
  async deleteVersion(ctx: Context, subject: string, version: string | number, permanent: boolean): Promise<number> {
    this.checkWrite(ctx, subject, 'delete_version');
    const { store } = await this.synced();
    this.checkMode(subject);
    const entry = this.resolveVersion(subject, version, permanent);
    if (permanent) {
      if (!entry.deleted) throw new GatewayError('VERSION_NOT_SOFT_DELETED', `Subject ${subject} version ${entry.version} was not deleted first before being permanently deleted.`);
      await store.delete(schemaKey(subject, entry.version));
    } else {
      if (entry.deleted) throw versionNotFound(subject, entry.version);
      await store.set(schemaKey(subject, entry.version), schemaValue({ ...entry, deleted: true }));
    }
    ctx.log.info({ audit: 'schema_deleted', subject, version: entry.version, permanent }, 'schema version deleted');
    return entry.version;
  }

  /** Soft-deletes every version of the subject, or (`permanent`) removes a soft-deleted subject. Returns the versions. */
  async deleteSubject(ctx: Context, subject: string, permanent: boolean): Promise<number[]> {
    this.checkWrite(ctx, subject, 'delete_subject');
    const { store } = await this.synced();
    this.checkMode(subject);
    const all = this.live(subject, true);
    if (all.length === 0) throw subjectNotFound(subject);
    if (permanent) {
      if (all.some((v) => !v.deleted)) throw new GatewayError('SUBJECT_NOT_SOFT_DELETED', `Subject ${subject} was not deleted first before being permanently deleted.`);
      for (const v of all) await store.delete(schemaKey(subject, v.version));
      await store.delete(JSON.stringify({ keytype: 'CONFIG', subject, magic: 0 })).catch(() => undefined);
      return all.map((v) => v.version);
    }
    const live = all.filter((v) => !v.deleted);
    if (live.length === 0) throw subjectNotFound(subject);
    for (const v of live) await store.set(schemaKey(subject, v.version), schemaValue({ ...v, deleted: true }));
    // What Confluent Schema Registry writes for the same operation, for readers of this topic that expect it.
    await store.set(JSON.stringify({ keytype: 'DELETE_SUBJECT', subject, magic: 0 }), Buffer.from(JSON.stringify({ subject, version: live[live.length - 1]!.version }), 'utf8'));
    ctx.log.info({ audit: 'subject_deleted', subject, permanent }, 'subject deleted');
    return live.map((v) => v.version);
  }

  /** Sets (or, with `undefined`, removes) the global or a subject's compatibility level; returns what was set / the removed level. */
  async setCompatibility(ctx: Context, subject: string | undefined, level: string | undefined): Promise<CompatibilityLevel> {
    this.checkWrite(ctx, subject, 'config');
    if (subject !== undefined) validateSubject(subject);
    const { store } = await this.synced();
    const key = JSON.stringify({ keytype: 'CONFIG', subject: subject ?? null, magic: 0 });
    if (level === undefined) {
      const previous = this.configs.get(subject ?? '');
      if (previous === undefined && subject !== undefined) throw subjectNotFound(subject);
      await store.delete(key);
      return previous ?? this.options.defaultCompatibility;
    }
    if (!(COMPATIBILITY_LEVELS as readonly string[]).includes(level)) throw new GatewayError('INVALID_COMPATIBILITY_LEVEL', `Invalid compatibility level. Valid values are ${COMPATIBILITY_LEVELS.join(', ')}.`);
    await store.set(key, Buffer.from(JSON.stringify({ compatibilityLevel: level }), 'utf8'));
    return level as CompatibilityLevel;
  }

  /** Sets the global or a subject's mode. */
  async setMode(ctx: Context, subject: string | undefined, mode: string): Promise<Mode> {
    this.checkWrite(ctx, subject, 'mode');
    if (!(MODES as readonly string[]).includes(mode)) throw new GatewayError('INVALID_ARGUMENT', `Invalid mode. Valid values are ${MODES.join(', ')}.`);
    const { store } = await this.synced();
    await store.set(JSON.stringify({ keytype: 'MODE', subject: subject ?? null, magic: 0 }), Buffer.from(JSON.stringify({ mode }), 'utf8'));
    return mode as Mode;
  }

  // --- records (the wire format) ---------------------------------------------------------------

  /**
   * A JSON value as a Confluent-framed payload of schema `id` (validated first; INVALID_VALUE
   * when it breaks the schema). Protobuf: `messageIndexes` names the message (default `[0]`).
   */
  async encode(ctx: Context, id: number, value: unknown, messageIndexes?: readonly number[]): Promise<Buffer> {
    const compiled = await this.compiledById(ctx, id);
    const indexes = compiled.type === 'PROTOBUF' ? (messageIndexes ?? [0]) : undefined;
    return encodeFramed(id, compiled.encode(value, indexes), indexes);
  }

  /** A Confluent-framed payload back to its schema id and JSON value (INVALID_VALUE / SCHEMA_NOT_FOUND). */
  async decode(ctx: Context, bytes: Buffer): Promise<{ schemaId: number; schemaType: SchemaType; value: unknown }> {
    const head = decodeFramed(bytes);
    const compiled = await this.compiledById(ctx, head.schemaId);
    const framed = compiled.type === 'PROTOBUF' ? decodeFramed(bytes, { protobuf: true }) : head;
    return { schemaId: head.schemaId, schemaType: compiled.type, value: compiled.decode(framed.payload, framed.messageIndexes) };
  }

  /** Why `value` breaks schema `id`, or undefined when it is valid. */
  async validate(ctx: Context, id: number, value: unknown): Promise<string | undefined> {
    return (await this.compiledById(ctx, id)).validate(value);
  }

  /** The compiled schema of `id`, from the cache or compiled once. */
  async compiledById(ctx: Context, id: number): Promise<CompiledSchema> {
    const cached = this.compiled.get(id);
    if (cached !== undefined) {
      this.compiled.delete(id);
      this.compiled.set(id, cached);
      return cached;
    }
    const stored = await this.schemaById(ctx, id);
    return this.compiledOf(stored);
  }

  // --- topic bindings (the core's produce path) ------------------------------------------------

  /**
   * For topic bindings: the subject's latest live version compiled, and the compiled schema of any
   * of its live versions by id. This is the core checking its own produce path, not a client
   * reading the registry, so no authorization. From memory once the tables are open (they are
   * followed live) and from the compiled cache: no I/O per call — except that a subject not known
   * here is looked for in the backend at most once a second (another instance may just have
   * registered it). Undefined when the subject has no live version.
   */
  async subjectSchemas(subject: string): Promise<{ latest: { id: number; compiled: CompiledSchema }; byId(id: number): CompiledSchema | undefined } | undefined> {
    await this.tables();
    let live = this.live(subject, false);
    if (live.length === 0) {
      const now = Date.now();
      if (now - (this.missSyncs.get(subject) ?? 0) < MISSING_SUBJECT_SYNC_MS) return undefined;
      this.missSyncs.delete(subject);
      this.missSyncs.set(subject, now);
      if (this.missSyncs.size > 10_000) this.missSyncs.delete(this.missSyncs.keys().next().value!);
      await this.synced();
      live = this.live(subject, false);
      if (live.length === 0) return undefined;
    }
    const latest = live[live.length - 1]!;
    const ids = new Map(live.map((v) => [v.id, v]));
    return {
      latest: { id: latest.id, compiled: this.compiledOf(latest) },
      byId: (id) => {
        const v = ids.get(id);
        return v === undefined ? undefined : this.compiledOf(v);
      },
    };
  }

  // --- reading (the core's read path: gateway/schemas/reading.ts) ------------------------------

  /**
   * The compiled schema of `id` if this instance knows it — from memory, no I/O and no
   * authorization (the core decoding records a principal may already read, not a client reading
   * the registry). Undefined when the id is unknown here or its schema does not compile.
   */
  knownCompiled(id: number): CompiledSchema | undefined {
    const cached = this.compiled.get(id);
    if (cached !== undefined) {
      this.compiled.delete(id);
      this.compiled.set(id, cached);
      return cached;
    }
    const stored = this.byId.get(id);
    if (stored === undefined) return undefined;
    try {
      return this.compiledOf(stored);
    } catch (err) {
      this.log.warn({ err, id }, 'a registered schema does not compile; its records are not decoded');
      return undefined;
    }
  }

  /**
   * Opens the tables (once), and when one of `ids` is not known here brings them up to date —
   * at most once a second (MISSING_SUBJECT_SYNC_MS), whatever the ids: records naming ids nobody
   * registered cost one offsets request a second, not one per record.
   */
  async prepareIds(ids: Iterable<number>): Promise<void> {
    await this.tables();
    let missing = false;
    for (const id of ids) if (!this.byId.has(id)) missing = true;
    if (!missing) return;
    const now = Date.now();
    if (now - this.lastIdSync < MISSING_SUBJECT_SYNC_MS) return;
    this.lastIdSync = now;
    await this.synced();
  }

  private lastIdSync = 0;

  /** Stops following the tables. */
  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened !== undefined) await opened.then((t) => t.store.close()).catch(() => undefined);
  }

  // --- helpers ---------------------------------------------------------------------------------

  private live(subject: string, includeDeleted: boolean): SubjectVersion[] {
    const versions = this.versions.get(subject);
    if (versions === undefined) return [];
    return [...versions.values()].filter((v) => includeDeleted || !v.deleted).sort((a, b) => a.version - b.version);
  }

  private levelOf(subject: string): CompatibilityLevel {
    return this.configs.get(subject) ?? this.configs.get('') ?? this.options.defaultCompatibility;
  }

  private resolveVersion(subject: string, version: string | number, includeDeleted: boolean): SubjectVersion {
    const all = this.live(subject, true);
    if (all.length === 0) throw subjectNotFound(subject);
    const n = parseVersion(version);
    const visible = all.filter((v) => includeDeleted || !v.deleted);
    const found = n === 'latest' ? visible[visible.length - 1] : visible.find((v) => v.version === n);
    if (found === undefined) {
      if (visible.length === 0) throw subjectNotFound(subject);
      throw versionNotFound(subject, n === 'latest' ? 0 : n);
    }
    return found;
  }

  /** Resolves references (transitively, dependencies first), compiles, and names the schema's identity. */
  private prepare(input: SchemaInput): { compiled: CompiledSchema; identity: string; references: SchemaReference[]; schemaType: SchemaType } {
    const schemaType = input.schemaType ?? 'AVRO';
    if (!SCHEMA_TYPES.includes(schemaType)) throw invalidSchema(`Unknown schemaType ${String(schemaType)}; the registry knows ${SCHEMA_TYPES.join(', ')}.`);
    const references = (input.references ?? []).map((r) => ({ name: r.name, subject: r.subject, version: r.version }));
    const resolved = this.resolveReferences(references);
    const compiled = compileSchema(schemaType, input.schema, resolved, this.options);
    return { compiled, identity: identityOf(schemaType, compiled.canonical, references), references, schemaType };
  }

  private resolveReferences(references: readonly SchemaReference[]): ResolvedReference[] {
    const out: ResolvedReference[] = [];
    const seen = new Set<string>();
    const visit = (refs: readonly SchemaReference[], depth: number): void => {
      for (const ref of refs) {
        const id = `${ref.subject}\u0000${ref.version}`;
        if (seen.has(id)) continue;
        seen.add(id);
        if (seen.size > this.options.maxReferences || depth > this.options.maxDepth) throw invalidSchema(`The schema references more than ${this.options.maxReferences} schemas, or nests references too deep.`);
        const target = this.versions.get(ref.subject)?.get(ref.version);
        if (target === undefined) throw invalidSchema(`Reference ${ref.name} names ${ref.subject} version ${ref.version}, which does not exist.`);
        visit(target.references, depth + 1);
        out.push({ name: ref.name, schema: target.schema });
      }
    };
    visit(references, 0);
    return out;
  }

  private identityOf(v: StoredSchema): string {
    return identityOf(v.schemaType, this.compiledOf(v).canonical, v.references);
  }

  private compiledOf(v: StoredSchema): CompiledSchema {
    const cached = this.compiled.get(v.id);
    if (cached !== undefined) return cached;
    const compiled = compileSchema(v.schemaType, v.schema, this.resolveReferences(v.references), { ...this.options, maxSchemaBytes: Number.MAX_SAFE_INTEGER });
    this.compiled.set(v.id, compiled);
    if (this.compiled.size > this.options.compiledCacheSize) this.compiled.delete(this.compiled.keys().next().value!);
    return compiled;
  }
}

function identityOf(schemaType: SchemaType, canonical: string, references: readonly SchemaReference[]): string {
  return createHash('sha256').update(JSON.stringify([schemaType, canonical, references.map((r) => [r.name, r.subject, r.version])])).digest('base64url');
}

/** Confluent's key for a schema version (field order as its serializer writes it: compaction compares bytes). */
function schemaKey(subject: string, version: number): string {
  return JSON.stringify({ keytype: 'SCHEMA', subject, version, magic: 1 });
}

function schemaValue(v: SubjectVersion): Buffer {
  const value: Record<string, unknown> = { subject: v.subject, version: v.version, id: v.id };
  if (v.schemaType !== 'AVRO') value.schemaType = v.schemaType;
  if (v.references.length > 0) value.references = v.references;
  value.schema = v.schema;
  value.deleted = v.deleted;
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function parseSchemaValue(value: Record<string, unknown>): SubjectVersion | undefined {
  const { subject, version, id, schema } = value;
  if (typeof subject !== 'string' || typeof version !== 'number' || typeof id !== 'number' || typeof schema !== 'string') return undefined;
  const schemaType = typeof value.schemaType === 'string' ? (value.schemaType as SchemaType) : 'AVRO';
  const references = Array.isArray(value.references) ? (value.references as SchemaReference[]).filter((r) => typeof r?.name === 'string' && typeof r.subject === 'string' && typeof r.version === 'number') : [];
  return { subject, version, id, schemaType, schema, references, deleted: value.deleted === true };
}

/** `latest`, `-1` (Confluent's alias of latest) or a version from 1 to 2^31-1; INVALID_VERSION otherwise. */
export function parseVersion(version: string | number): number | 'latest' {
  if (version === 'latest' || version === -1 || version === '-1') return 'latest';
  const n = typeof version === 'number' ? version : /^[0-9]{1,10}$/.test(version) ? Number(version) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0x7fffffff) throw new GatewayError('INVALID_VERSION', `The specified version '${String(version)}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`);
  return n;
}

function validateSubject(subject: string): void {
  if (subject.length === 0 || subject.length > 255 || /[\u0000-\u001f]/.test(subject)) throw new GatewayError('INVALID_ARGUMENT', 'A subject name has 1 to 255 characters and no control characters.');
}

function subjectNotFound(subject: string): GatewayError {
  return new GatewayError('SUBJECT_NOT_FOUND', `Subject '${subject}' not found.`);
}

function versionNotFound(subject: string, version: number): GatewayError {
  return new GatewayError('VERSION_NOT_FOUND', `Version ${version} not found for subject ${subject}.`);
}
