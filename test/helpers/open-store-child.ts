// One process opening a SQLite store (migrations included) at an agreed
// instant, for tests of processes starting together on one fresh file.
// Usage: node --import tsx test/helpers/open-store-child.ts <file> <start at, epoch ms>
import { openStore } from '../../src/store/open-store.js';

const [file, at] = [process.argv[2] as string, Number(process.argv[3])];
while (Date.now() < at) {
  // Busy-wait rather than a timer: the processes must start within a millisecond of each other.
}
try {
  const store = await openStore({ kind: 'sqlite', path: file });
  await store.close();
  process.stdout.write('ok\n');
} catch (err) {
  process.stdout.write(`FAIL ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
