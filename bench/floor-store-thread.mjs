// FLOOR_THREAD=1: the floor's commits on a thread of their own, so the event
// loop parses the next requests while a batch is written and synced.
import { parentPort, workerData } from 'node:worker_threads';
import { openFloorStore } from './floor-store.mjs';

const store = openFloorStore(workerData.file, workerData.schema);
parentPort.on('message', (batch) => {
  store.commit(batch);
  parentPort.postMessage(batch.length);
});
