/**
 * The proto Session state machine with a fake core and a recording output (no transport, no
 * broker): the behaviour both the gRPC Session and the WebSocket proto subprotocol get from it.
 */
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Gateway, SubscriberSink, Subscription } from '../gateway/api.js';
import { createContext } from '../gateway/context.js';
import { encodeOnce } from '../gateway/encoded.js';
import { GatewayError } from '../gateway/errors.js';
import type { ProduceResult, StreamRecord } from '../gateway/record.js';
import type { SessionRequest__Output } from '../proto/gen/ts/streamgate/v1/SessionRequest.js';
import type { SessionResponse } from '../proto/gen/ts/streamgate/v1/SessionResponse.js';
import { EncodedResponse, encodeSessionResponse, streamGateway } from './proto.js';
import { StreamSession, type SessionOutput, type StreamSessionLimits } from './stream-session.js';

const log = pino({ level: 'silent' });
const record = (offset: bigint): StreamRecord => ({ topic: 't', partition: 0, offset, timestamp: 1, key: null, value: Buffer.from('v'), headers: [] });

/** Records every frame as the client would decode it. */
class RecordingOutput implements SessionOutput {
  readonly frames: any[] = [];
  paused = 0;
  resumed = 0;
  closedWith: { error: GatewayError | undefined } | undefined;
  write(frame: SessionResponse | EncodedResponse): Promise<void> {
    this.post(frame);
    return Promise.resolve();
  }
  post(frame: SessionResponse | EncodedResponse): void {
    const session = streamGateway().service.Session!;
    this.frames.push(session.responseDeserialize(encodeSessionResponse(frame)));
  }
  pause(): void {
    this.paused++;
  }
  resume(): void {
    this.resumed++;
  }
  released(): void {}
  close(error?: GatewayError): void {
    this.closedWith = { error };
  }
  of(kind: string): any[] {
    return this.frames.filter((f) => f.frame === kind).map((f) => f[kind]);
  }
}

function setup(gateway: Partial<Gateway>, limits: Partial<StreamSessionLimits> = {}) {
  const output = new RecordingOutput();
  const session = new StreamSession(output, {
    gateway: gateway as Gateway,
    ctx: createContext({ protocol: 'test', log }),
    log,
    limits: { maxPendingPublishes: 2, whenPublishesFull: 'pause', maxRecordsFrameBytes: 1 << 20, ...limits },
    admitSubscription: () => () => {},
  });
  // Frames as the adapters hand them over: decoded with the served codec (defaults filled in).
  const send = (frame: object) => {
    const session_ = streamGateway().service.Session!;
    session.handle(session_.requestDeserialize(session_.requestSerialize(frame)) as SessionRequest__Output);
  };
  return { output, session, send };
}

/** A fake broadcast subscription whose sink the test drives. */
function broadcast() {
  const sinks: SubscriberSink[] = [];
  const subscription: Subscription = { id: 'x', topic: 't', start: new Map([[0, 0n]]), positions: () => new Map(), addCredit: vi.fn(), close: vi.fn() };
  const subscribe = async (_ctx: unknown, _req: unknown, sink: SubscriberSink) => {
    sinks.push(sink);
    return subscription;
  };
  return { sinks, subscription, subscribe: subscribe as Gateway['subscribe'] };
}

