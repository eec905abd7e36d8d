/**
 * Where two lab profiles differ in what they measure, leaving out what only names or reaches a
 * lab (ssh addresses and keys, host names, link addresses, descriptions): the distance between a
 * rehearsal lab (profiles/softlab-two-hosts.yaml) and the real one (profiles/cx6dx-lab.yaml).
 * Hosts are compared by their place in the pair, so `lab-a` and `hostA` are the same position.
 */
import type { Profile } from './schema.ts';

export interface ProfileDifference {
  /** Dotted path, hosts by pair position: `hosts[source].vdpa.driver`. */
  path: string;
  a: unknown;
  b: unknown;
}

/** Fields that address or describe a lab rather than shape the experiment. */
const ADDRESSING = [
  /^name$/,
  /^description$/,
  /\.description$/,
  /^hosts\[\w+\]\.(name|transport\.(host|port|user|identityFile|knownHostsFile|options|strictHostKeyChecking|controlPersist|jumpHost)|migrationAddress|workdir)$/,
  /^pair$/,
];

function flatten(value: unknown, path: string, out: Map<string, unknown>): void {
  if (Array.isArray(value) && value.some((v) => v !== null && typeof v === 'object')) {
    value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
    if (value.length === 0) out.set(path, []);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    for (const [k, v] of entries) flatten(v, path ? `${path}.${k}` : k, out);
  } else out.set(path, value);
}

/** The profile with hosts keyed by pair position and variants by name, so order does not count. */
function positional(p: Profile): Record<string, unknown> {
  const [from, to] = p.pair ?? [p.hosts[0].name, p.hosts[1]?.name ?? p.hosts[0].name];
  const host = (name: string) => p.hosts.find((h) => h.name === name);
  const { hosts: _hosts, variants, ...rest } = p as Profile & { hosts: unknown; variants: Array<{ name: string }> };
  return {
    ...rest,
    hosts: from === to ? { 'source=destination': host(from) } : { source: host(from), destination: host(to) },
    variants: Object.fromEntries(variants.map((v) => [v.name, v])),
  };
}

export function structuralDiff(a: Profile, b: Profile): ProfileDifference[] {
  const fa = new Map<string, unknown>();
  const fb = new Map<string, unknown>();
  flatten(positional(a), '', fa);
  flatten(positional(b), '', fb);
  const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  const out: ProfileDifference[] = [];
  for (const path of paths) {
    const keyed = path.replace(/^hosts\.(\w+)/, 'hosts[$1]').replace(/^variants\.(\w+)/, 'variants[$1]');
    if (ADDRESSING.some((r) => r.test(keyed))) continue;
    const va = fa.get(path);
    const vb = fb.get(path);
    if (JSON.stringify(va) !== JSON.stringify(vb)) out.push({ path: keyed, a: va, b: vb });
  }
  return out;
}

/** One line per difference, as the docs show it. */
export function formatDifference(d: ProfileDifference): string {
  const show = (v: unknown) => (v === undefined ? '(not set)' : JSON.stringify(v));
  return `${d.path}: ${show(d.a)} → ${show(d.b)}`;
}
