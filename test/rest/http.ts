/** A tiny HTTP client for the REST tests (node:http, because fetch refuses a GET with a body, which Confluent's GET …/offsets uses). */
import { request } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function http(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: unknown; raw?: string | Buffer } = {},
): Promise<HttpResponse> {
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...(payload === undefined ? {} : { 'content-length': String(Buffer.byteLength(payload)) }), ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export const V2 = 'application/vnd.kafka.v2+json';
export const V2_JSON = 'application/vnd.kafka.json.v2+json';
export const V2_BINARY = 'application/vnd.kafka.binary.v2+json';
