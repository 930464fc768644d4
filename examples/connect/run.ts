/**
 * `npm run example:connect`: Kafka Connect and streamgate on one Kafka, the whole pipeline on
 * this machine.
 *
 *   examples/connect/input.txt ─FileStreamSource─▶ Kafka `connect-lines` ({"line": …}) ─▶ streamgate ─▶ WebSocket, SSE, MQTT `files/lines`
 *   MQTT `devices/…`, REST ─▶ streamgate ─▶ Kafka `device-readings` ─FileStreamSink─▶ <tmp>/device-readings.txt
 *
 * Starts a single-node Kafka broker (official jars, fetched by Maven on first use), the gateway
 * with the Kafka backend, and a Kafka Connect worker (standalone) with both connectors; prints
 * commands to try, and runs until Ctrl-C, then stops all three and removes their temp data.
 * Only Java 17+, Maven and `npm ci` are needed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import kafkajs from 'kafkajs';
import { ConfigError } from '../../gateway/config.js';
import { createLogger } from '../../gateway/log.js';
import { loadServerConfig, startServer, type RunningServer } from '../../app/compose.js';
import { REPO_ROOT, startKafkaHarness, type KafkaHarness } from '../../test/kafka/harness.js';
import { CONVERTERS, FILE_SINK, FILE_SOURCE, startConnectWorker, type ConnectWorker } from '../../test/connect/worker.js';

const LINES_TOPIC = 'connect-lines';
const READINGS_TOPIC = 'device-readings';
const input = join(REPO_ROOT, 'examples', 'connect', 'input.txt');
const work = mkdtempSync(join(tmpdir(), 'streamgate-example-connect-'));
const output = join(work, 'device-readings.txt');

// If whatever reads our output goes away (a pipe closed by the same Ctrl-C), stop printing but
// still clean up: an unhandled EPIPE would end the process before Connect and Kafka are stopped.
let stdoutOpen = true;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  stdoutOpen = false;
});
const say = (text: string): void => {
  if (stdoutOpen) process.stdout.write(`${text}\n`);
};

let broker: KafkaHarness | undefined;
let server: RunningServer | undefined;
let worker: ConnectWorker | undefined;

async function cleanup(): Promise<void> {
  // Connect first (it reads and writes Kafka), then the gateway, then the broker.
  const steps: [string, (() => Promise<void>) | undefined][] = [
    ['Kafka Connect', worker && (() => worker!.stop())],
    ['streamgate', server && (() => server!.close())],
    ['Kafka', broker && (() => broker!.stop())],
  ];
  for (const [name, stop] of steps) {
    if (stop === undefined) continue;
    try {
      await stop();
      say(`stopped ${name}`);
    } catch (err) {
      process.stderr.write(`failed to stop ${name}: ${String(err)}\n`);
    }
  }
  rmSync(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  say('starting Kafka (first run: Maven fetches the Apache Kafka jars)…');
  broker = await startKafkaHarness();
  say(`Kafka ready at ${broker.brokers}`);

  // The topics exist before anyone reads them (the broker does not auto-create topics).
  const admin = new kafkajs.Kafka({ brokers: [broker.brokers], clientId: 'example-connect', logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: LINES_TOPIC, numPartitions: 1 }, { topic: READINGS_TOPIC, numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }

  // Defaults for the example; STREAMGATE_* variables and --flags still apply on top (e.g. STREAMGATE_HTTP_PORT=0).
  let config;
  try {
    config = loadServerConfig({
      file: {
        dataDir: join(work, 'gateway'),
        kafka: { brokers: [broker.brokers] },
        mqtt: {
          routes: [
            // FileStreamSource records have no key: MQTT subscribers see them under `files/lines`.
            { filter: 'files/#', topic: LINES_TOPIC, nullKeyTopic: 'files/lines' },
            { filter: 'devices/#', topic: READINGS_TOPIC },
          ],
        },
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(`configuration: ${err.message}`);
    throw err;
  }
  server = await startServer(config, { log: createLogger('warn') });
  const http = `http://127.0.0.1:${server.ports.http}`;
  const mqttPort = server.ports.mqtt;
  say(`streamgate ready: HTTP/WebSocket ${http}, MQTT 127.0.0.1:${mqttPort}`);

  say('starting Kafka Connect (standalone)…');
  worker = await startConnectWorker({
    brokers: broker.brokers,
    connectors: {
      'lines-source': {
        'connector.class': FILE_SOURCE,
        file: input,
        topic: LINES_TOPIC,
        // Each line becomes the JSON object {"line": "<text>"}: readable JSON on every protocol
        // (with the String converter, plain-text values travel base64 on WebSocket and SSE).
        'key.converter': CONVERTERS.string,
        'value.converter': CONVERTERS.json,
        'value.converter.schemas.enable': 'false',
        transforms: 'wrap',
        'transforms.wrap.type': 'org.apache.kafka.connect.transforms.HoistField$Value',
        'transforms.wrap.field': 'line',
      },
      'readings-sink': {
        'connector.class': FILE_SINK,
        file: output,
        topics: READINGS_TOPIC,
        'key.converter': CONVERTERS.string,
        'value.converter': CONVERTERS.string,
      },
    },
  });
  say(`Kafka Connect ready: ${worker.url} (connectors lines-source, readings-sink)`);

  const inputPath = relative(process.cwd(), input) || input;
  const wsOneLiner =
    `node -e "const W=require('ws');const s=new W('ws://127.0.0.1:${server.ports.http}/v1/ws','streamgate.v1.json');` +
    `s.on('open',()=>s.send(JSON.stringify({op:'subscribe',id:'s1',topic:'${LINES_TOPIC}',from:'earliest'})));s.on('message',m=>console.log(String(m)))"`;
  say(`
Everything runs. In another shell (from the repository root):

# 1. File → Connect → Kafka → streamgate → your clients
curl -N '${http}/v1/topics/${LINES_TOPIC}/events?from=earliest'          # Server-Sent Events
${wsOneLiner}
mosquitto_sub -h 127.0.0.1 -p ${mqttPort} -V mqttv5 -q 1 -v -t 'files/#'   # MQTT: new lines arrive as files/lines
echo "a new line, $(date)" >> ${inputPath}                               # appended lines are streamed live

# 2. Devices and apps → streamgate → Kafka → Connect → file
tail -F ${output}
mosquitto_pub -h 127.0.0.1 -p ${mqttPort} -q 1 -t devices/d1/temp -m 21.5
curl -X POST -H 'content-type: application/vnd.kafka.json.v2+json' \\
     --data '{"records":[{"key":"d2","value":{"temp":22.5}}]}' ${http}/topics/${READINGS_TOPIC}
curl -X POST -H 'content-type: application/json' \\
     --data '{"records":[{"key":"d3","value":"hello from REST"}]}' ${http}/v1/topics/${READINGS_TOPIC}/records

# 3. Look inside
curl '${worker.url}/connectors?expand=status'                            # Kafka Connect's REST API
curl '${http}/v1/topics/${READINGS_TOPIC}/partitions/0/records?offset=0'   # the records as streamgate sees them

Ctrl-C stops Connect, streamgate and Kafka and deletes their data.`);
}

// The child processes are unref'd; this keeps the process up until a signal arrives.
const keepAlive = setInterval(() => undefined, 1 << 30);
let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  say(`\n${signal}: stopping…`);
  cleanup().then(
    () => {
      clearInterval(keepAlive);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`cleanup failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
// The terminal closed: still stop everything (the watchdogs would otherwise kill the JVMs without a clean stop).
process.on('SIGHUP', () => shutdown('SIGHUP'));

main().catch((err: unknown) => {
  process.stderr.write(`example:connect failed: ${err instanceof Error ? err.message : String(err)}\n`);
  stopping = true;
  cleanup().finally(() => {
    clearInterval(keepAlive);
    process.exit(1);
  });
});
