/**
 * `npm run bench`: every benchmark in one run on one Kafka broker — produce per protocol vs raw
 * kafkajs, fan-out per protocol vs Mosquitto and Centrifugo, idle connections — then writes
 * bench/results/{produce,fanout,idle}.json, bench/results/README.md (tables, machine, versions)
 * and the charts bench/results/fanout.svg and bench/results/produce.svg.
 *
 *   npm run bench                 # full (≈ 10–15 min on 2 cores)
 *   npm run bench -- --quick      # N = 100 and 1,000, shorter windows, 2,000 idle connections
 *   npm run bench -- --skip=idle  # produce | fanout | idle
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { startKafkaHarness } from '../test/kafka/harness.js';
import { barChart } from './chart.js';
import { runFanout, fanoutRows, sweepCeilings, SWEEP_RATES, type FanoutResult } from './fanout.js';
import { idleRows, runIdle } from './idle.js';
import { REPO, RESULTS, benchFlags, markdownTable, writeResult, type Recorded } from './lib/common.js';
import { CENTRIFUGO, MOSQUITTO } from './lib/procs.js';
import { produceRows, runProduce } from './produce.js';

const flags = benchFlags();
const skip = (process.argv.find((a) => a.startsWith('--skip='))?.slice(7) ?? '').split(',');

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    // Some tools print their version and exit non-zero (mosquitto -h exits 3): keep what they printed.
    const out = (err as { stdout?: string }).stdout?.trim();
    if (out) return out;
    return `unavailable (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
  }
}

function pkgVersion(name: string): string {
  const file = join(REPO, 'node_modules', name, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'not installed';
}

const machine = {
  date: new Date().toISOString(),
  nproc: sh('nproc', []),
  cpu: cpus()[0]?.model ?? 'unknown',
  memGiB: Math.round(totalmem() / 2 ** 30),
  freeG: sh('free', ['-g']),
  loadBefore: sh('uptime', []),
  ulimitN: sh('bash', ['-c', 'ulimit -n']),
  kernel: sh('uname', ['-r']),
  versions: {
    node: process.version,
    streamgate: (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version,
    commit: sh('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']),
    kafka: readdirKafka(),
    kafkajs: pkgVersion('kafkajs'),
    ws: pkgVersion('ws'),
    'uws (unofficial)': pkgVersion('@trufflesuite/uws-js-unofficial'),
    mqtt: pkgVersion('mqtt'),
    '@grpc/grpc-js': pkgVersion('@grpc/grpc-js'),
    mosquitto: existsSync(MOSQUITTO) ? sh(MOSQUITTO, ['-h']).split('\n')[0]! : 'not installed',
    // `go install …@v6.9.1` builds without the release ldflags, so the binary itself reports v0.0.0.
    centrifugo: existsSync(CENTRIFUGO) ? `v6.9.1 (go install; binary says "${sh(CENTRIFUGO, ['version'])}")` : 'not installed',
  },
};

function readdirKafka(): string {
  const lib = join(REPO, '.kafka', 'lib');
  if (!existsSync(lib)) return 'unknown';
  const jar = execFileSync('ls', [lib], { encoding: 'utf8' })
    .split('\n')
    .find((j) => /^kafka_2\.13-.*\.jar$/.test(j));
  return jar?.replace(/^kafka_2\.13-|\.jar$/g, '') ?? 'unknown';
}

// Other work on the machine skews every number: sample the load average through the run.
const loads: number[] = [];
const loadTimer = setInterval(() => loads.push(loadavg()[0]!), 5000);
loadTimer.unref();
const started = Date.now();
let produce: Awaited<ReturnType<typeof runProduce>> = [];
let fanout: Awaited<ReturnType<typeof runFanout>> = { results: [], skipped: [] };
let idle: Awaited<ReturnType<typeof runIdle>> = [];
let minutes: string;
let run: typeof machine & { minutes: string; quick: boolean; load1Min: number; load1Max: number; load1Mean: number };
if (process.argv.includes('--report-only')) {
  // Rebuild README.md and the charts from the committed JSON (after editing this script's text).
  const read = (name: string) => JSON.parse(readFileSync(join(RESULTS, `${name}.json`), 'utf8'));
  produce = read('produce').results;
  fanout = read('fanout');
  idle = read('idle').results;
  run = read('machine');
  minutes = run.minutes;
} else {
  const broker = await startKafkaHarness();
  try {
    if (!skip.includes('produce')) produce = await runProduce({ ...flags, broker });
    if (!skip.includes('fanout')) fanout = await runFanout({ ...flags, broker });
    if (!skip.includes('idle')) idle = await runIdle({ ...flags, broker });
  } finally {
    await broker.stop();
  }
  minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const mean = loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length);
  run = { ...machine, minutes, quick: flags.quick, load1Min: Math.min(...loads), load1Max: Math.max(...loads), load1Mean: Number(mean.toFixed(2)) };
  writeResult('machine', run);
}
clearInterval(loadTimer);

// Charts: delivered records/s per server/protocol at each N; produce records/s vs raw.
const colors = ['#4e79a7', '#f28e2b', '#59a14f'];
const ns = [...new Set(fanout.results.map((r) => r.subscribers))].sort((a, b) => a - b);
const labels = [...new Set(fanout.results.map((r) => `${r.server} · ${r.protocol}`))];
const find = (label: string, n: number): FanoutResult | undefined => fanout.results.find((r) => `${r.server} · ${r.protocol}` === label && r.subscribers === n);
if (fanout.results.length > 0) {
  writeFileSync(
    join(RESULTS, 'fanout.svg'),
    barChart(
      'Fan-out: records delivered per second (one publisher, N subscribers)',
      'delivered records/s (higher is better); same publish rate × N for every server',
      ns.map((n, i) => ({ name: `N = ${n.toLocaleString('en-US')}`, color: colors[i % colors.length]! })),
      labels.map((label) => ({ label, values: ns.map((n) => find(label, n)?.deliveredPerSec) })),
    ),
  );
  writeFileSync(
    join(RESULTS, 'fanout-p99.svg'),
    barChart(
      'Fan-out: end-to-end latency p99 (ms)',
      'p99 ms from publish to subscriber (lower is better)',
      ns.map((n, i) => ({ name: `N = ${n.toLocaleString('en-US')}`, color: colors[i % colors.length]! })),
      labels.map((label) => ({ label, values: ns.map((n) => find(label, n)?.p99Ms) })),
    ),
  );
}
if (produce.length > 0) {
  writeFileSync(
    join(RESULTS, 'produce.svg'),
    barChart(
      'Produce: records per second (256 B values, acks=all)',
      'records/s (higher is better)',
      [
        { name: 'path', color: colors[0]! },
        { name: 'raw kafkajs, same batching', color: colors[1]! },
      ],
      produce.map((r) => ({ label: r.path.replace(/ \(.*\)$/, ''), values: [r.recordsPerSec, r.rawRecordsPerSec] })),
    ),
  );
}

/** Results of bench/scale.ts (each file only when it was run). */
/** "Recorded <date> on commit <c>." for a result file that says so (sections can come from separate runs). */
function recordedLine(name: string): string[] {
  const file = join(RESULTS, `${name}.json`);
  if (!existsSync(file)) return [];
  const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<Recorded>;
  return r.recordedAt === undefined ? [] : [`Recorded ${r.recordedAt.slice(0, 16).replace('T', ' ')} UTC on commit ${r.commit}.`, ''];
}

