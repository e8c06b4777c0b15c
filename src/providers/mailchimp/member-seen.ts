/**
 * The member keys a full walk of one audience saw (`<list_id>:<subscriber
 * hash>`), for the deletion sweep after it. A Set of those strings costs
 * about 100 bytes a member (the key, its parts and the entry): 100 MB for an
 * audience of a million. The hash is 32 hex digits, so it is kept here as 16
 * bytes in an open-addressing table instead; a key of another shape (not
 * Mailchimp's) goes in a plain Set beside it.
 */
const HASH = /^[0-9a-f]{32}$/;
const WORDS = 4;
/** The words of the key being looked at: one array for every call, copied into a slot when added. */
const scratch = new Uint32Array(WORDS);

export class SeenMembers implements ReadonlySet<string> {
  /** Four 32-bit words a slot; all four zero: empty (the all-zero hash itself is `zero`). */
  private slots = new Uint32Array(WORDS * 1024);
  private used = 0;
  private zero = false;
  private readonly other = new Set<string>();

  /** `prefix`: `<list_id>:`, which every key of the audience starts with. */
  constructor(readonly prefix: string) {}

  get size(): number {
    return this.used + (this.zero ? 1 : 0) + this.other.size;
  }

  add(key: string): this {
    const words = this.words(key);
    if (words === null) this.other.add(key);
    else if (isZero(words)) this.zero = true;
    else if (this.insert(this.slots, words)) {
      this.used++;
      // At most half full, so a probe stays short.
      if (this.used * 2 > this.slots.length / WORDS) this.grow();
    }
    return this;
  }

  has(key: string): boolean {
    const words = this.words(key);
    if (words === null) return this.other.has(key);
    if (isZero(words)) return this.zero;
    const { slots } = this;
    const mask = slots.length / WORDS - 1;
    for (let i = (words[0] as number) & mask; ; i = (i + 1) & mask) {
      const at = i * WORDS;
      if (isEmpty(slots, at)) return false;
      if (sameAt(slots, at, words)) return true;
    }
  }

  *values(): SetIterator<string> {
    const { slots } = this;
    for (let at = 0; at < slots.length; at += WORDS) {
      if (isEmpty(slots, at)) continue;
      let hex = '';
      for (let w = 0; w < WORDS; w++) hex += (slots[at + w] as number).toString(16).padStart(8, '0');
      yield `${this.prefix}${hex}`;
    }
    if (this.zero) yield `${this.prefix}${'0'.repeat(32)}`;
    yield* this.other;
  }

  keys(): SetIterator<string> {
    return this.values();
  }

  *entries(): SetIterator<[string, string]> {
    for (const v of this.values()) yield [v, v];
  }

  [Symbol.iterator](): SetIterator<string> {
    return this.values();
  }

  forEach(fn: (value: string, value2: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    for (const v of this.values()) fn.call(thisArg, v, v, this);
  }

  /** The hash of a key of this audience as four words (valid until the next call); null for any other key. */
  private words(key: string): Uint32Array | null {
    if (key.length !== this.prefix.length + 32 || !key.startsWith(this.prefix)) return null;
    const hex = key.slice(this.prefix.length);
    if (!HASH.test(hex)) return null;
    for (let w = 0; w < WORDS; w++) scratch[w] = Number.parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    return scratch;
  }

  /** Puts `words` in `slots` unless there; whether it was put. */
  private insert(slots: Uint32Array, words: Uint32Array): boolean {
    const mask = slots.length / WORDS - 1;
    for (let i = (words[0] as number) & mask; ; i = (i + 1) & mask) {
      const at = i * WORDS;
      if (isEmpty(slots, at)) {
        slots.set(words, at);
        return true;
      }
      if (sameAt(slots, at, words)) return false;
    }
  }

  private grow(): void {
    const old = this.slots;
    const next = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += WORDS) if (!isEmpty(old, at)) this.insert(next, old.subarray(at, at + WORDS));
    this.slots = next;
  }
}

const isZero = (w: Uint32Array): boolean => w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0;
const isEmpty = (s: Uint32Array, at: number): boolean => s[at] === 0 && s[at + 1] === 0 && s[at + 2] === 0 && s[at + 3] === 0;
const sameAt = (s: Uint32Array, at: number, w: Uint32Array): boolean => s[at] === w[0] && s[at + 1] === w[1] && s[at + 2] === w[2] && s[at + 3] === w[3];
