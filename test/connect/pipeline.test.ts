/**
 * Kafka Connect beside streamgate, end to end, against the real test broker, a real Kafka Connect
 * worker (Apache Kafka's connect-runtime + connect-file, standalone) and a real gateway:
 *
 *   file ─FileStreamSource─▶ Kafka ─streamgate─▶ WebSocket / MQTT / SSE subscribers
 *   MQTT device, REST ─streamgate─▶ Kafka ─FileStreamSink─▶ file
 *
 * plus the record format both sides agree on: how Connect's String/ByteArray/JSON converters read
 * what streamgate writes, and how records written by Connect (JSON converter, SMT-built keys,
 * headers) look to WebSocket and MQTT clients. One worker runs every connector of this file.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { sseSubscribe, valueText, wsSubscribe } from './clients.js';
import { CONVERTERS, FILE_SINK, FILE_SOURCE, startConnectWorker, type ConnectWorker } from './worker.js';

const { Kafka, logLevel } = kafkajs;

let worker: ConnectWorker;
let gw: TestGateway;
let dir: string;
let admin: kafkajs.Admin;
const topics = {
  files: uniqueTopic('connect-files'),
  devices: uniqueTopic('connect-devices'),
  json: uniqueTopic('connect-json'),
  binary: uniqueTopic('connect-binary'),
  rooms: uniqueTopic('connect-rooms'),
};

/** Lets Connect create the topics its source connectors write (the test broker has auto-create off). */
const TOPIC_CREATION = { 'topic.creation.default.replication.factor': '1', 'topic.creation.default.partitions': '1' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamgate-connect-test-'));
  admin = new Kafka({ brokers: [kafkaBrokers()], clientId: 'connect-test', logLevel: logLevel.NOTHING }).admin();
  // The worker's JVM start and the gateway's start overlap.
  [worker, gw] = await Promise.all([
    startConnectWorker({ brokers: kafkaBrokers() }),
    startTestGateway({
      config: {
        mqtt: {
          routes: [
            // Connect's FileStreamSource writes records without a key: MQTT shows them as `files/lines`.
            { filter: 'files/#', topic: topics.files, nullKeyTopic: 'files/lines' },
            { filter: 'devices/#', topic: topics.devices },
            { filter: 'rooms/#', topic: topics.rooms },
          ],
        },
        // Connect creates the topics: the core's poll for missing topics finds them.
        topics: { waitPollMs: 100 },
      },
    }),
    admin.connect(),
  ]);
}, 120_000);

afterAll(async () => {
  // Each step runs whatever happened before: no JVM or server outlives the file.
  const pid = worker?.pid;
  const results = await Promise.allSettled([gw?.close(), worker?.stop(), admin?.disconnect()]);
  rmSync(dir, { recursive: true, force: true });
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  if (pid !== undefined && alive(pid)) throw new Error(`Connect worker JVM ${pid} still running after stop()`);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function topicExists(topic: string): Promise<boolean> {
  return (await admin.listTopics()).includes(topic);
}

/** Lines of a file once it holds at least `n` complete lines (the sink writes asynchronously to the test). */
async function fileLines(file: string, n: number, timeoutMs = 20_000): Promise<string[]> {
  return eventually(
    () => {
      if (!existsSync(file)) return false;
      const text = readFileSync(file, 'utf8');
      const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n').slice(0, -1);
      return lines.length >= n && lines;
    },
    { timeoutMs, what: `${n} lines in ${file}` },
  );
}

interface MqttMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  userProperties: Record<string, string | string[]> | undefined;
}

async function mqttSubscriber(filter: string, clientId: string): Promise<{ client: MqttClient; messages: MqttMessage[] }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId, reconnectPeriod: 0 });
  const messages: MqttMessage[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, payload, qos: packet.qos, userProperties: packet.properties?.userProperties }),
  );
  const granted = await client.subscribeAsync(filter, { qos: 1 });
  expect(granted[0]?.qos).toBe(1);
  return { client, messages };
}

