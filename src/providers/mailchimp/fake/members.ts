/**
 * The fake Mailchimp's audiences and their members. Like the campaigns, each
 * audience is a generated base of N members computed from their index
 * (last_changed grows with the index), plus an overlay of what tests changed:
 * a changed member leaves the base order and joins a tail ordered by its new
 * last_changed; a deleted one is a hole. 100,000 members cost memory only for
 * the ones touched.
 */
import { createHash } from 'node:crypto';
import type { Link } from './links.js';
import { FIRST_NAMES, LAST_NAMES, Timeline, isoSeconds, mix, pick, seedNumber } from '../../../sandbox/generated-data.js';

export type { Link } from './links.js';
export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional' | 'archived';
export const MEMBER_STATUSES: readonly MemberStatus[] = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional', 'archived'];

/** An audience member as Mailchimp Marketing API 3.0 returns it. */
export interface Member {
  /** MD5 of the lower-case email: the subscriber hash. */
  id: string;
  email_address: string;
  unique_email_id: string;
  contact_id: string;
  full_name: string;
  web_id: number;
  email_type: 'html' | 'text';
  status: MemberStatus;
  consents_to_one_to_one_messaging: boolean;
  merge_fields: Record<string, string>;
  stats: { avg_open_rate: number; avg_click_rate: number };
  ip_signup: string;
  timestamp_signup: string;
  ip_opt: string;
  timestamp_opt: string;
  member_rating: number;
  last_changed: string;
  language: string;
  vip: boolean;
  email_client: string;
  location: { latitude: number; longitude: number; gmtoff: number; dstoff: number; country_code: string; timezone: string; region: string };
  source: string;
  tags_count: number;
  tags: Array<{ id: number; name: string }>;
  list_id: string;
  _links: Link[];
}

/** What a test may change of a member; `merge_fields` is merged. */
export type MemberPatch = Partial<Omit<Member, 'id' | 'email_address' | 'list_id' | 'web_id' | 'merge_fields' | '_links'>> & {
  merge_fields?: Record<string, string>;
};

export interface AudienceSetOptions {
  /** Audiences (default 0). */
  audiences?: number;
  /** Members generated in each audience (default 0). */
  members?: number;
  /** The first this many members of every audience share their email address (default 1 with two audiences or more). */
  sharedMembers?: number;
  /** last_changed of the first member, epoch ms (default 2024-01-01T00:00:00Z). */
  memberStartTime?: number;
  /** Time between consecutive members' last_changed (default 1 s, and 4 members share each second). */
  memberStepMs?: number;
  memberTieGroup?: number;
}

const STATUS_ROLL: ReadonlyArray<[below: number, status: MemberStatus]> = [
  [80, 'subscribed'],
  [88, 'unsubscribed'],
  [92, 'cleaned'],
  [94, 'pending'],
  [96, 'transactional'],
  [100, 'archived'],
];
const TAGS = ['customer', 'newsletter', 'vip', 'webinar', 'trial'];

export const subscriberHash = (email: string): string => createHash('md5').update(email.trim().toLowerCase()).digest('hex');

/** One audience: the generated base and the overlay. */
export class Audience {
  readonly timeline: Timeline;
  private readonly overrides = new Map<number, Member>();
  /** Changed or created members, in last_changed order (out of the base order). */
  private tail: number[] = [];
  private readonly deleted = new Set<number>();
  private byHash: Map<string, number> | null = null;
  private nextIndex: number;
  /**
   * Per listing filter (a status, or `default`: all but archived), how many base
   * members in [0, i) it keeps that are still in the base order: a deep page is
   * found by binary search, not a scan. Dropped on every change.
   */
  private prefixes = new Map<string, Int32Array>();

  constructor(
    readonly id: string,
    readonly position: number,
    readonly name: string,
    readonly baseCount: number,
    private readonly seed: number,
    private readonly shared: number,
    timeline: Timeline,
    private readonly stamp: () => number,
  ) {
    this.timeline = timeline;
    this.nextIndex = baseCount;
  }

  /** Members that exist now, archived ones included. */
  get size(): number {
    return this.nextIndex - this.deleted.size;
  }

  /** Every member that exists now (a copy), in listing order. */
  all(): Member[] {
    const out: Member[] = [];
    for (const i of this.order(undefined, undefined)) out.push(structuredClone(this.current(i)));
    return out;
  }

  get(hashOrEmail: string): Member | undefined {
    const i = this.indexOf(hashOrEmail);
    return i === undefined ? undefined : structuredClone(this.current(i));
  }

  /** Changes a member now: its last_changed moves to now, so it leaves its place for the tail. */
  update(hashOrEmail: string, patch: MemberPatch): Member {
    const i = this.require(hashOrEmail);
    const member = structuredClone(this.current(i));
    const { merge_fields, ...top } = patch;
    Object.assign(member, top);
    if (merge_fields) member.merge_fields = { ...member.merge_fields, ...merge_fields };
    if (patch.merge_fields?.FNAME !== undefined || patch.merge_fields?.LNAME !== undefined) {
      member.full_name = `${member.merge_fields.FNAME ?? ''} ${member.merge_fields.LNAME ?? ''}`.trim();
    }
    member.last_changed = isoSeconds(this.stamp());
    this.overrides.set(i, member);
    this.tail = this.tail.filter((t) => t !== i);
    this.tail.push(i);
    return structuredClone(member);
    this.prefixes.clear();
  }

