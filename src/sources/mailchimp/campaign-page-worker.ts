/**
 * The thread that turns Mailchimp campaign pages into prepared writes (see
 * CampaignPageDecoder). Each page is answered twice: its head as soon as the
 * JSON is parsed, then its body. Bodies are prepared in arrival order, a
 * slice at a time, and between slices a newly arrived page is parsed: its
 * head is what lets the next request go out, so it must not wait for a
 * whole page of hashing.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parentPort } from 'node:worker_threads';
import { CampaignPageBuilder, readCampaignPage } from './campaign-page.js';

export interface DecodeRequest {
  id: number;
  text: string;
  source: string;
}

const SLICE = 100;
const bodies: Array<{ id: number; source: string; campaigns: unknown[] }> = [];
let preparing = false;

async function prepareBodies(): Promise<void> {
  preparing = true;
  try {
    for (let job = bodies.shift(); job; job = bodies.shift()) {
      try {
        const builder = new CampaignPageBuilder(job.source);
        for (let i = 0; i < job.campaigns.length; i++) {
          if (i > 0 && i % SLICE === 0) await nextTurn();
          builder.add(job.campaigns[i]);
        }
        parentPort?.postMessage({ id: job.id, body: builder.result() });
      } catch (err) {
        parentPort?.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
      }
    }
  } finally {
    preparing = false;
  }
}

parentPort?.on('message', (req: DecodeRequest) => {
  const { head, campaigns } = readCampaignPage(req.text);
  parentPort?.postMessage({ id: req.id, head });
  if (!head.ok) return;
  bodies.push({ id: req.id, source: req.source, campaigns });
  if (!preparing) void prepareBodies();
});
