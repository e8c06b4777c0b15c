/**
 * Local fake upstream APIs (HubSpot CRM v3 contacts, Mailchimp Marketing 3.0
 * campaigns) with fault injection, for the test suite and the demo sandbox.
 */
export { startFakeHubspot, type FakeHubspot, type FakeHubspotOptions } from './fake-hubspot.js';
export { startFakeMailchimp, type FakeMailchimp, type FakeMailchimpOptions } from './fake-mailchimp.js';
export { HubspotState, type Contact, type ContactSetOptions } from './hubspot-contacts.js';
export {
  MailchimpState,
  type Campaign,
  type CampaignPatch,
  type CampaignSetOptions,
  type CampaignStatus,
} from './mailchimp-campaigns.js';
export { FaultInjector } from './faults.js';
export type {
  FaultKind,
  FaultScope,
  FaultSpec,
  HangFault,
  HubspotRateLimitPolicy,
  InjectedFault,
  MalformedFault,
  MalformedVariant,
  RateLimitOptions,
  ResetFault,
  SlowFault,
  StatusFault,
  StatusFaultOptions,
} from './faults.js';
export type { RequestLog, RequestLogEntry } from './request-log.js';
