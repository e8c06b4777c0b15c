import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The node flags `npm start` runs the service with (package.json's start
 * script, between `node` and the script), so the bench measures the service
 * as it is run.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = (() => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  return words.slice(1, -1).filter((w) => w.startsWith('--'));
})();

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Child {
  name: string;
  url: string;
  pid: number;
  /** SIGTERM, wait for a clean exit (SIGKILL after 20 s); resolves with the exit code. */
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Kills children this process started, if the bench itself is interrupted. */
export function killChildren(): void {
  for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
}

/**
 * Starts a server as a child process on 127.0.0.1 and waits until
 * `readyPath` answers 200. Its output goes to `logFile`.
 */
export async function startChild(opts: {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
  readyPath?: string;
}): Promise<Child> {
  const port = await freePort();
  const log = fs.openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, opts.args, {
    cwd: opts.cwd,
    env: { ...opts.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  running.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('exit', () => running.delete(child));
  const url = `http://127.0.0.1:${port}`;
  const readyUrl = `${url}${opts.readyPath ?? '/readyz'}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${opts.name} exited with ${child.exitCode} before it was ready; see ${opts.logFile}`);
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${opts.name} was not ready within 30 s; see ${opts.logFile}`);
    }
    await sleep(100);
  }
  return {
    name: opts.name,
    url,
    pid: child.pid ?? -1,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

let ticksPerSecond: number | null = null;

/**
 * CPU time (user + system, seconds) a process has used so far, from
 * /proc/PID/stat; null where there is no /proc. Unlike throughput, CPU spent
 * per request barely moves when other work shares the machine.
 */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (ticksPerSecond === null) {
      const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
      ticksPerSecond = Number(r.stdout.trim()) || 100;
    }
    return (utime + stime) / ticksPerSecond;
  } catch {
    return null;
  }
}
