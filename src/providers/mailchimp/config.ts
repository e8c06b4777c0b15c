import type { Config, UpstreamLimits } from '../../config/index.js';
import { ConfigError, duration, integer, list, rateLimit, readSection, section, text, url, variable, type Env } from '../../config/variables.js';

/** Mailchimp keys end in `-<dc>`; the API lives at that data centre. */
export function mailchimpBaseUrlFromKey(apiKey: string): string | undefined {
  const dc = /-([a-z]+\d+)$/i.exec(apiKey)?.[1];
  return dc ? `https://${dc.toLowerCase()}.api.mailchimp.com/3.0` : undefined;
}

/** Mailchimp's variables: the `marketing` source's API access and politeness, and the webhook URL secret. */
export const mailchimpSection = section('Mailchimp: the `marketing` source and `/webhooks/mailchimp/{secret}`', {
  apiKey: variable('MAILCHIMP_API_KEY', text({ format: 'a Marketing API key, ending in its data centre (`…-us6`)' }), {
    unset: undefined,
    means: '`POST /sync/marketing` answers 422 naming it',
    description: 'the key the `marketing` source (Mailchimp Marketing API 3.0 campaigns and audience members) calls the API with',
  }),
  baseUrl: variable('MAILCHIMP_BASE_URL', url(), {
    unset: undefined,
    means: "`https://<dc>.api.mailchimp.com/3.0` from the key's suffix",
    description: "the Mailchimp API's base URL; tests and the sandbox point it at a fake",
  }),
  rateLimit: variable('MAILCHIMP_RATE_LIMIT', rateLimit(), { default: 'off', description: 'requests per window to Mailchimp' }),
  // Mailchimp allows 10 simultaneous connections per user, shared with every other integration on the account.
  concurrency: variable('MAILCHIMP_CONCURRENCY', integer(1, 10), {
    default: '4',
    description: 'requests to Mailchimp at once (it allows 10 connections per user, shared with every other integration on the account)',
  }),
  lists: variable('MAILCHIMP_LISTS', list({ check: (id) => /^[A-Za-z0-9]{1,64}$/.test(id), message: 'must be audience ids (letters and digits)' }), {
    unset: undefined,
    means: 'the members of every audience are synced',
    format: 'a list of audience (list) ids',
    description: 'the audiences whose members the `marketing` source syncs',
  }),
  fullIntervalMs: variable('MAILCHIMP_FULL_INTERVAL', duration({ min: 0 }), {
    default: '7d',
    description:
      'how often a run walks every member of each audience, to find members deleted in Mailchimp (`0`: every run); other runs ask only for members changed since',
  }),
  webhookSecret: variable(
    'MAILCHIMP_WEBHOOK_SECRET',
    // It goes in a URL path: URL-safe characters only, and long enough not to be guessed. Never echoed.
    text({ check: (s) => /^[A-Za-z0-9._~-]{16,256}$/.test(s), message: 'must be 16 to 256 characters from A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 24)' }),
    {
      unset: undefined,
      means: 'the Mailchimp route answers 404',
      format: '16–256 characters from `A-Z a-z 0-9 . _ ~ -` (e.g. `openssl rand -hex 24`)',
      description: 'the secret in the Mailchimp webhook URL `/webhooks/mailchimp/<secret>`',
    },
  ),
});

export interface MailchimpApiConfig extends UpstreamLimits {
  readonly apiKey: string | undefined;
  readonly baseUrl: string | undefined;
  /** MAILCHIMP_LISTS: the audiences synced; undefined for all. */
  readonly lists: readonly string[] | undefined;
  /** MAILCHIMP_FULL_INTERVAL: the longest time between two walks of every member. */
  readonly fullIntervalMs: number;
}

/** `config.providers.mailchimp`. */
export interface MailchimpSettings {
  readonly api: MailchimpApiConfig;
  /** MAILCHIMP_WEBHOOK_SECRET: the secret in the webhook URL; unset turns the route off. */
  readonly webhookSecret: string | undefined;
}

declare module '../../config/index.js' {
  interface ProviderSettings {
    readonly mailchimp: MailchimpSettings;
  }
}

export const mailchimpSettings = (config: Config): MailchimpSettings => config.providers.mailchimp;

/** The API settings, the base URL taken from the key when not given. */
export function readMailchimpSettings(env: Env): MailchimpSettings {
  const v = readSection(mailchimpSection, env);
  const baseUrl = v.baseUrl ?? (v.apiKey ? mailchimpBaseUrlFromKey(v.apiKey) : undefined);
  if (v.apiKey && !baseUrl) {
    // The key itself is a credential: name the variable, never echo the value.
    throw new ConfigError('MAILCHIMP_API_KEY', 'must end in its data centre, such as -us6 (or set MAILCHIMP_BASE_URL)');
  }
  return Object.freeze({
    api: Object.freeze({ apiKey: v.apiKey, baseUrl, rateLimit: v.rateLimit, concurrency: v.concurrency, lists: v.lists, fullIntervalMs: v.fullIntervalMs }),
    webhookSecret: v.webhookSecret,
  });
}
