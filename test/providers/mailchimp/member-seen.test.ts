import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SeenMembers } from '../../../src/providers/mailchimp/member-seen.js';

const hash = (n: number) => createHash('md5').update(`member${n}@example.com`).digest('hex');

describe('SeenMembers', () => {
  it('answers as a Set of the same keys would, across growth', () => {
    const seen = new SeenMembers('abc123:');
    const plain = new Set<string>();
    for (let n = 0; n < 5000; n++) {
      const key = `abc123:${hash(n)}`;
      seen.add(key);
      plain.add(key);
    }
    seen.add(`abc123:${hash(7)}`);
    expect(seen.size).toBe(5000);
    for (let n = 0; n < 5000; n++) expect(seen.has(`abc123:${hash(n)}`)).toBe(true);
    for (let n = 5000; n < 6000; n++) expect(seen.has(`abc123:${hash(n)}`)).toBe(false);
    // The same hash in another audience is another member.
    expect(seen.has(`other1:${hash(1)}`)).toBe(false);
    expect(new Set(seen)).toEqual(plain);
  });

  it('keeps keys of other shapes, and the all-zero hash, exactly', () => {
    const seen = new SeenMembers('L1:');
    const odd = ['L1:not-a-hash', `L1:${hash(1).toUpperCase()}`, 'L2:x', `L1:${'0'.repeat(32)}`];
    for (const k of odd) seen.add(k);
    for (const k of odd) expect(seen.has(k)).toBe(true);
    expect(seen.has(`L1:${hash(1)}`)).toBe(false);
    expect(seen.has('L1:')).toBe(false);
    expect([...seen].sort()).toEqual([...odd].sort());
    expect(seen.size).toBe(4);
  });
});
