/**
 * The thread that turns Mailchimp campaign pages into prepared writes (see
 * CampaignPageDecoder). Each page is answered twice: its head as soon as the
 * JSON is parsed (what lets the next request go out), then its body.
 */
import { parentPort } from 'node:worker_threads';
import { CampaignPageBuilder, readCampaignPage } from './campaign-page.js';

export interface DecodeRequest {
  id: number;
  text: string;
  source: string;
}

parentPort?.on('message', (req: DecodeRequest) => {
  const { head, campaigns } = readCampaignPage(req.text);
  parentPort?.postMessage({ id: req.id, head });
  if (!head.ok) return;
  try {
    const builder = new CampaignPageBuilder(req.source);
    for (const entry of campaigns) builder.add(entry);
    parentPort?.postMessage({ id: req.id, body: builder.result() });
  } catch (err) {
    parentPort?.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) });
  }
});
