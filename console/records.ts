/**
 * How the console shows a record's key, value and headers, whichever way they arrive: the REST v1
 * JSON record (base64 with `keyEncoding` / `encoding` / `headersEncoding`), or the WebSocket
 * client's decoded record (bytes as Uint8Array). Pure functions: the DOM is main.ts's business,
 * and every string returned here is put on the page as text only.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Bytes as text when they are UTF-8, else base64 (labelled). */
export function showBytes(bytes: Uint8Array): { text: string; base64: boolean } {
  try {
    return { text: utf8.decode(bytes), base64: false };
  } catch {
    return { text: toBase64(bytes), base64: true };
  }
}

export interface Shown {
  readonly text: string;
  /** Shown as base64 (not valid UTF-8), or decoded from base64 to text. */
  readonly note?: string;
}

export function shownValue(value: unknown, encoding: string | undefined): Shown {
  if (value === null || value === undefined) return { text: 'null' };
  if (value instanceof Uint8Array) {
    const s = showBytes(value);
    return s.base64 ? { text: s.text, note: 'base64' } : { text: s.text, note: 'bytes as text' };
  }
  if (encoding === 'base64' && typeof value === 'string') {
    const s = showBytes(fromBase64(value));
    return s.base64 ? { text: value, note: 'base64' } : { text: s.text, note: 'base64 decoded' };
  }
  return { text: JSON.stringify(value) };
}

export function shownKey(key: unknown, keyEncoding: string | undefined): Shown | null {
  if (key === null || key === undefined) return null;
  if (key instanceof Uint8Array) return showBytes(key).base64 ? { text: toBase64(key), note: 'base64' } : { text: showBytes(key).text };
  if (typeof key !== 'string') return { text: JSON.stringify(key) };
  if (keyEncoding === 'base64') {
    const s = showBytes(fromBase64(key));
    return s.base64 ? { text: key, note: 'base64' } : { text: s.text, note: 'base64 decoded' };
  }
  return { text: key };
}

/**
 * Headers in either JSON form: the object `{"name":"value"}` (with `headersEncoding: "base64"`
 * for bytes), or the ordered list `[{"name":…,"value":…}]` in which names may repeat; values may
 * also be bytes (the browser client's decoded form).
 */
export function headerPairs(headers: unknown, headersEncoding: string | undefined): [string, string][] {
  const value = (v: unknown, encoding: string | undefined): string => {
    if (v === null || v === undefined) return '';
    if (v instanceof Uint8Array) return showBytes(v).text;
    if (typeof v !== 'string') return JSON.stringify(v);
    return encoding === 'base64' ? showBytes(fromBase64(v)).text : v;
  };
  if (Array.isArray(headers)) {
    return headers.map((h: { name?: unknown; value?: unknown; encoding?: string }) => [String(h?.name ?? ''), value(h?.value, h?.encoding ?? headersEncoding)]);
  }
  if (typeof headers === 'object' && headers !== null) return Object.entries(headers).map(([n, v]) => [n, value(v, headersEncoding)]);
  return [];
}
