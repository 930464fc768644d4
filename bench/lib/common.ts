/**
 * Shared pieces of the benchmarks: the record payload (256 B of JSON carrying its send time), a
 * mergeable latency histogram, CPU/RSS sampling of other processes from /proc, tables, results.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RESULTS = join(REPO, 'bench', 'results');

/** Value size of every benchmark record (bytes). */
export const VALUE_BYTES = 256;

/** Wall clock in ms with sub-ms precision, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A 256-byte JSON value `{"t":<send time ms>,"s":<seq>,"p":"xxx…"}`: JSON so every protocol
 * (and Centrifugo, which needs JSON data) carries it inline, and the send time travels with it.
 */
export function payload(seq: number, t = nowMs()): string {
  const head = `{"t":${t.toFixed(3)},"s":${seq},"p":"`;
  return head + 'x'.repeat(Math.max(0, VALUE_BYTES - head.length - 2)) + '"}';
}

const T_RE = /"t":(\d+\.\d+)/g;

/** Calls `fn` with the send time of every payload found in a chunk of text (a frame may hold many records). */
export function eachSendTime(text: string, fn: (t: number) => void): void {
  T_RE.lastIndex = 0;
  for (let m = T_RE.exec(text); m !== null; m = T_RE.exec(text)) fn(Number(m[1]));
}

/**
 * Log-bucketed latency histogram (2 % relative precision, 1 µs .. ~1 h), cheap to record and to
 * merge across load-generator processes.
 */
export class Histogram {
  static readonly BASE = Math.log(1.02);
  counts: number[] = [];
  n = 0;
  max = 0;

  record(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const i = Math.floor(Math.log(us) / Histogram.BASE);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.n++;
    if (ms > this.max) this.max = ms;
  }

  merge(other: { counts: (number | null)[]; n: number; max: number }): void {
    other.counts.forEach((c, i) => {
      if (c) this.counts[i] = (this.counts[i] ?? 0) + c;
    });
    this.n += other.n;
    this.max = Math.max(this.max, other.max);
  }

  /** The q-quantile in ms (upper edge of its bucket), or NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const target = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= target) return Math.exp((i + 1) * Histogram.BASE) / 1000;
    }
    return this.max;
  }

  toJSON(): { counts: number[]; n: number; max: number } {
    return { counts: Array.from(this.counts, (c) => c ?? 0), n: this.n, max: this.max };
  }
}

/** CPU time (ms, user + system) and RSS (bytes) of a process, from /proc (Linux). */
export function procStat(pid: number): { cpuMs: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) in clock ticks; USER_HZ is 100 on Linux.
  const cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuMs, rss: rssKb * 1024 };
}

/**
 * Run-queue wait of a process's main thread in ms (/proc/<pid>/schedstat, second field, ns):
 * time it was runnable but waited for a CPU. A load generator that waits much is starved —
 * its low CPU then does not mean it had capacity to spare.
 */
export function runQueueWaitMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return 0;
  }
}

/** Samples a set of processes: CPU % over a window, run-queue wait % and peak RSS. */
export class ProcSampler {
  private start = new Map<number, { cpuMs: number; waitMs: number; at: number }>();
  private peak = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pids: number[]) {}

  begin(): void {
    for (const pid of this.pids) this.start.set(pid, { cpuMs: procStat(pid).cpuMs, waitMs: runQueueWaitMs(pid), at: performance.now() });
    this.peak.clear();
    this.timer = setInterval(() => this.sample(), 250);
  }

  private sample(): void {
    for (const pid of this.pids) {
      try {
        const { rss } = procStat(pid);
        this.peak.set(pid, Math.max(this.peak.get(pid) ?? 0, rss));
      } catch {
        // The process ended between samples; its last peak stands.
        this.peak.set(pid, this.peak.get(pid) ?? 0);
      }
    }
  }

  /** Per pid: CPU % of one core over the window, run-queue wait % of the window (main thread), peak RSS. */
  end(): Map<number, { cpuPct: number; waitPct: number; peakRss: number }> {
    clearInterval(this.timer);
    this.sample();
    const out = new Map<number, { cpuPct: number; waitPct: number; peakRss: number }>();
    for (const pid of this.pids) {
      const s = this.start.get(pid)!;
      const now = procStat(pid).cpuMs;
      const elapsed = performance.now() - s.at;
      out.set(pid, {
        cpuPct: (100 * (now - s.cpuMs)) / elapsed,
        waitPct: (100 * (runQueueWaitMs(pid) - s.waitMs)) / elapsed,
        peakRss: this.peak.get(pid) ?? 0,
      });
    }
    return out;
  }
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Prints a table with aligned columns. */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${title}\n${line(cols)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${cells.map(line).join('\n')}\n`);
}

/** Markdown table of the same rows. */
export function markdownTable(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  return [`| ${cols.join(' | ')} |`, `|${cols.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${cols.map((c) => String(r[c] ?? '')).join(' | ')} |`)].join('\n');
}

/** When and on which commit a result was recorded (results/README.md names each section's run). */
export interface Recorded {
  readonly recordedAt: string;
  readonly commit: string;
}

export function writeResult(name: string, data: object): string {
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${name}.json`);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const recorded: Recorded = { recordedAt: new Date().toISOString(), commit };
  writeFileSync(file, JSON.stringify({ ...recorded, ...data }, null, 2) + '\n');
  return file;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Command-line flags shared by every benchmark: `--quick`, `--only=a,b`. */
export function benchFlags(argv = process.argv.slice(2)): { quick: boolean; only: string[] | undefined } {
  const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  return { quick: argv.includes('--quick'), only: only === undefined ? undefined : only.split(',') };
}

/**
 * `--profile[=dir]`: where the gateway child writes its V8 .cpuprofiles (a new temp dir when no
 * dir is given; printed), or undefined without the flag.
 */
export function profileFlag(bench: string, argv = process.argv.slice(2)): string | undefined {
  const profile = argv.find((a) => a === '--profile' || a.startsWith('--profile='));
  if (profile === undefined) return undefined;
  const dir = profile.startsWith('--profile=') ? profile.slice('--profile='.length) : mkdtempSync(join(tmpdir(), `sg-${bench}-prof-`));
  mkdirSync(dir, { recursive: true });
  process.stdout.write(`CPU profiles of the gateway child: ${dir}\n`);
  return dir;
}
