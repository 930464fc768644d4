/** A bare WebSocket test client: sends frames, records every frame received, waits on predicates. */
import { WebSocket } from 'ws';
import { eventually } from '../support/wait.js';

export interface Closed {
  code: number;
  reason: string;
}

export class RawClient {
  readonly frames: any[] = [];
  readonly binaryFrames: Buffer[] = [];
  readonly closed: Promise<Closed>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (binary) this.binaryFrames.push(data);
      else this.frames.push(JSON.parse(data.toString('utf8')));
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(url: string, protocol: string | undefined = 'streamgate.v1.json', query?: string): Promise<RawClient> {
    const ws = new WebSocket(`${url}/v1/ws${query === undefined ? '' : `?${query}`}`, protocol === undefined ? [] : [protocol]);
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first received frame matching `match` (waits for it). */
  waitFor(match: (f: any) => boolean, what = 'frame'): Promise<any> {
    return eventually(() => this.frames.find(match), { what, timeoutMs: 15_000 });
  }

  /** Records of subscription `sub` received so far, flattened. */
  records(sub: string): any[] {
    return this.frames.filter((f) => f.op === 'records' && f.sub === sub).flatMap((f) => f.records);
  }

  async waitForRecords(sub: string, n: number): Promise<any[]> {
    await eventually(() => this.records(sub).length >= n, { what: `${n} records on ${sub}`, timeoutMs: 15_000 });
    return this.records(sub);
  }

  close(): void {
    this.ws.close();
  }
}
