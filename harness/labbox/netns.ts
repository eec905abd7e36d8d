/**
 * The namespaced network lab: a namespace per host and one for the peer, a veth link between the
 * hosts for the migration stream, a persistent tap per host for the guest NIC, and bridges
 * joining both taps and the peer into one L2 segment:
 *
 *   hostA: br0[tap0, up0] --veth-- peer: br0[dA, dB] --veth-- hostB: br0[tap0, up0]
 *   hostA: mig0 ------------------------------------------------ hostB: mig0
 *
 * Interface names only need to be unique inside their namespace, so they are fixed; namespace
 * names carry a per-run token. Everything is removed by close(), and by cleanupLeftovers() after
 * a crash (see ownership.ts).
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { ownerAlive, processStartTime, readRecords, removeRecord, writeRecord, type OwnershipRecord } from './ownership.ts';

export const NAMESPACE_PREFIX = 'vb';
export const TAP = 'tap0';
export const MIGRATION_LINK = 'mig0';

export interface NetnsLabSpec {
  hosts: [string, string];
  peer: string;
  peerAddress: string;
  migrationAddresses: [string, string];
}

export interface NetnsLab {
  token: string;
  /** Label (profile name) → namespace name. */
  namespaces: Record<string, string>;
  close(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  const result = await execa('ip', args, { reject: false });
  if (result.exitCode !== 0) throw new Error(`network lab: \`ip ${args.join(' ')}\` failed: ${String(result.stderr || result.message).trim()}`);
}

export function namespaceName(token: string, label: string): string {
  return `${NAMESPACE_PREFIX}${token}-${label}`;
}

/**
 * The `ip` commands (arguments after `ip`) that build the lab, in order: what createNetnsLab runs
 * and `plan` shows. `namespaces` maps each label to its namespace name.
 */
export function netnsLabCommands(spec: NetnsLabSpec, namespaces: Readonly<Record<string, string>>): string[][] {
  const out: string[][] = [];
  for (const label of [...spec.hosts, spec.peer]) out.push(['netns', 'add', namespaces[label]], ['-n', namespaces[label], 'link', 'set', 'lo', 'up']);
  const [a, b] = spec.hosts.map((h) => namespaces[h]);
  const peer = namespaces[spec.peer];
  out.push(['-n', a, 'link', 'add', MIGRATION_LINK, 'type', 'veth', 'peer', 'name', MIGRATION_LINK, 'netns', b]);
  for (const [ns, address] of [
    [a, spec.migrationAddresses[0]],
    [b, spec.migrationAddresses[1]],
  ]) {
    out.push(['-n', ns, 'addr', 'add', address, 'dev', MIGRATION_LINK], ['-n', ns, 'link', 'set', MIGRATION_LINK, 'up']);
  }
  out.push(['-n', peer, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  for (const [i, ns] of [a, b].entries()) {
    const downlink = `d${'AB'[i]}`;
    out.push(['-n', ns, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    out.push(['-n', ns, 'tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
    out.push(['-n', ns, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', downlink, 'netns', peer]);
    for (const port of [TAP, 'up0']) out.push(['-n', ns, 'link', 'set', port, 'master', 'br0'], ['-n', ns, 'link', 'set', port, 'up']);
    out.push(['-n', ns, 'link', 'set', 'br0', 'up']);
    out.push(['-n', peer, 'link', 'set', downlink, 'master', 'br0'], ['-n', peer, 'link', 'set', downlink, 'up']);
  }
  out.push(['-n', peer, 'addr', 'add', spec.peerAddress, 'dev', 'br0'], ['-n', peer, 'link', 'set', 'br0', 'up']);
  return out;
}

export async function createNetnsLab(spec: NetnsLabSpec): Promise<NetnsLab> {
  const labels = [...spec.hosts, spec.peer];
  if (new Set(labels).size !== labels.length) throw new Error(`network lab: hosts and peer need distinct names (got ${labels.join(', ')})`);
  const token = randomBytes(3).toString('hex');
  const namespaces = Object.fromEntries(labels.map((l) => [l, namespaceName(token, l)]));
  const record: OwnershipRecord = {
    token,
    pid: process.pid,
    pidStart: (await processStartTime(process.pid)) ?? '',
    namespaces: Object.values(namespaces),
    createdAt: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
  };
  await writeRecord(record);
  const lab: NetnsLab = { token, namespaces, close: () => removeNamespaces(record) };
  try {
    for (const args of netnsLabCommands(spec, namespaces)) await ip(args);
  } catch (error) {
    await lab.close().catch(() => undefined);
    throw error;
  }
  return lab;
}

/** Pids of processes inside a namespace (QEMU, the prober): they keep it alive. */
async function namespacePids(ns: string): Promise<number[]> {
  const result = await execa('ip', ['netns', 'pids', ns], { reject: false });
  return String(result.stdout ?? '')
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
}

async function removeNamespaces(record: OwnershipRecord): Promise<void> {
  const existing = new Set(
    String((await execa('ip', ['netns', 'list'], { reject: false })).stdout ?? '')
      .split('\n')
      .map((l) => l.split(' ')[0]),
  );
  const problems: string[] = [];
  for (const ns of record.namespaces) {
    if (!existing.has(ns)) continue;
    for (const pid of await namespacePids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const result = await execa('ip', ['netns', 'delete', ns], { reject: false });
    if (result.exitCode !== 0) problems.push(`${ns}: ${String(result.stderr).trim()}`);
  }
  if (problems.length > 0) throw new Error(`network lab: could not remove ${problems.join('; ')}`);
  await removeRecord(record.token);
}

export interface CleanupReport {
  removed: string[];
  skipped: { token: string; reason: string }[];
}

/** Removes namespaces of labs whose owning harness process is gone. */
export async function cleanupLeftovers(): Promise<CleanupReport> {
  const report: CleanupReport = { removed: [], skipped: [] };
  for (const entry of await readRecords()) {
    if (!entry.record) {
      report.skipped.push({ token: entry.file, reason: `unreadable record: ${entry.error}` });
      continue;
    }
    const record = entry.record;
    if (await ownerAlive(record)) {
      report.skipped.push({ token: record.token, reason: `owner pid ${record.pid} is still running` });
      continue;
    }
    if (!record.namespaces.every((ns) => ns.startsWith(`${NAMESPACE_PREFIX}${record.token}-`))) {
      report.skipped.push({ token: record.token, reason: 'record names namespaces outside its own token: not touching them' });
      continue;
    }
    await removeNamespaces(record);
    report.removed.push(...record.namespaces);
  }
  return report;
}
