/**
 * The providers' local fake APIs (real HTTP servers on loopback in the
 * providers' documented shapes, with fault injection), for tests, the demo
 * and benchmarks. See docs/sandbox.md.
 */
export { startFakeHubspot, type FakeHubspot, type FakeHubspotOptions } from './hubspot/fake/server.js';
export { startFakeMailchimp, type FakeMailchimp, type FakeMailchimpOptions } from './mailchimp/fake/server.js';
export { HubspotState, type Contact, type ContactSetOptions } from './hubspot/fake/contacts.js';
export { MailchimpState, type Campaign, type CampaignPatch, type CampaignSetOptions, type CampaignStatus } from './mailchimp/fake/campaigns.js';
export {
  AudienceSet,
  Audience,
  audienceId,
  subscriberHash,
  type Member,
  type MemberPatch,
  type MemberStatus,
  type AudienceSetOptions,
} from './mailchimp/fake/members.js';
export { FaultInjector } from '../sandbox/faults.js';
export type {
  FaultKind,
  FaultScope,
  FaultSpec,
  HangFault,
  InjectedFault,
  MalformedFault,
  MalformedVariant,
  RateLimitOptions,
  ResetFault,
  SlowFault,
  StatusFault,
  StatusFaultOptions,
} from '../sandbox/faults.js';
export type { RequestLog, RequestLogEntry } from '../sandbox/request-log.js';
