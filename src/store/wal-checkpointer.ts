import { Worker } from 'node:worker_threads';
import type { CheckpointWorkerData } from './checkpoint-worker.js';

/**
 * The thread running checkpoint-worker next to this module. Built, that is a
 * .js file; under tsx or vitest this module is TypeScript, and so is the
 * worker, which then loads through tsx (a development dependency, there in
 * both cases).
 */
function startCheckpointThread(data: CheckpointWorkerData): Worker {
  const typescript = import.meta.url.endsWith('.ts');
  const url = new URL(`./checkpoint-worker.${typescript ? 'ts' : 'js'}`, import.meta.url);
  if (!typescript) return new Worker(url, { workerData: data });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

/**
 * Checkpoints the WAL on a thread of its own. SQLite's automatic checkpoint
 * runs inside the COMMIT that crosses the threshold, on the event loop: it
 * copies megabytes into the database file and syncs it, a pause of tens of
 * milliseconds for the requests and the sync pages waiting behind it. The
 * main connection keeps a far higher threshold as a backstop, in case this
 * thread stops or falls behind.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  /**
   * Each checkpoint syncs both files: 250 ms keeps that to a few a second,
   * and the WAL to megabytes. `onError`: the thread failed (the backstop takes over).
   */
  constructor(file: string, onError: (err: Error) => void, intervalMs = 250) {
    this.worker = startCheckpointThread({ file, intervalMs });
    // It must not keep the process alive, nor take it down: the backstop checkpoints without it.
    this.worker.unref();
    this.worker.on('error', onError);
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
  }

  async stop(): Promise<void> {
    // Unreferenced, its exit would not keep an otherwise idle process waiting for it.
    this.worker.ref();
    let timer: NodeJS.Timeout | undefined;
    this.worker.postMessage('stop');
    // A thread stuck in a checkpoint is not waited for long: closing the main connection checkpoints anyway.
    await Promise.race([this.exited, new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}
