/**
 * The fake HubSpot's contacts: a generated base of N contacts computed from
 * their index, plus an overlay holding only what tests changed (updated or
 * archived base contacts, and created ones). A million-contact account thus
 * costs memory only for the records that were touched.
 */
import { COMPANIES, FIRST_NAMES, LAST_NAMES, Timeline, isoMillis, mix, pick, seedNumber } from '../../../sandbox/generated-data.js';
import { RequestLog } from '../../../sandbox/request-log.js';
import { PropertyDefinitions } from './properties.js';

/** A contact as HubSpot CRM v3 returns it (all property values are strings). */
export interface Contact {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
  /** Merged away into this id: gone from lists, search and the archived list (server-side only, never on the wire). */
  mergedInto?: string;
}

export interface ContactSetOptions {
  /** Contacts that exist at start (default 25); generated on demand, so 1,000,000 costs no memory. */
  contacts?: number;
  /** Varies names and emails; the same seed serves the same data (default 'tributary'). */
  seed?: string | number;
  /** Id of the first contact (default DEFAULT_FIRST_ID, 1001); ids then count up by one. */
  firstId?: number;
  /** createdate / lastmodifieddate of the first contact, epoch ms (default 2023-01-01T00:00:00Z). */
  startTime?: number;
  /** Time between consecutive contacts' stamps, ms (default 60,000). */
  stepMs?: number;
  /** Consecutive contacts sharing one lastmodifieddate (default 1: all distinct). */
  tieGroup?: number;
  /** Clock for mutations (default Date.now); stamps never go backwards even if it does. */
  now?: () => number;
  /**
   * Custom contact properties with long names the portal defines (default 0;
   * the sandbox serves 300): about one in three has a value on each generated contact.
   */
  customProperties?: number;
}

/** The id of the first generated contact unless `firstId` says otherwise. */
export const DEFAULT_FIRST_ID = 1001;

/** Properties every read returns even when not asked for. */
export const ALWAYS_RETURNED = ['createdate', 'hs_object_id', 'lastmodifieddate'] as const;
/** What a read returns when `properties` is not given (HubSpot's defaults for contacts). */
export const DEFAULT_PROPERTIES = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'] as const;
/** Properties whose base values never decrease with the index: searches on them need no scan. */
export const MONOTONIC_PROPERTIES = new Set(['createdate', 'lastmodifieddate', 'hs_object_id']);

/** Generated contacts kept built (`HubspotState.generated`): ten list pages, two and a half search pages. */
const GENERATED_KEPT = 1_000;

const LIFECYCLE = ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer'] as const;

export class HubspotState {
  /** Requests the server received; inspect and clear from tests. */
  readonly requests: RequestLog;
  readonly baseCount: number;
  readonly firstId: number;
  readonly timeline: Timeline;
  /** The contact property definitions (GET /crm/v3/properties/contacts); `define` adds one. */
  readonly properties: PropertyDefinitions;
  private readonly seed: number;
  private readonly now: () => number;
  private lastStamp = 0;
  /** Base contacts that tests changed, by index. */
  private readonly overrides = new Map<number, Contact>();
  /** Contacts created through the state, ids ascending. */
  private readonly created: Contact[] = [];
  private readonly createdById = new Map<string, Contact>();
  private nextId: number;
  /**
   * The last generated contacts, by index. With a few hundred custom
   * properties a contact costs hundreds of hashed values to build, and a
   * sync asks for each page once per property chunk: the later chunks of a
   * page, and a retried page, are then built once. Entries are never
   * changed (`mutable` copies one before changing it).
   */
  private readonly generated = new Map<number, Contact>();

  constructor(options: ContactSetOptions = {}, requests = new RequestLog()) {
    this.baseCount = options.contacts ?? 25;
    if (!Number.isInteger(this.baseCount) || this.baseCount < 0) throw new RangeError('contacts must be an integer >= 0');
    this.seed = seedNumber(options.seed ?? 'tributary');
    this.firstId = options.firstId ?? DEFAULT_FIRST_ID;
    this.timeline = new Timeline(options.startTime ?? Date.UTC(2023, 0, 1), options.stepMs ?? 60_000, options.tieGroup ?? 1);
    this.now = options.now ?? Date.now;
    this.properties = new PropertyDefinitions(options.customProperties ?? 0);
    this.nextId = this.firstId + this.baseCount;
    this.requests = requests;
  }

  // ---- what tests use -------------------------------------------------------

  /** Contacts not archived. */
  get size(): number {
    let archived = 0;
    for (const c of this.overrides.values()) if (c.archived) archived += 1;
    return this.baseCount - archived + this.created.filter((c) => !c.archived).length;
  }

  /** One contact, archived or not; a copy, so changing it changes nothing here. */
  getContact(id: string): Contact | undefined {
    const c = this.find(id);
    return c && structuredClone(c);
  }

  createContact(properties: Record<string, string> = {}): Contact {
    const id = String(this.nextId++);
    const stamp = this.stamp();
    const contact: Contact = {
      id,
      properties: {
        email: `new.contact.${id}@example.com`,
        firstname: null,
        lastname: null,
        ...properties,
        createdate: isoMillis(stamp),
        lastmodifieddate: isoMillis(stamp),
        hs_object_id: id,
      },
      createdAt: isoMillis(stamp),
      updatedAt: isoMillis(stamp),
      archived: false,
    };
    this.created.push(contact);
    this.createdById.set(id, contact);
    return structuredClone(contact);
  }

