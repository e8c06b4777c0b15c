import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running the module `name` (without extension) next to
 * `siblingOf` (the caller's import.meta.url). Built, that is a .js file;
 * under tsx or vitest the caller is TypeScript, and so is the worker, which
 * then loads through tsx (a development dependency, there in both cases).
 */
export function startModuleWorker(name: string, siblingOf: string, options: WorkerOptions = {}): Worker {
  const typescript = siblingOf.endsWith('.ts');
  const url = new URL(`./${name}.${typescript ? 'ts' : 'js'}`, siblingOf);
  if (!typescript) return new Worker(url, options);
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
