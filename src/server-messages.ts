/** What the server tells a parent that started it with an IPC channel (the demo). */
export const LISTENING_MESSAGE = 'listening';

/** Sent once the port is bound: until then, another process may hold it. */
export interface ListeningMessage {
  type: typeof LISTENING_MESSAGE;
  host: string;
  port: number;
}
