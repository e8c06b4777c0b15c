// One process opening SQLite stores (migrations included) at agreed instants,
// for tests of processes starting together on one fresh file: round k opens
// <dir>/round-k/warehouse.db at <at> + k × <spacing> ms and prints one line.
// Usage: node --import tsx test/helpers/open-store-child.ts <dir> <at, epoch ms> <rounds> <spacing ms>
import path from 'node:path';
import { openStore } from '../../src/store/open-store.js';

const [dir, at, rounds, spacing] = [process.argv[2] as string, Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
for (let round = 0; round < rounds; round++) {
  while (Date.now() < at + round * spacing) {
    // Busy-wait rather than a timer: the processes must start within a millisecond of each other.
  }
  try {
    // No checkpointing thread: what is tested is the migrations and the switch to WAL, and
    // starting a thread through tsx in every round made the test take most of a minute.
    const store = await openStore({ kind: 'sqlite', path: path.join(dir, `round-${round}`, 'warehouse.db') }, { checkpointThread: false });
    await store.close();
    process.stdout.write('ok\n');
  } catch (err) {
    process.stdout.write(`FAIL ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
