/**
 * JSON text as bytes, scanned once, left to right, without recursion: validation (RFC 8259 and
 * well-formed UTF-8) and the byte span of every value, so a value can be stored — and served —
 * as the exact text the client sent. `JSON.parse` cannot give that in Node 20 (no source text
 * access): it rounds `12345678901234567890`, turns `1e400` into null and `-0` into 0, collapses
 * duplicate keys and forgets how strings were escaped.
 *
 * Cost is linear in the input and memory is bounded by what the caller asks to materialize: the
 * outer levels of a document (an envelope such as `{"records":[{…}]}`) become nodes; deeper
 * containers are only validated and known by their span. Nesting is bounded by MAX_JSON_DEPTH.
 */
import { isUtf8 } from 'node:buffer';

/**
 * How deep JSON may nest, the envelope included. Bounded so no reader of this text — ours or a
 * client's recursive parser — is handed unbounded nesting; no real payload nests so deep.
 */
export const MAX_JSON_DEPTH = 256;

interface Span {
  /** Byte offset of the value's first byte. */
  readonly start: number;
  /** Byte offset just after the value's last byte. */
  readonly end: number;
}

/** An object; `entries` in document order, duplicate names kept, `undefined` when not materialized. */
export interface JsonObject extends Span {
  readonly type: 'object';
  readonly entries: readonly (readonly [string, JsonNode])[] | undefined;
}

/** An array; `items` is `undefined` when not materialized. */
export interface JsonArray extends Span {
  readonly type: 'array';
  readonly items: readonly JsonNode[] | undefined;
}

/** A string and its decoded value (which may hold lone surrogates a `\ud800` escape spelled). */
export interface JsonString extends Span {
  readonly type: 'string';
  readonly value: string;
}

/** A number (its text is the span) or a literal. */
export interface JsonScalar extends Span {
  readonly type: 'number' | 'true' | 'false' | 'null';
}

export type JsonNode = JsonObject | JsonArray | JsonString | JsonScalar;

