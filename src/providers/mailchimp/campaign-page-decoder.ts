import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../worker-thread.js';
import type { CampaignPageBody, CampaignPageHead } from './campaign-page.js';
import type { DecodeRequest } from './campaign-page-worker.js';

export interface DecodedCampaignPage {
  head: CampaignPageHead;
  /** Rejects if the thread fails; nothing waits on it when the head is not ok. */
  body: Promise<CampaignPageBody>;
}

type Reply = { id: number; head: CampaignPageHead } | { id: number; body: CampaignPageBody } | { id: number; error: string };

interface Pending {
  head(head: CampaignPageHead): void;
  body(body: CampaignPageBody): void;
  fail(err: Error): void;
}

/**
 * Parses, maps, cleans and hashes Mailchimp campaign pages on a thread of
 * their own. A page of 1,000 campaigns is about a megabyte of JSON and
 * tens of milliseconds of work, as long as the page takes to arrive: done on
 * the event loop, it would be the sync's pace. Here it overlaps the next
 * request and the store's commit of the page before, and what comes back
 * (flat rows with their JSON as text) costs little to receive.
 */
export class CampaignPageDecoder {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** Resolves once the page is parsed: its head, and its body to come. */
  decode(text: string, source: string): Promise<DecodedCampaignPage> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<DecodedCampaignPage>((resolveHead, rejectHead) => {
      let resolveBody!: (b: CampaignPageBody) => void;
      let rejectBody!: (err: Error) => void;
      const body = new Promise<CampaignPageBody>((res, rej) => {
        resolveBody = res;
        rejectBody = rej;
      });
      // Awaited only when the head is ok; a failure after an abort must not go unhandled.
      body.catch(() => {});
      let headDone = false;
      this.pending.set(id, {
        head: (head) => {
          headDone = true;
          if (!head.ok) this.pending.delete(id);
          resolveHead({ head, body });
        },
        body: (b) => {
          this.pending.delete(id);
          resolveBody(b);
        },
        fail: (err) => {
          this.pending.delete(id);
          if (!headDone) rejectHead(err);
          rejectBody(err);
        },
      });
      worker.ref();
      worker.postMessage({ id, text, source } satisfies DecodeRequest);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.failAll(new Error('the campaign page decoder is closed'));
    if (!worker) return;
    // Its exit must not fail the requests of a thread started after this close.
    worker.removeAllListeners();
    worker.on('error', () => {});
    await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = startModuleWorker('campaign-page-worker', import.meta.url);
    worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      if ('head' in reply) p.head(reply.head);
      else if ('body' in reply) p.body(reply.body);
      else p.fail(new Error(`preparing a Mailchimp campaign page failed: ${reply.error}`));
      // An idle decoder must not keep the process alive.
      if (this.pending.size === 0) worker.unref();
    });
    // A dying thread reports twice ('error', then 'exit'): only the first
    // fails what was pending, which was all its own; later requests belong
    // to the thread started after it.
    let dead = false;
    const lost = (err: Error) => {
      if (dead) return;
      dead = true;
      if (this.worker === worker) this.worker = null;
      this.failAll(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the campaign page decoder stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of [...this.pending.values()]) p.fail(err);
    this.pending.clear();
  }
}
