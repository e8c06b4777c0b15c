/**
 * Start both fakes and keep them running until Ctrl-C, printing the
 * environment that points Tributary at them: a sandbox with no real accounts.
 *
 *   tsx src/sandbox/serve.ts            (or node dist/sandbox/serve.js after a build)
 *
 * FAKE_HUBSPOT_PORT / FAKE_MAILCHIMP_PORT pick the ports (default: free ones);
 * FAKE_CONTACTS / FAKE_CAMPAIGNS the record counts; FAKE_LATENCY_MS a delay per answer.
 */
import { startFakeHubspot } from './fake-hubspot.js';
import { startFakeMailchimp } from './fake-mailchimp.js';

function numberFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a whole number >= 0, got '${text}'`);
    process.exit(2);
  }
  return value;
}

const latencyMs = numberFromEnv('FAKE_LATENCY_MS', 0);
const hubspot = await startFakeHubspot({
  port: numberFromEnv('FAKE_HUBSPOT_PORT', 0),
  contacts: numberFromEnv('FAKE_CONTACTS', 25),
  latencyMs,
});
const mailchimp = await startFakeMailchimp({
  port: numberFromEnv('FAKE_MAILCHIMP_PORT', 0),
  campaigns: numberFromEnv('FAKE_CAMPAIGNS', 12),
  latencyMs,
});

console.log(
  [
    `fake HubSpot:   ${hubspot.url} (${hubspot.state.size} contacts)`,
    `fake Mailchimp: ${mailchimp.url} (${mailchimp.state.size} campaigns)`,
    '',
    'Point Tributary at them with:',
    `  HUBSPOT_BASE_URL=${hubspot.url} HUBSPOT_ACCESS_TOKEN=${hubspot.token} \\`,
    `  MAILCHIMP_BASE_URL=${mailchimp.url} MAILCHIMP_API_KEY=${mailchimp.apiKey} npm start`,
  ].join('\n'),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([hubspot.close(), mailchimp.close()]).then(() => process.exit(0));
  });
}
