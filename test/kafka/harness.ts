/**
 * The test Kafka harness: starts a real single-node Apache Kafka broker (KRaft, broker +
 * controller in one JVM) from the official jars in .kafka/lib, on free loopback ports, with its
 * log in a fresh temp dir. ("Broker" alone means a Kafka server process here; the gateway's MQTT
 * session registry and its kafkajs connections have names of their own.)
 *
 * Used by the integration tier's global setup (one harness per test run), by `npm run kafka`, the
 * benches, and fault tests that need a broker of their own to stop and start again (`pause()` /
 * `resume()` keep the ports and the log dir, so clients see "the same broker went away and came
 * back").
 *
 * A broker never outlives the process that started it: next to every JVM runs a tiny watchdog
 * (`bash` blocked on a pipe from this process); when this process dies for any reason, even
 * SIGKILL, the pipe closes and the watchdog kills the JVM.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { freePorts } from '../support/ports.js';
import { exited, log4jConfig, stopWithWatchdog, tail } from './child.js';

const { Kafka, logLevel } = kafkajs;

/** The repository root (this file is test/kafka/harness.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const POM = join(REPO_ROOT, 'test', 'kafka', 'pom.xml');
const LIB = join(REPO_ROOT, '.kafka', 'lib');

export interface KafkaHarness {
  /** Bootstrap list for clients: `127.0.0.1:PORT`. */
  readonly brokers: string;
  readonly port: number;
  readonly controllerPort: number;
  /** Temp dir holding server.properties, log4j2 config, logs and the data dir. */
  readonly dir: string;
  /** PID of the running JVM, or undefined while paused/stopped. */
  readonly pid: number | undefined;
  /** Stops the broker (SIGTERM, SIGKILL after 15 s) and removes its dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * Stops the JVM but keeps ports and log dir, so `resume()` brings back the same broker with
   * the same data. `hard` kills it (SIGKILL, like a crash) instead of a clean shutdown.
   */
  pause(options?: { hard?: boolean }): Promise<void>;
  /** Starts the paused broker again on the same ports and waits until it answers. */
  resume(): Promise<void>;
  /** The last lines of the broker's own log and stdout/stderr, for failure messages. */
  logTail(lines?: number): string;
}

export interface KafkaHarnessOptions {
  /** How long to wait for the broker to answer an admin listTopics (default 60 s). */
  readyTimeoutMs?: number;
  /** JVM heap (default 512m: plenty for tests, small enough for a 2-core CI box). */
  heap?: string;
}

/**
 * Makes sure the Kafka jars are in .kafka/lib, fetching them with Maven (cached in ~/.m2) when the
 * folder is missing or incomplete. Returns the folder.
 */
