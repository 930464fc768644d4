/** Test helpers for the gRPC adapter: promisified stub calls and a frame-recording Session. */
import * as grpc from '@grpc/grpc-js';
import { createStub, type SessionRequest, type SessionResponse, type StreamGatewayClient } from '../../clients/ts/node/index.js';
import type { SubscribeRequest } from '../../proto/gen/ts/streamgate/v1/SubscribeRequest.js';
import type { SubscribeResponse__Output } from '../../proto/gen/ts/streamgate/v1/SubscribeResponse.js';
import { eventually } from '../support/wait.js';

export function stubFor(port: number): StreamGatewayClient {
  return createStub(`127.0.0.1:${port}`);
}

type Unary = 'Produce' | 'Fetch' | 'ListTopics' | 'GetOffsets';

/** Calls a unary method; resolves with the response or rejects with the ServiceError. */
export function call<M extends Unary>(
  stub: StreamGatewayClient,
  method: M,
  request: Parameters<StreamGatewayClient[M]>[0],
  metadata = new grpc.Metadata(),
): Promise<any> {
  return new Promise((resolve, reject) => {
    (stub[method] as any)(request, metadata, { deadline: Date.now() + 15_000 }, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
  });
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** Records every frame of a Subscribe stream and its final status. */
export class SubscribeRecorder {
  readonly frames: SubscribeResponse__Output[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  readonly call: grpc.ClientReadableStream<SubscribeResponse__Output>;

  constructor(stub: StreamGatewayClient, request: SubscribeRequest, metadata = new grpc.Metadata()) {
    this.call = stub.Subscribe(request, metadata);
    this.call.on('data', (f: SubscribeResponse__Output) => this.frames.push(f));
    this.call.on('error', (err: grpc.ServiceError) => (this.error = err));
    this.call.on('end', () => (this.ended = true));
  }

  records() {
    return this.frames.filter((f) => f.frame === 'records').flatMap((f) => f.records!.records);
  }

  async subscribed() {
    const f = await eventually(() => this.frames.find((x) => x.frame === 'subscribed') ?? this.error, { what: 'subscribed' });
    if ('code' in f) throw f;
    return (f as SubscribeResponse__Output).subscribed!;
  }
}

/** Records every frame of a Session stream and its final status. */
export class SessionRecorder {
  readonly frames: SessionResponse[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  readonly call: grpc.ClientDuplexStream<SessionRequest, SessionResponse>;

  constructor(stub: StreamGatewayClient, metadata = new grpc.Metadata()) {
    this.call = stub.Session(metadata);
    this.call.on('data', (f: SessionResponse) => this.frames.push(f));
    this.call.on('error', (err: grpc.ServiceError) => (this.error = err));
    this.call.on('end', () => (this.ended = true));
  }

  send(frame: SessionRequest): void {
    this.call.write(frame);
  }

  of<K extends NonNullable<SessionResponse['frame']>>(kind: K): NonNullable<SessionResponse[K]>[] {
    return this.frames.filter((f) => f.frame === kind).map((f) => f[kind]!) as NonNullable<SessionResponse[K]>[];
  }

  /** Records received on one subscription, in order. */
  records(sub: string) {
    return this.of('records')
      .filter((r) => r.subscription_id === sub)
      .flatMap((r) => r.records);
  }

  /** Waits for the first frame of a kind matching a predicate. */
  async waitFor<K extends NonNullable<SessionResponse['frame']>>(kind: K, match: (f: NonNullable<SessionResponse[K]>) => boolean = () => true) {
    return eventually(() => this.of(kind).find(match), { what: `${kind} frame` });
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}
