/** Polls `fn` until it gives a value; the limit is only a safety net against a hung test. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