export function ensureKafkaJars(): string {
  const jars = existsSync(LIB) ? readdirSync(LIB) : [];
  const complete =
    jars.some((j) => /^kafka_2\.13-.*\.jar$/.test(j)) &&
    jars.some((j) => /^kafka-tools-\d.*\.jar$/.test(j)) &&
    jars.some((j) => /^slf4j-api-2\..*\.jar$/.test(j));
  if (!complete) {
    execFileSync('mvn', ['-q', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${LIB}`], {
      stdio: 'inherit',
    });
  }
  return LIB;
}

/**
 * The JVM classpath as an explicit list. An older checkout may hold both slf4j-api 1.7 and 2.x
 * (copy-dependencies adds, never removes); 1.7 cannot see the Log4j 2 binding, so it is left out.
 * Exported for the Kafka tools (e.g. kafka-consumer-groups' ConsumerGroupCommand) tests run.
 */
export function classpath(): string {
  const jars = readdirSync(LIB).filter((j) => j.endsWith('.jar'));
  const hasSlf4j2 = jars.some((j) => /^slf4j-api-2\./.test(j));
  return jars
    .filter((j) => !(hasSlf4j2 && /^slf4j-api-1\./.test(j)))
    .sort()
    .map((j) => join(LIB, j))
    .join(':');
}

function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    // The gateway core decides whether a topic is created on first produce, not the broker.
    'auto.create.topics.enable=false',
    // One node: with the default replication factor (3) the group coordinator never comes up.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}



/** Answers once a kafkajs admin can connect and list topics on `brokers`. */
async function waitReady(brokers: string, child: ChildProcess, timeoutMs: number, logTail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exited(child)) {
      throw new Error(`Kafka broker exited during start (code ${child.exitCode}, signal ${child.signalCode}).\n${logTail()}`);
    }
    const admin = new Kafka({
      brokers: [brokers],
      clientId: 'harness-probe',
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 2000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await admin.disconnect().catch((err: unknown) => {
        lastError = err;
      });
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  throw new Error(`Kafka broker at ${brokers} not ready within ${timeoutMs} ms (last error: ${String(lastError)}).\n${logTail()}`);
}

/** Starts a fresh broker and waits until it answers. */
export async function startKafkaHarness(options: KafkaHarnessOptions = {}): Promise<KafkaHarness> {
  ensureKafkaJars();
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const heap = options.heap ?? '512m';
  const [port, controllerPort] = await freePorts(2);
  const dir = mkdtempSync(join(tmpdir(), 'streamgate-kafka-'));
  const dataDir = join(dir, 'data');
  const props = join(dir, 'server.properties');
  const log4j = join(dir, 'log4j2.properties');
  const brokerLog = join(dir, 'broker.log');
  const outLog = join(dir, 'stdout.log');
  writeFileSync(props, serverProperties(port, controllerPort, dataDir));
  writeFileSync(log4j, log4jConfig(brokerLog, 'warn'));
  const cp = classpath();
  const jvmLogging = [`-Dlog4j2.configurationFile=${log4j}`];

  const clusterId = execFileSync('java', ['-cp', cp, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!
    .trim();
  execFileSync('java', [...jvmLogging, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  const brokers = `127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  let removed = false;
  const logTail = (lines = 40): string =>
    `--- ${brokerLog} ---\n${tail(brokerLog, lines)}\n--- ${outLog} ---\n${tail(outLog, lines)}`;

  const launch = async (): Promise<void> => {
    const out = openSync(outLog, 'a');
    try {
      // Own process group: a terminal Ctrl-C reaches us (we stop the broker cleanly), not the JVM.
      child = spawn('java', [`-Xmx${heap}`, ...jvmLogging, '-cp', cp, 'kafka.Kafka', props], {
        stdio: ['ignore', out, out],
        detached: true,
      });
    } finally {
      closeSync(out);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not spawn java');
    // The watchdog blocks reading our pipe; EOF means we died without stopping the broker → kill
    // the JVM and remove its dir. It ignores signals sent to our process group so it cannot die
    // before us. A normal stop/pause SIGKILLs the watchdog once the JVM is gone, so it never
    // fires then.
    const script = `trap '' INT TERM HUP; read -r _; kill -KILL ${pid} 2>/dev/null; sleep 1; rm -rf '${dir}'`;
    watchdog = spawn('bash', ['-c', script], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // Neither child may keep the event loop alive (npm run kafka waits on signals, vitest on tests).
    child.unref();
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
    await waitReady(brokers, child, readyTimeoutMs, logTail);
  };

  const halt = async (hard: boolean): Promise<void> => {
    const c = child;
    const w = watchdog;
    child = undefined;
    watchdog = undefined;
    await stopWithWatchdog(c, w, hard);
  };

  try {
    await launch();
  } catch (err) {
    await halt(true);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    brokers,
    port,
    controllerPort,
    dir,
    get pid() {
      return child?.pid;
    },
    async stop() {
      await halt(false);
      if (!removed) {
        removed = true;
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async pause(opts = {}) {
      await halt(opts.hard ?? false);
    },
    async resume() {
      if (removed) throw new Error('broker was stopped; start a new one');
      if (child) return;
      await launch();
    },
    logTail,
  };
}
