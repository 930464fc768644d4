import { defineConfig } from 'vitest/config';

/** Options every project shares (projects do not extend the root config: each lists what it needs). */
const shared = {
  exclude: ['**/node_modules/**', '**/dist/**'],
  pool: 'forks',
  testTimeout: 30_000,
  hookTimeout: 90_000,
  teardownTimeout: 30_000,
} as const;

/**
 * The unit tier: pure modules, adapters in-process over fakes and duplex pairs, the embedded log
 * in temp dirs. No Java, no Kafka broker: `npm run test:unit` runs on any machine with Node.
 * A unit file that calls `kafkaBrokers()` fails with a message naming the tier.
 */
const unit = [
  'gateway/**/*.test.ts',
  'codecs/**/*.test.ts',
  'transport/**/*.test.ts',
  'adapters/**/*.test.ts',
  'app/**/*.test.ts',
  'test/unit/**/*.test.ts',
  'test/docs/**/*.test.ts',
  // The backend conformance suite on the embedded log (the Kafka run is test/conformance/backend-kafka.test.ts).
  'test/conformance/backend-embedded.test.ts',
  // The browser client over a fake WebSocket, and its bundle (esbuild).
  'test/browser/client.test.ts',
  'test/browser/bundle.test.ts',
  // Core limits on the embedded log (no sockets).
  'test/core/limits.test.ts',
];

/** Files beside the code that need the real broker: they run in the integration tier. */
const needsBroker = ['gateway/backends/kafka/kafka.test.ts'];

/**
 * The suites whose clients speak WebSocket: they run a second time against the uWebSockets.js
 * engine (issue 9), where the gateway serves /v1/ws and /mqtt on the uWS port. The adapter
 * conformance suite is among them (once, on the embedded log) so the cross-protocol cases — the
 * browser client's resume across a restart included — hold on both engines.
 */
const websocketSuites = ['test/websocket/**/*.test.ts', 'test/mqtt/websocket.test.ts', 'test/conformance/adapter-embedded.test.ts'];

/**
 * The integration tier's global setup: one real Kafka broker for the whole run, shared by both
 * integration projects (a refcount in the setup file) and started only when one of them has
 * files to run.
 */
const kafka = ['test/kafka/global-setup.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: unit,
          exclude: [...shared.exclude, ...needsBroker],
        },
      },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.test.ts', ...needsBroker],
          exclude: [...shared.exclude, ...unit.filter((glob) => glob.startsWith('test/'))],
          globalSetup: kafka,
        },
      },
      {
        test: {
          ...shared,
          name: 'uws',
          include: websocketSuites,
          // test/support/gateway.ts starts the gateway with websocket.engine uws and points wsUrl / mqttWsUrl at the uWS port.
          env: { STREAMGATE_TEST_WS_ENGINE: 'uws' },
          globalSetup: kafka,
        },
      },
    ],
  },
});