function scaleSection(): string[] {
  const read = (name: string): { results: FanoutResult[]; timing?: { rates: readonly number[] }; ceilings?: ReturnType<typeof sweepCeilings>; skipped?: { target: string; subscribers: number; reason: string }[] } | undefined => {
    const file = join(RESULTS, `${name}.json`);
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
  };
  const out: string[] = [];
  const at250 = read('fanout-250k');
  if (at250 !== undefined) {
    out.push(
      '## Fan-out at 250,000 deliveries/s offered (bench/scale.ts)',
      '',
      'Same workload as above at 250,000 deliveries/s (publish rate 250 at N = 1,000, 25 at N = 10,000). "gen wait %" is the busiest generator\'s run-queue wait (/proc/<pid>/schedstat: runnable but no CPU) and "server wait %" the server\'s: on 2 cores a high wait means that process was starved, whatever its CPU %.',
      '',
      ...recordedLine('fanout-250k'),
      markdownTable(fanoutRows(at250.results)),
      '',
      ...(at250.skipped?.length ? ['Skipped:', '', ...at250.skipped.map((s) => `- ${s.target} N=${s.subscribers}: ${s.reason}`), ''] : []),
    );
  }
  const floor = read('fanout-floor');
  if (floor !== undefined) {
    out.push(
      '## Latency floor at N = 10,000 (bench/scale.ts)',
      '',
      "10,000 deliveries/s offered to 10,000 subscribers: one record a second, so no server is busy (see server CPU %), and the latency is what one record takes to reach all 10,000 sockets — through the server's 10,000 writes and the generators' 10,000 reads on the same 2 cores. It bounds what the sweep can show at this N on this machine.",
      '',
      ...recordedLine('fanout-floor'),
      markdownTable(fanoutRows(floor.results)),
      '',
    );
  }
  for (const [name, title] of [
    ['fanout-sweep', 'Offered-rate sweep at N = 10,000 (bench/scale.ts)'],
    ['fanout-workers', 'Sweep with `--workers 2` at N = 10,000 (bench/scale.ts)'],
  ] as const) {
    const sweep = read(name);
    if (sweep === undefined) continue;
    const ceilings = sweep.ceilings ?? sweepCeilings(sweep.results);
    out.push(
      `## ${title}`,
      '',
      `Each server steps through ${(sweep.timing?.rates ?? SWEEP_RATES).map((r) => r.toLocaleString('en-US')).join(', ')} deliveries/s offered over the same connections (2 s warm-up, 5 s window per step) and stops at the first step that misses p99 ≤ 100 ms or 99 % delivered. Ceiling = the highest offered rate that passed ("< ${(sweep.timing?.rates ?? SWEEP_RATES)[0]!.toLocaleString('en-US')}" = none did).`,
      '',
      ...recordedLine(name),
      markdownTable(ceilings.map((c) => ({ server: c.server, protocol: c.protocol, N: c.subscribers.toLocaleString('en-US'), 'ceiling (deliveries/s)': c.ceilingPerSec === 0 ? `< ${(sweep.timing?.rates ?? SWEEP_RATES)[0]!.toLocaleString('en-US')}` : c.ceilingPerSec.toLocaleString('en-US'), 'first failing step': c.firstFailing?.toLocaleString('en-US') ?? '–' }))),
      '',
      '<details><summary>every step</summary>',
      '',
      markdownTable(fanoutRows(sweep.results)),
      '',
      '</details>',
      '',
    );
  }
  return out;
}