  /** Archive (Mailchimp's soft delete: the member stays, with status `archived`). */
  archive(hashOrEmail: string): Member {
    return this.update(hashOrEmail, { status: 'archived' });
  }

  /** Permanent deletion: gone from every listing, 404 on reads. */
  delete(hashOrEmail: string): void {
    const i = this.require(hashOrEmail);
    this.deleted.add(i);
    this.overrides.delete(i);
    this.tail = this.tail.filter((t) => t !== i);
    this.prefixes.clear();
  }

  /** A new member now. */
  add(email: string, patch: MemberPatch = {}): Member {
    if (this.indexOf(email) !== undefined) throw new Error(`${email} is already a member of ${this.id}`);
    const i = this.nextIndex++;
    const member = this.generate(i, this.stamp(), email);
    this.overrides.set(i, member);
    this.byHash?.set(member.id, i);
    this.tail.push(i);
    return this.update(member.id, patch);
  }

  /**
   * One page of a listing: the member indices at [offset, offset + count) of
   * those `keep` (a status, or `default`) keeps, changed after `since` and
   * before `before`, in last_changed order; and how many there are in all.
   */
  page(
    filter: MemberStatus | 'default',
    since: number | undefined,
    before: number | undefined,
    offset: number,
    count: number,
    descending: boolean,
  ): { indices: number[]; total: number } {
    const keeps = (i: number) => {
      const st = this.statusAt(i);
      return filter === 'default' ? st !== 'archived' : st === filter;
    };
    const n = this.baseCount;
    const shown = (i: number) => Math.floor(this.timeline.at(i) / 1000) * 1000;
    const lo = since === undefined ? 0 : firstAfter(n, (i) => shown(i) > since);
    const hi = Math.max(lo, before === undefined ? n : firstAfter(n, (i) => shown(i) >= before));
    const prefix = this.prefix(filter, keeps);
    const base = (prefix[hi] as number) - (prefix[lo] as number);
    const tail = this.tail.filter((i) => {
      const t = Date.parse((this.overrides.get(i) as Member).last_changed);
      return (since === undefined || t > since) && (before === undefined || t < before) && keeps(i);
    });
    const total = base + tail.length;
    const at = (p: number): number => {
      if (p >= base) return tail[p - base] as number;
      // The first index whose prefix passes the wanted rank.
      const rank = (prefix[lo] as number) + p;
      return firstAfter(n, (i) => (prefix[i + 1] as number) > rank);
    };
    const indices: number[] = [];
    for (let k = offset; k < Math.min(total, offset + count); k += 1) indices.push(at(descending ? total - 1 - k : k));
    return { indices, total };
  }

  private prefix(filter: string, keeps: (i: number) => boolean): Int32Array {
    let p = this.prefixes.get(filter);
    if (p) return p;
    const n = this.baseCount;
    p = new Int32Array(n + 1);
    for (let i = 0; i < n; i += 1) p[i + 1] = (p[i] as number) + (!this.overrides.has(i) && !this.deleted.has(i) && keeps(i) ? 1 : 0);
    this.prefixes.set(filter, p);
    return p;
  }

  /**
   * Member indices in listing order (last_changed ascending), those changed
   * after `since` and before `before` (both exclusive, epoch ms).
   */
  *order(since: number | undefined, before: number | undefined): Generator<number> {
    const n = this.baseCount;
    // The shown times have whole seconds: compare those.
    const shown = (i: number) => Math.floor(this.timeline.at(i) / 1000) * 1000;
    let lo = since === undefined ? 0 : firstAfter(n, (i) => shown(i) > since);
    const hi = before === undefined ? n : firstAfter(n, (i) => shown(i) >= before);
    for (; lo < hi; lo += 1) if (!this.overrides.has(lo) && !this.deleted.has(lo)) yield lo;
    for (const i of this.tail) {
      const t = Date.parse((this.overrides.get(i) as Member).last_changed);
      if ((since === undefined || t > since) && (before === undefined || t < before)) yield i;
    }
  }

  /** The status of member `i` without building it (the listing filters on it). */
  statusAt(i: number): MemberStatus {
    const o = this.overrides.get(i);
    if (o) return o.status;
    const roll = mix(this.seed, i, 5) % 100;
    return (STATUS_ROLL.find(([below]) => roll < below) as [number, MemberStatus])[1];
  }

  current(i: number): Member {
    return this.overrides.get(i) ?? this.generate(i, this.timeline.at(i));
  }

  private require(hashOrEmail: string): number {
    const i = this.indexOf(hashOrEmail);
    if (i === undefined) throw new Error(`no member ${hashOrEmail} in audience ${this.id}`);
    return i;
  }

