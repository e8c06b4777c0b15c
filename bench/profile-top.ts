/**
 * Where a process's time went, from a V8 CPU profile (`node --cpu-prof`):
 * the functions with the most self time, and the same summed by where the
 * code lives (the service, each package under node_modules, Node's own,
 * V8's garbage collector), idle time left out of the shares.
 *
 *   npx tsx bench/profile-top.ts <file.cpuprofile> [top=25]
 *
 * Profiles come from `BENCH_SERVICE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR"`
 * (webhook part of `npm run bench`) or `PROFILE_NODE_FLAGS` of
 * bench/sync/profile-run.ts.
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function's code lives: a package, Node's own, the service, or V8. */
function home(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return 'node (JS)';
  return 'service';
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length);
  const d = url.search(/\/(dist|src|bench)\//);
  return d >= 0 ? url.slice(d + 1) : url.replace(/^file:\/\//, '');
}

const file = process.argv[2];
if (!file) throw new Error('usage: npx tsx bench/profile-top.ts <file.cpuprofile> [top]');
const top = Number(process.argv[3]) || 25;
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const fns = new Map<string, { name: string; where: string; home: string; us: number }>();
const homes = new Map<string, number>();
let busy = 0;
let idle = 0;
for (const [id, us] of self) {
  const n = byId.get(id);
  if (!n) continue;
  const { functionName, url, lineNumber } = n.callFrame;
  if (functionName === '(idle)') {
    idle += us;
    continue;
  }
  busy += us;
  const h = home(url, functionName);
  homes.set(h, (homes.get(h) ?? 0) + us);
  const key = `${functionName}@${url}:${lineNumber}`;
  const f = fns.get(key) ?? { name: functionName || '(anonymous)', where: url ? `${shortUrl(url)}:${lineNumber + 1}` : '', home: h, us: 0 };
  f.us += us;
  fns.set(key, f);
}
const pct = (us: number) => `${((100 * us) / busy).toFixed(1)}%`;
process.stdout.write(`${file}: ${(busy / 1e6).toFixed(2)} s busy, ${(idle / 1e6).toFixed(2)} s idle\n\nSelf time by where the code lives:\n`);
for (const [h, us] of [...homes].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${pct(us).padStart(6)}  ${h}\n`);
process.stdout.write(`\nTop ${top} functions by self time:\n`);
for (const f of [...fns.values()].sort((a, b) => b.us - a.us).slice(0, top)) {
  process.stdout.write(`  ${pct(f.us).padStart(6)}  ${f.name}  ${f.where}\n`);
}