  /** Set properties and bump lastmodifieddate / updatedAt to now. Throws for an unknown or archived id. */
  updateContact(id: string, properties: Record<string, string | null>): Contact {
    const contact = this.mutable(id);
    if (contact.archived) throw new Error(`contact ${id} is archived`);
    const stamp = isoMillis(this.stamp());
    Object.assign(contact.properties, properties, { lastmodifieddate: stamp, hs_object_id: contact.id });
    contact.updatedAt = stamp;
    return structuredClone(contact);
  }

  /** Archive (HubSpot's soft delete): gone from lists and search, listed with archived=true. */
  archiveContact(id: string): Contact {
    const contact = this.mutable(id);
    if (!contact.archived) {
      const stamp = isoMillis(this.stamp());
      contact.archived = true;
      contact.archivedAt = stamp;
      contact.updatedAt = stamp;
    }
    return structuredClone(contact);
  }

  /**
   * Merge `mergedId` into `primaryId` as HubSpot does: the primary keeps its
   * id and its values (taking the other's where it has none), lists the
   * merged ids in hs_merged_object_ids (`;`-separated) and is modified now;
   * the merged-away id disappears from lists, search and the archived list.
   */
  mergeContacts(primaryId: string, mergedId: string): Contact {
    if (primaryId === mergedId) throw new Error('a contact cannot be merged into itself');
    const primary = this.mutable(primaryId);
    const merged = this.mutable(mergedId);
    if (primary.archived || merged.archived) throw new Error('archived or merged contacts cannot be merged');
    const stamp = isoMillis(this.stamp());
    const ids = [primary.properties.hs_merged_object_ids, merged.properties.hs_merged_object_ids, merged.id]
      .flatMap((v) => (v ? v.split(';') : []))
      .filter((v) => v !== '');
    for (const [k, v] of Object.entries(merged.properties)) if ((primary.properties[k] ?? null) === null && v !== null) primary.properties[k] = v;
    Object.assign(primary.properties, { hs_merged_object_ids: [...new Set(ids)].join(';'), lastmodifieddate: stamp, hs_object_id: primary.id });
    primary.updatedAt = stamp;
    merged.archived = true;
    merged.archivedAt = stamp;
    merged.mergedInto = primary.id;
    return structuredClone(primary);
  }

  // ---- what the server and search use ---------------------------------------

  /** The pristine generated contact at `index`; shared, never to be changed (see `generated`). */
  baseContact(index: number): Contact {
    let contact = this.generated.get(index);
    if (contact === undefined) {
      contact = this.generate(index);
      this.generated.set(index, contact);
      // A few pages' worth: the oldest goes first (a Map keeps insertion order).
      if (this.generated.size > GENERATED_KEPT) this.generated.delete(this.generated.keys().next().value as number);
    }
    return contact;
  }

  private generate(index: number): Contact {
    const id = String(this.firstId + index);
    const h = mix(this.seed, index);
    const first = pick(FIRST_NAMES, h);
    const last = pick(LAST_NAMES, h >>> 8);
    const stamp = isoMillis(this.timeline.at(index));
    return {
      id,
      properties: {
        createdate: stamp,
        email: `${first}.${last}.${id}@example.com`.toLowerCase(),
        firstname: first,
        hs_object_id: id,
        lastmodifieddate: stamp,
        lastname: last,
        company: pick(COMPANIES, h >>> 16),
        phone: `+1-555-${String(h % 10_000).padStart(4, '0')}`,
        lifecyclestage: pick(LIFECYCLE, h >>> 4),
        ...this.properties.customValues(this.seed, index, id),
      },
      createdAt: stamp,
      updatedAt: stamp,
      archived: false,
    };
  }

  /** The contact at base `index` as it is now (changed or pristine). */
  current(index: number): Contact {
    return this.overrides.get(index) ?? this.baseContact(index);
  }

  /** True when tests changed the base contact at `index`. */
  isTouched(index: number): boolean {
    return this.overrides.has(index);
  }

  /** Base indices tests changed. */
  touchedIndices(): IterableIterator<number> {
    return this.overrides.keys();
  }

  /** Every contact that is not pristine base data: changed base contacts and created ones. */
  *changedContacts(): Generator<Contact> {
    yield* this.overrides.values();
    yield* this.created;
  }

  /** Created contacts, ids ascending. */
  createdContacts(): readonly Contact[] {
    return this.created;
  }

  /** The base index of an id, or undefined when the id is not a base id. */
  indexOf(id: string): number | undefined {
    if (!/^\d+$/.test(id)) return undefined;
    const index = Number(id) - this.firstId;
    return index >= 0 && index < this.baseCount ? index : undefined;
  }

  /** Any contact by id, live object (server use only). */
  find(id: string): Contact | undefined {
    const index = this.indexOf(id);
    if (index !== undefined) return this.current(index);
    return this.createdById.get(id);
  }

  private mutable(id: string): Contact {
    const index = this.indexOf(id);
    if (index !== undefined) {
      let contact = this.overrides.get(index);
      if (!contact) {
        contact = structuredClone(this.baseContact(index));
        this.overrides.set(index, contact);
      }
      return contact;
    }
    const contact = this.createdById.get(id);
    if (!contact) throw new Error(`no contact with id ${id}`);
    return contact;
  }

  /** A mutation time that never goes backwards, so later changes sort later. */
  private stamp(): number {
    this.lastStamp = Math.max(this.now(), this.lastStamp);
    return this.lastStamp;
  }
}
