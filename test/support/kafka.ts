/** Access to the real Kafka broker the integration tier started (test/kafka/global-setup.ts). */
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap list of the harness broker, `127.0.0.1:PORT`. */
    kafkaBrokers: string;
  }
}

/** The harness broker's bootstrap list (`127.0.0.1:PORT`). */
export function kafkaBrokers(): string {
  const brokers = inject('kafkaBrokers');
  if (!brokers) {
    throw new Error('no Kafka broker provided: this file needs the integration tier (vitest.config.ts starts the broker for the integration and uws projects only)');
  }
  return brokers;
}
