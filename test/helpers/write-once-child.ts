// A second process writing one record to a SQLite store once a flag file
// appears, for tests of writers in two processes on one file. Prints "ok" or
// "FAIL <message>". Usage: node --import tsx test/helpers/write-once-child.ts <db path> <flag file> <external_id>
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { recordFromPayload } from '../../src/domain/records.js';
import { openStore } from '../../src/store/open-store.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';

const [file, flag, id] = [process.argv[2] as string, process.argv[3] as string, process.argv[4] as string];
const store = await openStore({ kind: 'sqlite', path: file }, { checkpointThread: false });
process.stdout.write('ready\n');
while (!fs.existsSync(flag)) await sleep(5);
try {
  await inWriteTransaction(store, (tx) => applyRecordWrites(tx, [recordFromPayload('customer', { external_id: id }, 'webhook')]));
  process.stdout.write('ok\n');
} catch (err) {
  process.stdout.write(`FAIL ${err instanceof Error ? err.message : String(err)}\n`);
} finally {
  await store.close();
}
