/** Random identifiers for connections, subscriptions, sessions and requests. */
import { randomUUID } from 'node:crypto';

/**
 * A random UUID (RFC 9562 v4) held as one flat string. Node 20's randomUUID builds its text by
 * concatenating the hex of each byte, and V8 keeps that as a tree of some 30 string pieces
 * (about 490 bytes) until something flattens it; ids that live as long as a connection or a
 * subscription then cost nine times their 36 characters. Reading a character flattens the tree
 * in place (about 55 bytes remain).
 */
export function newId(): string {
  const id = randomUUID();
  id.charCodeAt(0);
  return id;
}
