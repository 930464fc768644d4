/** Small helpers for the JVM child processes of the test harness (Kafka broker, Connect worker). */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** The last `lines` lines of a log file ('' if it does not exist yet). */
export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
}

/**
 * A log4j2 configuration sending everything at `rootLevel` and above to one file; `loggers` set
 * other levels for named loggers (e.g. quieter Kafka client config dumps).
 */
export function log4jConfig(logFile: string, rootLevel: string, loggers: Readonly<Record<string, string>> = {}): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = FILE',
    `appender.file.fileName = ${logFile}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    `rootLogger.level = ${rootLevel}`,
    'rootLogger.appenderRef.file.ref = FILE',
    ...Object.entries(loggers).flatMap(([name, level], i) => [`logger.l${i}.name = ${name}`, `logger.l${i}.level = ${level}`]),
    '',
  ].join('\n');
}

/** True once the child has exited (by code or signal). */
export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true when the child exits within `timeoutMs`, false otherwise. */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((ok) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      ok(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      ok(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * Stops a JVM child (SIGTERM, SIGKILL after 15 s; SIGKILL at once when `hard`) and only then its
 * watchdog: if this process dies while the JVM is still shutting down, the watchdog finishes the job.
 */
export async function stopWithWatchdog(child: ChildProcess | undefined, watchdog: ChildProcess | undefined, hard: boolean): Promise<void> {
  if (child && !exited(child)) {
    child.kill(hard ? 'SIGKILL' : 'SIGTERM');
    if (!(await waitExit(child, 15_000))) {
      child.kill('SIGKILL');
      await waitExit(child, 5_000);
    }
  }
  watchdog?.kill('SIGKILL');
}
