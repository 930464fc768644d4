/** Building per-call contexts. Authentication (a later layer) replaces the anonymous principal. */
import type { Logger } from 'pino';
import type { Context, Principal } from './api.js';
import { lazyChild } from './log.js';
import { newId } from './ids.js';

/** The principal used while authentication is off. */
export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', anonymous: true });

/** A context for one request or connection; the logger gets `protocol`, `principal` and `requestId` bound. */
export function createContext(options: {
  protocol: string;
  log: Logger;
  signal?: AbortSignal;
  principal?: Principal;
  requestId?: string;
}): Context {
  const principal = options.principal ?? ANONYMOUS;
  const requestId = options.requestId ?? newId();
  return {
    protocol: options.protocol,
    principal,
    requestId,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    log: lazyChild(options.log, { principal: principal.id, requestId }),
  };
}
