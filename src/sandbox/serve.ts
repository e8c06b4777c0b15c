/**
 * `npm run sandbox`: every provider's fake, kept running until Ctrl-C, with
 * the environment that points Tributary at them: a sandbox with no accounts.
 *
 * FAKE_<RECORDS> (FAKE_CONTACTS, FAKE_CAMPAIGNS) set the record counts,
 * FAKE_<PROVIDER>_PORT the ports (default: free ones), FAKE_LATENCY_MS a delay per answer.
 */
import { countFromEnv, fakeEnv, startFakes } from './start-fakes.js';

const fakes = await startFakes('FAKE', {
  latencyMs: countFromEnv('FAKE_LATENCY_MS', 0),
  ports: (name) => countFromEnv(`FAKE_${name.toUpperCase()}_PORT`, 0),
});
const env = Object.entries(fakeEnv(fakes)).map(([k, v]) => `${k}=${v}`);
console.log([...fakes.map((f) => f.summary), '', 'Point Tributary at them with:', `  ${env.join(' \\\n  ')} npm start`].join('\n'));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all(fakes.map((f) => f.close())).then(() => process.exit(0));
  });
}
