/**
 * Summarises a V8 .cpuprofile (from `bench/fanout.ts --profile`): total sampled time, idle /
 * GC / program share, and the top functions by self time and by self time aggregated per file.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile | folder> [--top=25]
 *
 * Given a folder (one `--profile` run), it reads the largest profile in it: the main thread's
 * (tsx's module-loader thread writes a small one beside it).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const arg = process.argv[2];
if (arg === undefined) {
  process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile | folder> [--top=25]\n');
  process.exit(2);
}
const file = statSync(arg).isDirectory()
  ? readdirSync(arg)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(arg, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]!
  : arg;
const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

const shortUrl = (url: string): string => url.replace(/^file:\/\/.*?\/(node_modules|gateway|adapters|bench)\//, '$1/').replace(/^node:/, 'node:');
const fnKey = (f: CallFrame): string => `${f.functionName || '(anonymous)'}  ${shortUrl(f.url)}:${f.lineNumber + 1}`;

const perFn = new Map<string, number>();
const perFile = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const frame = byId.get(id)!.callFrame;
  total += us;
  perFn.set(fnKey(frame), (perFn.get(fnKey(frame)) ?? 0) + us);
  const f = frame.url === '' ? frame.functionName : shortUrl(frame.url);
  perFile.set(f, (perFile.get(f) ?? 0) + us);
}

const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const print = (title: string, rows: Map<string, number>): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);
};

const wall = (profile.endTime - profile.startTime) / 1000;
const idle = perFile.get('(idle)') ?? 0;
process.stdout.write(`${file}\nwall ${wall.toFixed(0)} ms, sampled ${(total / 1000).toFixed(0)} ms, idle ${pct(idle)}, GC ${pct(perFile.get('(garbage collector)') ?? 0)}\n`);
print('Top functions by self time', perFn);
print('Self time per file', perFile);