async function restPost(path: string, contentType: string, body: unknown): Promise<{ offsets: { partition: number; offset: number | string }[] }> {
  const res = await fetch(`${gw.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: JSON.stringify(body) });
  const text = await res.text();
  expect(res.status, `POST ${path}: ${text}`).toBe(200);
  return JSON.parse(text) as { offsets: { partition: number; offset: number | string }[] };
}

const b64 = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');

describe('Connect worker', () => {
  it('serves the FileStream connectors and rejects an invalid connector config with Connect’s own message', async () => {
    const res = await fetch(`${worker.url}/connector-plugins`);
    const plugins = (await res.json()) as { class: string }[];
    expect(plugins.map((p) => p.class)).toEqual(expect.arrayContaining([FILE_SOURCE, FILE_SINK]));
    // FileStreamSource needs `topic`: Connect validates the config and refuses it (HTTP 400).
    await expect(worker.addConnector('no-topic', { 'connector.class': FILE_SOURCE, file: '/dev/null' })).rejects.toThrow(/HTTP 400.*topic/s);
  });
});

describe('Connect source → streamgate subscribers', () => {
  it('every line a FileStreamSource reads reaches WebSocket, MQTT and SSE subscribers in order, and appended lines follow', async () => {
    const input = join(dir, 'lines.txt');
    const first = ['line 1: hello', 'line 2: grüße ✓', '{"temp":21.5,"unit":"C"}', ...Array.from({ length: 17 }, (_, i) => `line ${i + 4}`)];
    writeFileSync(input, `${first.join('\n')}\n`);

    // MQTT first: its subscription waits for the topic Connect is about to create and reads it from the start.
    const device = await mqttSubscriber('files/#', uniqueId('files-sub'));
    try {
      await worker.addConnector(`source-${topics.files}`, {
        'connector.class': FILE_SOURCE,
        file: input,
        topic: topics.files,
        'key.converter': CONVERTERS.string,
        'value.converter': CONVERTERS.string,
        ...TOPIC_CREATION,
      });
      await eventually(() => topicExists(topics.files), { what: `Connect created ${topics.files}`, timeoutMs: 20_000 });
      const ws = await wsSubscribe(gw.wsUrl, topics.files, 'earliest');
      const sse = await sseSubscribe(gw.httpUrl, topics.files, 'earliest');
      try {
        const check = async (expected: string[]): Promise<void> => {
          const [wsRecords, sseRecords] = await Promise.all([ws.waitFor(expected.length), sse.waitFor(expected.length)]);
          await eventually(() => device.messages.length >= expected.length, { what: `${expected.length} MQTT messages`, timeoutMs: 20_000 });
          for (const [name, records] of [['WebSocket', wsRecords], ['SSE', sseRecords]] as const) {
            expect(records.map(valueText), name).toEqual(expected);
            expect(records.map((r) => r.offset), name).toEqual(expected.map((_, i) => String(i)));
            // StringConverter with no key: Kafka key null.
            expect(records.every((r) => r.key === null && r.partition === 0), name).toBe(true);
          }
          // Plain text travels base64; a line that is JSON text is delivered as that JSON value.
          expect(wsRecords[0]).toMatchObject({ value: b64(first[0]!), encoding: 'base64' });
          expect(wsRecords[2]!.value).toEqual({ temp: 21.5, unit: 'C' });
          expect(wsRecords[2]!.encoding).toBeUndefined();
          expect(sseRecords[2]!.value).toEqual({ temp: 21.5, unit: 'C' });
          expect(device.messages.map((m) => m.payload.toString('utf8'))).toEqual(expected);
          // Keyless records appear under the route's nullKeyTopic, at the default foreign-record QoS 1.
          expect(new Set(device.messages.map((m) => m.topic))).toEqual(new Set(['files/lines']));
          expect(new Set(device.messages.map((m) => m.qos))).toEqual(new Set([1]));
        };
        await check(first);

        // The source keeps tailing its file: appended lines are new records, delivered live.
        const more = Array.from({ length: 10 }, (_, i) => `appended ${i + 1}`);
        appendFileSync(input, `${more.join('\n')}\n`);
        await check([...first, ...more]);
        expect(ws.errors).toEqual([]);
      } finally {
        sse.close();
        await ws.close();
      }
    } finally {
      await device.client.endAsync();
      await worker.deleteConnector(`source-${topics.files}`);
    }
  });

  it('records Connect writes with the JSON converter, an SMT-built key and a header look like native records on WebSocket and MQTT', async () => {
    const input = join(dir, 'rooms.txt');
    const rooms = ['rooms/kitchen', 'rooms/hall', 'rooms/attic'];
    writeFileSync(input, `${rooms.join('\n')}\n`);
    const device = await mqttSubscriber('rooms/#', uniqueId('rooms-sub'));
    try {
      await worker.addConnector(`source-${topics.rooms}`, {
        'connector.class': FILE_SOURCE,
        file: input,
        topic: topics.rooms,
        'key.converter': CONVERTERS.string,
        'value.converter': CONVERTERS.json,
        'value.converter.schemas.enable': 'false',
        // line → {"room": line}; key = the room (an MQTT topic name); header source=connect-file.
        transforms: 'hoist,toKey,keyField,source',
        'transforms.hoist.type': 'org.apache.kafka.connect.transforms.HoistField$Value',
        'transforms.hoist.field': 'room',
        'transforms.toKey.type': 'org.apache.kafka.connect.transforms.ValueToKey',
        'transforms.toKey.fields': 'room',
        'transforms.keyField.type': 'org.apache.kafka.connect.transforms.ExtractField$Key',
        'transforms.keyField.field': 'room',
        'transforms.source.type': 'org.apache.kafka.connect.transforms.InsertHeader',
        'transforms.source.header': 'source',
        'transforms.source.value.literal': 'connect-file',
        ...TOPIC_CREATION,
      });
      await eventually(() => topicExists(topics.rooms), { what: `Connect created ${topics.rooms}`, timeoutMs: 20_000 });
      const ws = await wsSubscribe(gw.wsUrl, topics.rooms, 'earliest');
      try {
        const records = await ws.waitFor(rooms.length);
        expect(records.map((r) => ({ key: r.key, value: r.value, encoding: r.encoding, headers: r.headers }))).toEqual(
          rooms.map((room) => ({ key: room, value: { room }, encoding: undefined, headers: [{ name: 'source', value: 'connect-file' }] })),
        );
        // The key is the MQTT topic; the JSON value is the payload; a non-mqtt.* header is a v5 user property.
        await eventually(() => device.messages.length >= rooms.length, { what: 'MQTT room messages' });
        expect(device.messages.map((m) => ({ topic: m.topic, payload: m.payload.toString('utf8'), userProperties: m.userProperties }))).toEqual(
          rooms.map((room) => ({ topic: room, payload: JSON.stringify({ room }), userProperties: { source: 'connect-file' } })),
        );
      } finally {
        await ws.close();
      }
    } finally {
      await device.client.endAsync();
      await worker.deleteConnector(`source-${topics.rooms}`);
    }
  });
});

describe('streamgate producers → Connect sink', () => {
  it('records from an MQTT device (QoS 1) and from REST reach a FileStreamSink file in order, none missing', async () => {
    const out = join(dir, 'devices.out');
    const restOnly = join(dir, 'devices-rest.out');
    const expected: string[] = [];
    const restExpected: string[] = [];
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 4, clientId: 'device-1', reconnectPeriod: 0 });
    let n = 0;
    const mqttBurst = async (count: number): Promise<void> => {
      const payloads = Array.from({ length: count }, () => `mqtt ${++n}`);
      // Pipelined on one connection: written, and acknowledged, in the order sent.
      await Promise.all(payloads.map((p) => device.publishAsync('devices/d1/temp', p, { qos: 1 })));
      expected.push(...payloads);
    };
    const restBinary = async (count: number): Promise<void> => {
      const values = Array.from({ length: count }, () => `rest ${++n}`);
      // Confluent v2, binary embedded format: the value bytes are exactly the decoded base64.
      await restPost(`/topics/${topics.devices}`, 'application/vnd.kafka.binary.v2+json', { records: values.map((v) => ({ key: b64('rest'), value: b64(v) })) });
      expected.push(...values);
      restExpected.push(...values);
    };
    const restNative = async (count: number): Promise<void> => {
      const values = Array.from({ length: count }, () => ({ n: ++n, source: 'native' }));
      // Native v1: a JSON value is stored as its JSON text, which a StringConverter reads as is.
      await restPost(`/v1/topics/${topics.devices}/records`, 'application/json', { records: values.map((value) => ({ key: 'rest-native', value })) });
      expected.push(...values.map((v) => JSON.stringify(v)));
      restExpected.push(...values.map((v) => JSON.stringify(v)));
    };
    try {
      // Written before the sink exists: the sink starts from the earliest offset and catches up.
      await mqttBurst(25);
      await restBinary(10);
      await worker.addConnector(`sink-${topics.devices}`, {
        'connector.class': FILE_SINK,
        file: out,
        topics: topics.devices,
        'key.converter': CONVERTERS.string,
        'value.converter': CONVERTERS.string,
      });
      // A second sink sees streamgate's headers: it drops every record that has `mqtt.client-id`.
      await worker.addConnector(`sink-rest-only-${topics.devices}`, {
        'connector.class': FILE_SINK,
        file: restOnly,
        topics: topics.devices,
        'key.converter': CONVERTERS.string,
        'value.converter': CONVERTERS.string,
        transforms: 'dropMqtt',
        'transforms.dropMqtt.type': 'org.apache.kafka.connect.transforms.Filter',
        'transforms.dropMqtt.predicate': 'fromMqtt',
        predicates: 'fromMqtt',
        'predicates.fromMqtt.type': 'org.apache.kafka.connect.transforms.predicates.HasHeaderKey',
        'predicates.fromMqtt.name': 'mqtt.client-id',
      });
      // While the sinks run.
      await restNative(5);
      await mqttBurst(25);
      await restBinary(5);
      await mqttBurst(10);

      expect(await fileLines(out, expected.length)).toEqual(expected);
      expect(await fileLines(restOnly, restExpected.length)).toEqual(restExpected);

      // What Connect's StringConverter read as key: the MQTT topic for device records, REST's key otherwise.
      const consumer = new Kafka({ brokers: [kafkaBrokers()], clientId: 'connect-test', logLevel: logLevel.NOTHING }).consumer({
        groupId: uniqueId('connect-test-keys'),
      });
      const seen: { key: string | null; value: string; qos: string | undefined }[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: topics.devices, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            seen.push({ key: message.key?.toString('utf8') ?? null, value: message.value!.toString('utf8'), qos: message.headers?.['mqtt.qos']?.toString() });
          },
        });
        await eventually(() => seen.length >= expected.length, { what: 'raw Kafka read of the devices topic', timeoutMs: 20_000 });
      } finally {
        await consumer.disconnect();
      }
      expect(seen.map((s) => s.value)).toEqual(expected);
      for (const s of seen) {
        if (s.value.startsWith('mqtt ')) expect(s).toMatchObject({ key: 'devices/d1/temp', qos: '1' });
        else if (s.value.startsWith('rest ')) expect(s).toMatchObject({ key: 'rest', qos: undefined });
        else expect(s).toMatchObject({ key: 'rest-native', qos: undefined });
      }
    } finally {
      await device.endAsync();
      await Promise.all([worker.deleteConnector(`sink-${topics.devices}`), worker.deleteConnector(`sink-rest-only-${topics.devices}`)]);
    }
  });

  it('JSON values produced over REST (vnd.kafka.json.v2) are read by the JSON converter (schemas.enable=false) as structured data', async () => {
    const out = join(dir, 'json.out');
    const values = [
      { device: 'd1', temp: 21.5, tags: ['kitchen'] },
      { device: 'd2', temp: -3, nested: { ok: true } },
      { device: 'd3', temp: 1000 },
    ];
    await restPost(`/topics/${topics.json}`, 'application/vnd.kafka.json.v2+json', { records: values.map((value) => ({ key: value.device, value })) });
    await worker.addConnector(`sink-${topics.json}`, {
      'connector.class': FILE_SINK,
      file: out,
      topics: topics.json,
      // A string key of a json-format produce is stored as its plain UTF-8 text (not as a JSON
      // string, so MQTT topics and key filters match it): a StringConverter reads it.
      'key.converter': CONVERTERS.string,
      'value.converter': CONVERTERS.json,
      'value.converter.schemas.enable': 'false',
      // Only a value the converter parsed into a map has fields: the sink writes the `temp` field.
      transforms: 'temp',
      'transforms.temp.type': 'org.apache.kafka.connect.transforms.ExtractField$Value',
      'transforms.temp.field': 'temp',
    });
    try {
      // JSON numbers: integers become Java longs, the others doubles.
      expect(await fileLines(out, values.length)).toEqual(['21.5', '-3', '1000']);
    } finally {
      await worker.deleteConnector(`sink-${topics.json}`);
    }
  });

  it('binary values produced over REST (vnd.kafka.binary.v2) reach a ByteArrayConverter sink byte for byte', async () => {
    const out = join(dir, 'binary.out');
    const values = [Buffer.from([0x00, 0xff, 0x10, 0x80, 0x0a]), Buffer.from('plain text', 'utf8'), Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) % 256))];
    await restPost(`/topics/${topics.binary}`, 'application/vnd.kafka.binary.v2+json', { records: values.map((v) => ({ value: b64(v) })) });
    await worker.addConnector(`sink-${topics.binary}`, {
      'connector.class': FILE_SINK,
      file: out,
      topics: topics.binary,
      'value.converter': CONVERTERS.byteArray,
      // FileStreamSink prints value.toString(); Cast renders the byte[] it got as base64 text.
      transforms: 'text',
      'transforms.text.type': 'org.apache.kafka.connect.transforms.Cast$Value',
      'transforms.text.spec': 'string',
    });
    try {
      expect(await fileLines(out, values.length)).toEqual(values.map((v) => b64(v)));
    } finally {
      await worker.deleteConnector(`sink-${topics.binary}`);
    }
  });
});