/** The text is not JSON, or nests deeper than allowed; `offset` is the byte where that was seen. */
export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError';
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} at byte ${offset}`);
  }
}

export interface ParseOptions {
  /**
   * Whether a container lists its children as nodes: given its depth (the root is 1) and the
   * member name it is the value of (undefined for the root and array items). Only containers
   * whose parent is expanded are asked; the others are validated and known by their span only,
   * so memory follows the envelope, not the payload. Default: everything is expanded.
   */
  readonly expand?: (depth: number, name: string | undefined) => boolean;
  /** Maximum nesting (default MAX_JSON_DEPTH). */
  readonly maxDepth?: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;

interface Frame {
  readonly type: 'object' | 'array';
  readonly start: number;
  /** Children, when this container is materialized. */
  readonly list: (readonly [string, JsonNode])[] | JsonNode[] | undefined;
  /** A node is built for this container (its parent is materialized, or it is the root). */
  readonly node: boolean;
  /** The name of the member being read (materialized objects only). */
  key: string;
}

/**
 * Parses one JSON document filling `bytes` (surrounding whitespace allowed) into nodes. Throws
 * JsonSyntaxError when the bytes are not well-formed UTF-8 JSON or nest deeper than `maxDepth`.
 */
export function parseJson(bytes: Uint8Array, options: ParseOptions = {}): JsonNode {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isUtf8(buf)) throw new JsonSyntaxError('The text is not well-formed UTF-8');
  return new Scanner(buf, options.expand ?? expandAll, options.maxDepth ?? MAX_JSON_DEPTH).document();
}

/**
 * The span of the JSON value `bytes` hold (surrounding whitespace excluded), or undefined when
 * they are not well-formed UTF-8 JSON within `maxDepth`. Validates without building anything.
 */
export function jsonSpan(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH): { start: number; end: number } | undefined {
  try {
    const root = parseJson(bytes, { expand: expandNone, maxDepth });
    return { start: root.start, end: root.end };
  } catch (err) {
    if (err instanceof JsonSyntaxError) return undefined;
    throw err;
  }
}

/** The last member named `name` (as JSON.parse, a later duplicate wins), or undefined. */
export function member(object: JsonObject, name: string): JsonNode | undefined {
  const entries = object.entries;
  if (entries === undefined) return undefined;
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]![0] === name) return entries[i]![1];
  return undefined;
}

/** A node as a plain JS value (JSON.parse of its text): for envelope fields, never for stored values. */
export function plain(bytes: Uint8Array, node: JsonNode): unknown {
  if (node.type === 'string') return node.value;
  return JSON.parse(textOf(bytes, node));
}

/** The exact text of a node. */
export function textOf(bytes: Uint8Array, node: Span): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + node.start, node.end - node.start).toString('utf8');
}

/** The exact bytes of a node (a copy: the record outlives the request buffer's other contents). */
export function bytesOf(bytes: Uint8Array, node: Span): Buffer {
  return Buffer.from(bytes.subarray(node.start, node.end));
}

const expandAll = (): boolean => true;
const expandNone = (): boolean => false;

class Scanner {
  private i = 0;

  constructor(
    private readonly b: Buffer,
    private readonly expand: (depth: number, name: string | undefined) => boolean,
    private readonly maxDepth: number,
  ) {}

  document(): JsonNode {
    const b = this.b;
    const stack: Frame[] = [];
    this.i = this.ws(0);
    let node: JsonNode | undefined;
    for (;;) {
      // A value starts at this.i.
      const parent = stack[stack.length - 1];
      const keep = parent === undefined || parent.list !== undefined;
      const start = this.i;
      const c = b[start];
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        const depth = stack.length + 1;
        if (depth > this.maxDepth) throw new JsonSyntaxError(`JSON nested deeper than ${this.maxDepth} levels`, start);
        const expanded = keep && this.expand(depth, parent?.type === 'object' ? parent.key : undefined);
        const frame: Frame = { type: c === OPEN_OBJECT ? 'object' : 'array', start, list: expanded ? [] : undefined, node: keep, key: '' };
        stack.push(frame);
        this.i = this.ws(start + 1);
        const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
        if (b[this.i] !== close) {
          if (frame.type === 'object') this.memberName(frame);
          continue;
        }
        this.i++;
        stack.pop();
        node = frame.node ? containerNode(frame, this.i) : undefined;
      } else {
        node = this.scalar(keep);
      }
      // The value ended: hand it to its container, then read what follows it (closing containers).
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) {
          const end = this.ws(this.i);
          if (end !== b.length) throw new JsonSyntaxError('Unexpected data after the JSON value', end);
          return node!;
        }
        if (top.list !== undefined) {
          if (top.type === 'object') (top.list as (readonly [string, JsonNode])[]).push([top.key, node!]);
          else (top.list as JsonNode[]).push(node!);
        }
        this.i = this.ws(this.i);
        const d = b[this.i];
        if (d === COMMA) {
          this.i = this.ws(this.i + 1);
          if (top.type === 'object') this.memberName(top);
          break;
        }
        if (d === (top.type === 'object' ? CLOSE_OBJECT : CLOSE_ARRAY)) {
          this.i++;
          stack.pop();
          node = top.node ? containerNode(top, this.i) : undefined;
          continue;
        }
        throw this.unexpected(top.type === 'object' ? '"," or "}"' : '"," or "]"');
      }
    }
  }

  /** Reads `"name"` and `:` of an object member, leaving this.i at its value. */
  private memberName(frame: Frame): void {
    if (this.b[this.i] !== QUOTE) throw this.unexpected('a member name (a string)');
    const key = this.string(frame.list !== undefined);
    if (frame.list !== undefined) frame.key = key!.value;
    this.i = this.ws(this.i);
    if (this.b[this.i] !== COLON) throw this.unexpected('":"');
    this.i = this.ws(this.i + 1);
  }

  private scalar(keep: boolean): JsonNode | undefined {
    const b = this.b;
    const start = this.i;
    const c = b[start];
    if (c === QUOTE) return this.string(keep);
    if (c === MINUS || (c !== undefined && c >= 0x30 && c <= 0x39)) {
      this.number();
      return keep ? { type: 'number', start, end: this.i } : undefined;
    }
    for (const literal of LITERALS) {
      if (c === literal.bytes[0] && b.length - start >= literal.bytes.length && literal.bytes.every((x, k) => b[start + k] === x)) {
        this.i = start + literal.bytes.length;
        return keep ? { type: literal.type, start, end: this.i } : undefined;
      }
    }
    throw this.unexpected('a JSON value');
  }

  /** A string starting at this.i (the quote); decoded only when `decode`. */
  private string(decode: boolean): JsonString | undefined {
    const b = this.b;
    const start = this.i;
    let j = start + 1;
    let escaped = false;
    for (;;) {
      const c = b[j];
      if (c === undefined) throw new JsonSyntaxError('Unterminated string', start);
      if (c === QUOTE) break;
      if (c < 0x20) throw new JsonSyntaxError('Control character in a string', j);
      if (c === BACKSLASH) {
        escaped = true;
        const e = b[j + 1];
        if (e === 0x75 /* u */) {
          for (let k = 2; k < 6; k++) if (!isHex(b[j + k])) throw new JsonSyntaxError('Bad \\u escape in a string', j);
          j += 6;
          continue;
        }
        if (e === undefined || !SIMPLE_ESCAPES.has(e)) throw new JsonSyntaxError('Bad escape in a string', j);
        j += 2;
        continue;
      }
      j++;
    }
    this.i = j + 1;
    if (!decode) return undefined;
    const value = escaped ? unescape(b, start + 1, j) : b.toString('utf8', start + 1, j);
    return { type: 'string', start, end: this.i, value };
  }

  private number(): void {
    const b = this.b;
    let j = this.i;
    if (b[j] === MINUS) j++;
    if (b[j] === 0x30) j++;
    else if (isNonZeroDigit(b[j])) while (isDigit(b[j])) j++;
    else throw new JsonSyntaxError('Bad number', this.i);
    if (b[j] === 0x2e /* . */) {
      j++;
      if (!isDigit(b[j])) throw new JsonSyntaxError('Bad number: digits must follow "."', j);
      while (isDigit(b[j])) j++;
    }
    if (b[j] === 0x65 || b[j] === 0x45 /* e E */) {
      j++;
      if (b[j] === 0x2b || b[j] === MINUS) j++;
      if (!isDigit(b[j])) throw new JsonSyntaxError('Bad number: digits must follow the exponent', j);
      while (isDigit(b[j])) j++;
    }
    this.i = j;
  }

  /** Skips JSON whitespace (space, tab, LF, CR) from `j`. */
  private ws(j: number): number {
    const b = this.b;
    for (;;) {
      const c = b[j];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) j++;
      else return j;
    }
  }

  private unexpected(expected: string): JsonSyntaxError {
    const c = this.b[this.i];
    return new JsonSyntaxError(c === undefined ? `Unexpected end of JSON (expected ${expected})` : `Unexpected ${describe(c)} (expected ${expected})`, this.i);
  }
}

function containerNode(frame: Frame, end: number): JsonNode {
  return frame.type === 'object'
    ? { type: 'object', start: frame.start, end, entries: frame.list as (readonly [string, JsonNode])[] | undefined }
    : { type: 'array', start: frame.start, end, items: frame.list as JsonNode[] | undefined };
}

const LITERALS = [
  { type: 'true', bytes: [0x74, 0x72, 0x75, 0x65] },
  { type: 'false', bytes: [0x66, 0x61, 0x6c, 0x73, 0x65] },
  { type: 'null', bytes: [0x6e, 0x75, 0x6c, 0x6c] },
] as const;

/** `"` `\` `/` `b` `f` `n` `r` `t` */
const SIMPLE_ESCAPES = new Map<number, string>([
  [0x22, '"'],
  [0x5c, '\\'],
  [0x2f, '/'],
  [0x62, '\b'],
  [0x66, '\f'],
  [0x6e, '\n'],
  [0x72, '\r'],
  [0x74, '\t'],
]);

function unescape(b: Buffer, from: number, to: number): string {
  let out = '';
  let run = from;
  let j = from;
  while (j < to) {
    if (b[j] !== BACKSLASH) {
      j++;
      continue;
    }
    out += b.toString('utf8', run, j);
    const e = b[j + 1]!;
    if (e === 0x75) {
      out += String.fromCharCode(parseInt(b.toString('latin1', j + 2, j + 6), 16));
      j += 6;
    } else {
      out += SIMPLE_ESCAPES.get(e)!;
      j += 2;
    }
    run = j;
  }
  return out + b.toString('utf8', run, to);
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
const isNonZeroDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x31 && c <= 0x39;
const isHex = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

function describe(c: number): string {
  return c >= 0x20 && c < 0x7f ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** True when a JS string has no lone surrogate, so UTF-8 encoding it loses nothing. */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
