/**
 * Record headers between the core's ordered list and kafkajs 2.2.4's header objects, keeping the
 * exact order of the Kafka record both ways although kafkajs folds headers into an object.
 *
 * Kafka's record format (KIP-82) stores headers as an ordered array in which a name may repeat.
 * kafkajs (src/protocol/recordBatch/record/v0/) speaks objects:
 * - its decoder reduces the array to `{name: value | value[]}`: values of one name stay in order,
 *   but the interleaving of names (x, trace, y, trace) is gone. Each value is a `Buffer.slice` of
 *   the buffer the record was decoded from (the fetch response, or the decompressed batch), so
 *   its `byteOffset` is its place in the record: sorting by it restores the wire order exactly.
 *   A null value (Kafka allows them; the core carries empty bytes) has no offset: it keeps its
 *   place among the headers of its name and follows the previous header of that name (or
 *   precedes the next one); headers of a name whose values are all null come first.
 * - its encoder lists `Object.keys(headers).flatMap(name => Array.isArray(v) ? v.map(...) : ...)`,
 *   which groups names and puts integer-like names ("7") first. The object given to it has one
 *   name whose array's own `map` returns every header in order, so the record is written as
 *   the list stands.
 * Both rely on kafkajs internals; kafkajs is pinned to 2.2.4 (see internals.ts) and
 * headers.test.ts runs its real encoder and decoder, so a change there fails a test.
 */
import { NO_HEADERS, type Header, type Headers } from '../../record.js';

/** Headers as kafkajs's Record encoder takes them (see the module comment for the shape). */
export type KafkaJsHeaders = Record<string, Buffer[]>;

/** Headers as kafkajs's Record decoder yields them: values of a repeated name folded into an array. */
export type DecodedHeaders = Record<string, Buffer | null | (Buffer | null)[]>;

/** The kafkajs encoder input that writes `headers` in their order; undefined for none. */
export function toKafkaJsHeaders(headers: Headers): KafkaJsHeaders | undefined {
  if (headers.length === 0) return undefined;
  const entries = headers.map((h) => ({ key: h.name, value: h.value }));
  const first = headers[0]!.name;
  const values = headers.filter((h) => h.name === first).map((h) => h.value);
  // The encoder calls `headers[name].map(toEntry)` and flattens the result: this array answers
  // with every header in order instead of only its own name's.
  Object.defineProperty(values, 'map', { value: () => entries, enumerable: false });
  return { [first]: values };
}

interface Placed {
  readonly header: Header;
  /** Index in kafkajs's folded order (names grouped), the fallback and tie-break. */
  readonly folded: number;
  /** Wire position: the value's byteOffset; for a null value derived from its name's neighbours. */
  pos: number;
}

/** The decoded record's headers in the order the record holds them (see the module comment). */
export function fromDecodedHeaders(decoded: DecodedHeaders): Headers {
  const names = Object.keys(decoded);
  if (names.length === 0) return NO_HEADERS;
  const placed: Placed[] = [];
  const groups: Placed[][] = [];
  let buffer: ArrayBufferLike | undefined;
  let exact = true;
  for (const name of names) {
    const raw = decoded[name];
    const values = Array.isArray(raw) ? raw : [raw];
    const group: Placed[] = [];
    for (const value of values) {
      const p: Placed = {
        header: { name, value: value === null || value === undefined ? Buffer.alloc(0) : Buffer.from(value) },
        folded: placed.length,
        pos: Number.NaN,
      };
      if (value !== null && value !== undefined) {
        if (buffer === undefined) buffer = value.buffer;
        else if (value.buffer !== buffer) exact = false;
        p.pos = value.byteOffset;
      }
      placed.push(p);
      group.push(p);
    }
    groups.push(group);
  }
  if (!exact || placed.length === 1) return placed.map((p) => p.header);
  for (const group of groups) placeNulls(group);
  placed.sort((a, b) => a.pos - b.pos || a.folded - b.folded);
  return placed.map((p) => p.header);
}

/**
 * Null values take the position of the previous value of their name (ties keep kafkajs's order,
 * which is the order within the name), or just before the next one; a name with no other value
 * goes first.
 */
function placeNulls(group: Placed[]): void {
  let previous = Number.NaN;
  for (const p of group) {
    if (Number.isNaN(p.pos)) p.pos = previous;
    else previous = p.pos;
  }
  let next = Number.NaN;
  for (let i = group.length - 1; i >= 0; i--) {
    const p = group[i]!;
    if (Number.isNaN(p.pos)) p.pos = Number.isNaN(next) ? -1 : next - 0.5;
    else next = p.pos;
  }
}
