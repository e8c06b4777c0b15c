/**
 * What the sandbox (`npm run demo`) shows of the fake HubSpot: how many
 * custom properties its portal defines, and a contact to look at.
 */
import { DEFAULT_FIRST_ID } from './fake/contacts.js';

export { HUBSPOT_PROVIDER } from './portal.js';

/** Custom properties the sandbox's portal defines: a few hundred with long names, as real portals have. */
export const SANDBOX_CUSTOM_PROPERTIES = 300;

/** The fake's first contact: about a third of the custom properties have a value on it (every generated contact alike). */
export const HUBSPOT_DEMO_CONTACT = String(DEFAULT_FIRST_ID);
