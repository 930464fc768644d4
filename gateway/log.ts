/** The one structured logger (pino). Components take a child with their bindings. */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Creates the process logger writing JSON lines to stdout. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'streamgate' }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that discards everything (embedding, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
