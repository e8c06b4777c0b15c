/** A whole number from the environment, within bounds; `_` separators allowed (1_000_000). */
export function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const v = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  return v;
}

/** A comma- or space-separated list from the environment, lower-cased. */
export function listEnv(name: string, fallback: string): string[] {
  return (process.env[name]?.trim() || fallback)
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((v) => v.toLowerCase());
}