  indexOf(hashOrEmail: string): number | undefined {
    const hash = /^[0-9a-f]{32}$/.test(hashOrEmail) ? hashOrEmail : subscriberHash(hashOrEmail);
    if (!this.byHash) {
      this.byHash = new Map();
      for (let i = 0; i < this.nextIndex; i += 1) this.byHash.set(this.current(i).id, i);
    }
    const i = this.byHash.get(hash);
    return i === undefined || this.deleted.has(i) ? undefined : i;
  }

  /** The generated email of member `i`: the first `shared` are the same in every audience. */
  emailAt(i: number): string {
    const first = pick(FIRST_NAMES, mix(this.seed, i, 1)).toLowerCase();
    const last = pick(LAST_NAMES, mix(this.seed, i, 2)).toLowerCase();
    return i < this.shared ? `${first}.${last}.${i}@example.com` : `${first}.${last}.${this.position}.${i}@example.com`;
  }

  private generate(i: number, changedMs: number, email = this.emailAt(i)): Member {
    const h = mix(this.seed, i, 3 + this.position * 17);
    const hash = subscriberHash(email);
    const [localPart] = email.split('@');
    const [first = '', last = ''] = (localPart ?? '').split('.');
    const fname = first.charAt(0).toUpperCase() + first.slice(1);
    const lname = last.charAt(0).toUpperCase() + last.slice(1);
    const optMs = changedMs - (h % 400) * 86_400_000;
    const tagCount = h % 3;
    // Distinct tags: consecutive ones from a place the hash picks.
    const tags = Array.from({ length: tagCount }, (_, k) => {
      const t = ((h >>> 3) + k) % TAGS.length;
      return { id: 1000 + t, name: TAGS[t] as string };
    });
    return {
      id: hash,
      email_address: email,
      unique_email_id: hash.slice(0, 10),
      // 32 hex digits like Mailchimp's; derived from the hash, so a page costs one MD5 a member.
      contact_id: `${hash.slice(16)}${hash.slice(0, 16)}`,
      full_name: `${fname} ${lname}`,
      web_id: 500_000_000 + this.position * 10_000_000 + i,
      email_type: 'html',
      status: this.statusAt(i),
      consents_to_one_to_one_messaging: true,
      merge_fields: { FNAME: fname, LNAME: lname, ADDRESS: '', PHONE: '', BIRTHDAY: '' },
      stats: { avg_open_rate: (h % 100) / 100, avg_click_rate: ((h >>> 7) % 30) / 100 },
      ip_signup: '',
      timestamp_signup: '',
      ip_opt: `198.51.100.${h % 250}`,
      timestamp_opt: isoSeconds(optMs),
      member_rating: 1 + (h % 5),
      last_changed: isoSeconds(changedMs),
      language: 'en',
      vip: h % 53 === 0,
      email_client: '',
      location: { latitude: 0, longitude: 0, gmtoff: 0, dstoff: 0, country_code: 'US', timezone: 'America/New_York', region: 'NY' },
      source: 'API - Generic',
      tags_count: tags.length,
      tags,
      list_id: this.id,
      // Added as the server answers, unless excluded (see links.ts).
      _links: [],
    };
  }
}

function firstAfter(n: number, isPast: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (isPast(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The id of the audience at `position` in a fake account of this seed. */
export function audienceId(seed: string | number, position: number): string {
  return mix(seedNumber(seed), position, 11).toString(16).padStart(10, '0').slice(-10);
}

/** Every audience of the fake account. */
export class AudienceSet {
  readonly audiences: Audience[];
  private lastStamp = 0;

  constructor(
    options: AudienceSetOptions,
    seed: string | number,
    private readonly now: () => number,
  ) {
    const count = options.audiences ?? 0;
    const members = options.members ?? 0;
    if (!Number.isInteger(count) || count < 0) throw new RangeError('audiences must be an integer >= 0');
    if (!Number.isInteger(members) || members < 0) throw new RangeError('members must be an integer >= 0');
    const s = seedNumber(seed);
    const shared = options.sharedMembers ?? (count >= 2 ? 1 : 0);
    const timeline = new Timeline(options.memberStartTime ?? Date.UTC(2024, 0, 1), options.memberStepMs ?? 1_000, options.memberTieGroup ?? 4);
    this.audiences = Array.from(
      { length: count },
      (_, a) => new Audience(audienceId(seed, a), a, `Audience ${a + 1}`, members, s, shared, timeline, () => this.stamp()),
    );
  }

  get(id: string): Audience | undefined {
    return this.audiences.find((a) => a.id === id);
  }

  /** Strictly increasing whole seconds after every generated time, so a change is always newest. */
  private stamp(): number {
    const floor = Math.max(0, ...this.audiences.map((a) => (a.baseCount > 0 ? a.timeline.at(a.baseCount - 1) + 1_000 : 0)));
    this.lastStamp = Math.max(this.now(), floor, this.lastStamp);
    return this.lastStamp;
  }
}
