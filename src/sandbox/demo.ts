/**
 * `npm run demo`: the service with local HubSpot- and Mailchimp-shaped APIs
 * seeded with sample data, so `curl localhost:8000/sync/crm` works on a fresh
 * machine with no accounts. The fakes run in this process; the service runs
 * as a child process with the environment pointing at them.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFakeHubspot } from './fake-hubspot.js';
import { startFakeMailchimp } from './fake-mailchimp.js';

const contacts = Number(process.env.DEMO_CONTACTS ?? 250);
const campaigns = Number(process.env.DEMO_CAMPAIGNS ?? 40);
const hubspot = await startFakeHubspot({ contacts });
const mailchimp = await startFakeMailchimp({ campaigns });

const serverEntry = fileURLToPath(new URL('../server.js', import.meta.url));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? 'sqlite:./data/demo.db',
  HUBSPOT_BASE_URL: hubspot.url,
  HUBSPOT_ACCESS_TOKEN: hubspot.token,
  MAILCHIMP_BASE_URL: mailchimp.url,
  MAILCHIMP_API_KEY: mailchimp.apiKey,
};
const port = env.PORT ?? '8000';
process.stdout.write(
  [
    `sandbox: fake HubSpot at ${hubspot.url} (${hubspot.state.size} contacts), fake Mailchimp at ${mailchimp.url} (${mailchimp.state.size} campaigns)`,
    `sandbox: data in ${env.DATABASE_URL}. Try:`,
    `  curl -s -X POST localhost:${port}/sync/crm`,
    `  curl -s -X POST localhost:${port}/sync/marketing`,
    `  curl -s 'localhost:${port}/tasks?status=all'`,
    `  curl -s 'localhost:${port}/customers?limit=5'`,
    '',
  ].join('\n'),
);

const child = spawn(process.execPath, [serverEntry], { env, stdio: 'inherit' });
const stop = (signal: NodeJS.Signals) => child.kill(signal);
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
child.on('exit', (code) => {
  void Promise.all([hubspot.close(), mailchimp.close()]).then(() => process.exit(code ?? 0));
});