const md = [
  '# streamgate benchmark results',
  '',
  `Generated by \`npm run bench${run.quick ? ' -- --quick' : ''}\` (bench/run.ts) on ${run.date.slice(0, 10)}, ${minutes} min; a section recorded by a later run of one benchmark says when. Everything on one machine over loopback: one Kafka broker, the gateway in its own process (Kafka backend), the peers, and the load generators in child processes.`,
  '',
  '## Machine and versions',
  '',
  `- ${run.nproc} cores (\`nproc\`), ${run.cpu}, ${run.memGiB} GiB RAM, Linux ${run.kernel}, \`ulimit -n\` ${run.ulimitN}`,
  `- load before the run: \`${run.loadBefore}\`; ${'loadObserved' in run ? `load during the run: ${(run as { loadObserved: string }).loadObserved}` : `1-min load average during the run: mean ${run.load1Mean}, min ${run.load1Min}, max ${run.load1Max}`} (a load above 2 on 2 cores means the benchmark shared the CPU with other work; numbers are then lower and noisier than on a quiet machine)`,
  '- ' + Object.entries(run.versions).map(([k, v]) => `${k} ${v}`).join(', '),
  '',
  '```',
  run.freeG,
  '```',
  '',
  '## Produce (throughput and latency per protocol vs raw kafkajs)',
  '',
  'Closed loop, 256 B JSON values, acks=all. Batched paths: 100 records per request, 8 requests in flight; raw = kafkajs `producer.send` with the same batch and concurrency. MQTT has no batches: one message per PUBLISH, 64 in flight, compared with kafkajs sending one record per `send` with 64 in flight. QoS 0 has no acknowledgement: published flat out, counted when all reached Kafka. Latency = request → acknowledgement.',
  '',
  ...recordedLine('produce'),
  markdownTable(produceRows(produce)),
  '',
  '![produce](produce.svg)',
  '',
  '## Fan-out (one publisher, N subscribers)',
  '',
  'The publisher sends at a fixed rate = target deliveries/s ÷ N (same for every server). WebSocket, SSE and gRPC subscribers read a Kafka topic the publisher writes with kafkajs (Centrifugo reads the same kind of topic with its Kafka consumer, publication data mode). MQTT: publisher and subscribers speak MQTT QoS 0 to the server (streamgate routes through Kafka; Mosquitto keeps it in memory). Latency = send time in the payload → arrival at the subscriber. "ratio" = delivered ÷ (published in the window × N); above 1 means a backlog from before the window was still arriving. Server CPU is % of one core; "gen CPU" is the busiest load-generator process (a value near 100 would mean the generator was the bottleneck). gRPC subscribers: one server stream each, over up to 100 HTTP/2 connections.',
  '',
  ...recordedLine('fanout'),
  markdownTable(fanoutRows(fanout.results)),
  '',
  ...(fanout.skipped.length > 0 ? ['Skipped:', '', ...fanout.skipped.map((s) => `- ${s.target} N=${s.subscribers}: ${s.reason}`), ''] : []),
  '![fan-out delivered/s](fanout.svg)',
  '',
  '![fan-out p99](fanout-p99.svg)',
  '',
  ...scaleSection(),
  '## Idle connections',
  '',
  'Server RSS (and JS heap after GC for streamgate) before and after opening the connections, divided by their number. WebSocket clients are connected (Centrifugo: connected with a token) but not subscribed; MQTT clients are connected with keepalive 0.',
  '',
  ...recordedLine('idle'),
  markdownTable(idleRows(idle)),
  '',
  '## Reproduce',
  '',
  '```sh',
  'GOBIN=$PWD/.bench-bin go install github.com/centrifugal/centrifugo/v6@v6.9.1   # optional peer',
  'apt-get install mosquitto                                                       # optional peer',
  `npm run bench${flags.quick ? ' -- --quick' : ''}`,
  '```',
  '',
  'Each part also runs alone: `npx tsx bench/produce.ts`, `npx tsx bench/fanout.ts [--n=100,1000] [--only=ws,mqtt,…]`, `npx tsx bench/idle.ts [--n=10000]`.',
  '',
];
writeFileSync(join(RESULTS, 'README.md'), md.join('\n'));
process.stdout.write(`\nwrote ${join(RESULTS, 'README.md')} (${minutes} min)\n`);
