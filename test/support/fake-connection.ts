/** An in-memory WebSocket connection for unit tests of what runs on the transport. */
import type { EngineConnection } from '../../transport/websocket.js';

/** Records what is sent; the buffered amount is set by the test (or grows with sends, `countsSent`). */
export class FakeConnection implements EngineConnection {
  sent: (string | Buffer)[] = [];
  buffered = 0;
  pings = 0;
  paused = false;
  terminated = false;
  closedWith: [number, string] | undefined;
  private waiters: { threshold: number; resolve: () => void }[] = [];

  constructor(
    readonly subprotocol = 'streamgate.v1.json',
    private readonly options: { canPause?: boolean; countsSent?: boolean } = {},
  ) {}

  bufferedAmount(): number {
    return this.buffered;
  }
  send(data: string | Uint8Array): number {
    this.sent.push(typeof data === 'string' ? data : Buffer.from(data));
    if (this.options.countsSent === true) this.buffered += data.length;
    return this.buffered;
  }
  whenDrained(threshold: number): Promise<void> {
    if (this.buffered <= threshold) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ threshold, resolve }));
  }
  setBuffered(n: number): void {
    this.buffered = n;
    const ready = this.waiters.filter((w) => n <= w.threshold);
    this.waiters = this.waiters.filter((w) => n > w.threshold);
    for (const w of ready) w.resolve();
  }
  ping(): void {
    this.pings++;
  }
  pause(): boolean {
    this.paused = this.options.canPause ?? true;
    return this.paused;
  }
  resume(): void {
    this.paused = false;
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
  }
  terminate(): void {
    this.terminated = true;
  }
  /** The JSON frames sent, parsed. */
  frames(): any[] {
    return this.sent.map((s) => JSON.parse(String(s)));
  }
}
