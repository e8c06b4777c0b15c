import type { Config, UpstreamLimits } from '../../config/index.js';
import { ConfigError, integer, rateLimit, readSection, section, text, url, variable, type Env } from '../../config/variables.js';

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
    description: 'the key the `marketing` source (Mailchimp Marketing API 3.0 campaigns) calls the API with',
  }),
  baseUrl: variable('MAILCHIMP_BASE_URL', url(), {
    unset: undefined,
    means: "`https://<dc>.api.mailchimp.com/3.0` from the key's suffix",
    description: "the Mailchimp API's base URL; tests and the sandbox point it at a fake",
  }),
  rateLimit: variable('MAILCHIMP_RATE_LIMIT', rateLimit(), { default: 'off', description: 'requests per window to Mailchimp' }),
  // Mailchimp allows 10 simultaneous connections per user.
  concurrency: variable('MAILCHIMP_CONCURRENCY', integer(1, 10), { default: '10', description: 'requests to Mailchimp at once (it allows 10 connections)' }),
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
    api: Object.freeze({ apiKey: v.apiKey, baseUrl, rateLimit: v.rateLimit, concurrency: v.concurrency }),
    webhookSecret: v.webhookSecret,
  });
}
