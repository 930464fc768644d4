/** How many gateway processes a config asks for, and the combinations refused at start. */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../gateway/config.js';
import { loadServerConfig } from './compose.js';
import { workerCount } from './workers.js';

const config = (file: Record<string, unknown>, argv: string[] = []) => loadServerConfig({ argv, env: {}, file });
const kafka = { kafka: { brokers: ['127.0.0.1:9092'] } };

describe('workerCount', () => {
  it('auto: one per core on Kafka, one on the embedded log', () => {
    expect(workerCount(config(kafka))).toBe(availableParallelism());
    expect(workerCount(config({}))).toBe(1);
  });

  it('takes a number from the file, STREAMGATE_WORKERS or --workers', () => {
    expect(workerCount(config({ ...kafka, workers: 3 }))).toBe(3);
    expect(workerCount(loadServerConfig({ argv: [], env: { STREAMGATE_WORKERS: '4' }, file: kafka }))).toBe(4);
    expect(workerCount(config(kafka, ['--workers', '2']))).toBe(2);
    expect(() => config(kafka, ['--workers', '0'])).toThrow(/workers/);
    expect(() => config(kafka, ['--workers', 'many'])).toThrow(/workers/);
  });

  it('refuses several workers on the embedded log, naming the key', () => {
    expect(() => workerCount(config({ workers: 2 }))).toThrow(ConfigError);
    expect(() => workerCount(config({ workers: 2 }))).toThrow(/"workers".*Kafka backend/);
    expect(workerCount(config({ workers: 1 }))).toBe(1);
  });

  it('refuses uWebSockets.js on a random port with several workers (each would get its own)', () => {
    expect(() => workerCount(config({ ...kafka, workers: 2, websocket: { engine: 'uws' } }))).toThrow(/websocket\.uwsPort/);
    expect(() => workerCount(config({ ...kafka, workers: 2, websocket: { engine: 'auto' } }))).toThrow(/websocket\.uwsPort/);
    expect(workerCount(config({ ...kafka, workers: 2, websocket: { engine: 'uws', uwsPort: 9001 } }))).toBe(2);
    expect(workerCount(config({ ...kafka, workers: 1, websocket: { engine: 'uws' } }))).toBe(1);
  });
});
