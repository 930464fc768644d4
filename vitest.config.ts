import { defineConfig } from 'vitest/config';

/** Options every project shares (projects below do not extend the root, so its globalSetup stays single). */
const shared = {
  exclude: ['**/node_modules/**', '**/dist/**'],
  pool: 'forks',
  testTimeout: 30_000,
  hookTimeout: 90_000,
  teardownTimeout: 30_000,
} as const;

/**
 * The suites whose clients speak WebSocket: they run a second time against the uWebSockets.js
 * engine (issue 9), where the gateway serves /v1/ws and /mqtt on the uWS port.
 */
const websocketSuites = ['test/websocket/**/*.test.ts', 'test/mqtt/websocket.test.ts'];

export default defineConfig({
  test: {
    // One real Kafka broker for the whole run; always stopped in its teardown. It is the root's
    // only: vitest runs the root project's globalSetup once and merges what it provides into every
    // project, while a globalSetup inside a project would start another broker for that project.
    globalSetup: ['test/kafka/global-setup.ts'],
    projects: [
      {
        test: {
          ...shared,
          name: 'ws',
          include: ['app/**/*.test.ts', 'gateway/**/*.test.ts', 'codecs/**/*.test.ts', 'transport/**/*.test.ts', 'adapters/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'uws',
          include: websocketSuites,
          // test/support/gateway.ts starts the gateway with websocket.engine uws and points wsUrl / mqttWsUrl at the uWS port.
          env: { STREAMGATE_TEST_WS_ENGINE: 'uws' },
        },
      },
    ],
  },
});
