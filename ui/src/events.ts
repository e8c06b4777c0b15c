import { signal } from '@preact/signals';
import { authHeaders, needsKey } from './api';
import type { Task } from './types';

/**
 * The live stream, GET /events, read with fetch(): EventSource cannot send
 * the Authorization header. One stream for the whole page; it reconnects
 * after a drop, waiting longer after each failure (up to 15 s).
 */

export type LiveState = 'connecting' | 'live' | 'offline';
export const liveState = signal<LiveState>('connecting');

/** Every task the page has seen, by id: the stream's task events keep it current. */
export const tasks = signal<ReadonlyMap<string, Task>>(new Map());
/** Bumped on every delivery count or dead letter: pages that show them reload. */
export const webhookActivity = signal(0);
/** Bumped on every task event: the overview reloads its figures. */
export const taskActivity = signal(0);

export function rememberTasks(list: readonly Task[]): void {
  const next = new Map(tasks.value);
  for (const t of list) {
    const known = next.get(t.task_id);
    // A late answer must not undo a newer state from the stream.
    if (!known || newer(t, known)) next.set(t.task_id, t);
  }
  tasks.value = next;
}

const ORDER: Record<Task['status'], number> = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };
function newer(a: Task, b: Task): boolean {
  if (ORDER[a.status] !== ORDER[b.status]) return ORDER[a.status] > ORDER[b.status];
  return a.progress.records_fetched >= b.progress.records_fetched;
}

interface Message {
  event: string;
  data: string;
}

/** Splits a text/event-stream into messages (comments and unknown fields skipped). */
export function parseEvents(buffer: string): { messages: Message[]; rest: string } {
  const messages: Message[] = [];
  const blocks = buffer.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) messages.push({ event, data: data.join('\n') });
  }
  return { messages, rest };
}

function handle(m: Message): void {
  let data: unknown;
  try {
    data = JSON.parse(m.data);
  } catch {
    return;
  }
  if (m.event === 'task') {
    rememberTasks([data as Task]);
    taskActivity.value++;
  } else if (m.event === 'deliveries' || m.event === 'dead_letter') {
    webhookActivity.value++;
  }
}

let started = false;
/** The connection now open, so that signing out can end it. */
let current: AbortController | null = null;

export function startEvents(): void {
  if (started) return;
  started = true;
  // Signing out (or a 401 anywhere) ends the stream opened with the old key at once.
  needsKey.subscribe((v) => {
    if (v) current?.abort();
  });
  void run();
}

async function run(): Promise<void> {
  let wait = 1000;
  for (;;) {
    if (needsKey.value) {
      liveState.value = 'offline';
      await sleep(500);
      continue;
    }
    liveState.value = 'connecting';
    try {
      current = new AbortController();
      const res = await fetch('/events', { headers: { accept: 'text/event-stream', ...authHeaders() }, signal: current.signal });
      if (res.status === 401) {
        needsKey.value = true;
        continue;
      }
      if (!res.ok || !res.body) throw new Error(`GET /events answered ${res.status}`);
      liveState.value = 'live';
      wait = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parseEvents(buffer + value);
        buffer = parsed.rest;
        for (const m of parsed.messages) handle(m);
      }
    } catch {
      // Dropped or refused: try again below.
    }
    liveState.value = 'offline';
    await sleep(wait);
    wait = Math.min(15_000, wait * 2);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
