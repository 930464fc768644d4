import { randomBytes } from 'node:crypto';

/** A topic name no other test uses: `<prefix>-<random>`. */
export function uniqueTopic(prefix = 't'): string {
  return `${prefix.replace(/[^a-zA-Z0-9._-]/g, '-')}-${randomBytes(6).toString('hex')}`;
}

/** A group or client id no other test uses. */
export function uniqueId(prefix = 'id'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