describe('StreamSession', () => {
  it('sends a subscription no more records than granted, own credit first, then the pool; the sink waits meanwhile', async () => {
    const b = broadcast();
    const { output, send } = setup({ subscribe: b.subscribe });
    send({ subscribe: { id: 's', topic: 't', credit: 1 } });
    await vi.waitFor(() => expect(output.of('subscribed')).toHaveLength(1));
    let done = false;
    const delivered = Promise.resolve(b.sinks[0]!.records([record(0n), record(1n), record(2n)])).then(() => (done = true));
    await vi.waitFor(() => expect(output.of('records')).toHaveLength(1));
    await new Promise((r) => setImmediate(r));
    expect(output.of('records').flatMap((f) => f.records.map((r: any) => r.offset))).toEqual(['0']);
    expect(done).toBe(false);
    send({ credit: { subscription_id: '', records: 1 } });
    await vi.waitFor(() => expect(output.of('records')).toHaveLength(2));
    expect(done).toBe(false);
    send({ credit: { subscription_id: 's', records: 5 } });
    await delivered;
    expect(output.of('records').flatMap((f) => f.records.map((r: any) => r.offset))).toEqual(['0', '1', '2']);
    // The hub was told about every grant, so it hands over what the client can take.
    expect(b.subscription.addCredit).toHaveBeenCalledWith(1);
    expect(b.subscription.addCredit).toHaveBeenCalledWith(5);
  });

  it('refuses acks of records never delivered on the subscription, accepts delivered ones', async () => {
    const b = broadcast();
    const { output, send } = setup({ subscribe: b.subscribe });
    send({ subscribe: { id: 's', topic: 't', credit: 10 } });
    await vi.waitFor(() => expect(output.of('subscribed')).toHaveLength(1));
    await b.sinks[0]!.records([record(0n)]);
    send({ ack: { subscription_id: 's', partition: 0, offset: '0' } });
    send({ ack: { subscription_id: 's', partition: 0, offset: '1' } });
    send({ ack: { subscription_id: 'nope', partition: 0, offset: '0' } });
    expect(output.of('error').map((e) => [e.id, e.code])).toEqual([
      ['s', 'INVALID_ARGUMENT'],
      ['nope', 'NOT_FOUND'],
    ]);
  });

  it('pauses reading at maxPendingPublishes and resumes when one is answered, or refuses over it', async () => {
    const pending: ((r: ProduceResult[]) => void)[] = [];
    const produce = () => new Promise<ProduceResult[]>((resolve) => pending.push(resolve));
    const paused = setup({ produce }, { whenPublishesFull: 'pause' });
    paused.send({ publish: { id: 'a', topic: 't', records: [{}] } });
    expect(paused.output.paused).toBe(0);
    paused.send({ publish: { id: 'b', topic: 't', records: [{}] } });
    expect(paused.output.paused).toBe(1);
    pending.shift()!([{ ok: true, partition: 0, offset: 7n, timestamp: 1 }]);
    await vi.waitFor(() => expect(paused.output.resumed).toBe(1));
    expect(paused.output.of('published')).toEqual([{ id: 'a', offsets: [{ partition: 0, offset: '7', timestamp: '1' }] }]);

    const refusing = setup({ produce }, { whenPublishesFull: 'refuse' });
    for (const id of ['c', 'd', 'e']) refusing.send({ publish: { id, topic: 't', records: [{}] } });
    expect(refusing.output.paused).toBe(0);
    expect(refusing.output.of('error')).toEqual([expect.objectContaining({ id: 'e', code: 'RESOURCE_EXHAUSTED', retriable: true })]);
  });

  it('ends only the subscription whose records cannot be encoded, with the catalogued error', async () => {
    const b = broadcast();
    const { output, send } = setup({ subscribe: b.subscribe });
    send({ subscribe: { id: 'bad', topic: 't', credit: 10 } });
    send({ subscribe: { id: 'good', topic: 't', credit: 10 } });
    await vi.waitFor(() => expect(output.of('subscribed')).toHaveLength(2));
    const broken = record(9n);
    expect(() =>
      encodeOnce(broken, 'proto.record', () => {
        throw new RangeError('Maximum call stack size exceeded');
      }),
    ).toThrow(GatewayError);
    await b.sinks[0]!.records([broken]);
    await b.sinks[1]!.records([record(1n)]);
    await vi.waitFor(() => expect(output.of('end')).toHaveLength(1));
    expect(output.of('end')[0]).toEqual({ subscription_id: 'bad', code: 'INTERNAL', message: 'The record at t/0@9 could not be encoded (proto.record).', retriable: false });
    expect(output.of('records').map((f) => f.subscription_id)).toEqual(['good']);
    expect(output.closedWith).toBeUndefined();
  });

  it('after the client half-closes, answers pending publishes and then closes with OK', async () => {
    let answer!: (r: ProduceResult[]) => void;
    const { output, session, send } = setup({ produce: () => new Promise((resolve) => (answer = resolve)) });
    send({ publish: { id: 'p', topic: 't', records: [{}] } });
    session.clientFinished();
    await new Promise((r) => setImmediate(r));
    expect(output.closedWith).toBeUndefined();
    answer([{ ok: true, partition: 0, offset: 0n, timestamp: 1 }]);
    await session.closed;
    await vi.waitFor(() => expect(output.closedWith).toEqual({ error: undefined }));
    expect(output.of('published')).toHaveLength(1);
  });
});
