/** Steps of the report model: what ran and on what (metrics, set-up, platform, runs, cell stops). */
import { cellLabel } from '../../profile/cell.ts';
import type { HostFacts, IterationRecord, ManifestRead } from '../../results/types.ts';
import { finite, QMP_METRIC, UNKNOWN, type CellStop, type MetricInfo, type RunData, type RunInfo, type Summary } from './types.ts';
import type { ReportSettings } from './settings.ts';

export function metricValue(record: IterationRecord, name: string): number | null {
  if (name === QMP_METRIC) return finite(record.qmp?.downtimeMs);
  if (name === DOWNTIME_FIELD && !(name in (record.metrics ?? {}))) return finite(record.downtimeMs);
  return finite(record.metrics?.[name]);
}

/** The record field that holds the primary metric: the name a report uses when nothing else names it. */
export const DOWNTIME_FIELD = 'downtimeMs';

/** One sentence on the platform: accelerator, hosts, NIC, QEMU versions. */
export function platformSentence(setup: Summary['setup']): string {
  const accel = `${setup.accel === 'tcg' ? 'TCG (emulated CPU: downtimes are not those of KVM hardware)' : setup.accel}${
    setup.accelReasons?.length ? `, because ${setup.accelReasons.join('; ')}` : ''
  }`;
  const hosts = setup.hosts.length ? setup.hosts.map((h) => `${h.name} (${hostKind(h)}, ${h.transport}, kernel ${h.kernel})`).join(', ') : UNKNOWN;
  const addresses = setup.hosts.map((h) => setup.hostAddresses?.[h.name]).filter((a): a is string => a !== undefined);
  const local = (a: string) => /^(127\.|::1$|localhost$)/.test(a) || a.includes('this machine');
  const shared = setup.hosts.length > 1 && addresses.length === setup.hosts.length && addresses.every(local) ? ', all on the machine that ran the harness' : '';
  const guest = GUEST_WORDS[setup.guest] ?? `guest ${setup.guest}`;
  // `-version` prints "QEMU emulator version 7.2.22 (...)": the sentence names QEMU once
  const versions = [...new Set(Object.values(setup.qemu).flatMap((byHost) => Object.values(byHost)))].map((v) => v.replace(/^QEMU emulator version /, ''));
  const nic = setup.nic === UNKNOWN ? 'NIC unknown' : `NIC ${setup.nic}${setup.mode !== UNKNOWN ? ` (${setup.mode})` : ''}`;
  return `Platform: accelerator ${accel}; hosts ${hosts}${shared}; ${nic}; ${guest}; QEMU ${versions.length ? versions.join(' / ') : UNKNOWN}.`;
}

/** What the guest was, in words (profile vm.guest.kind). */
const GUEST_WORDS: Record<string, string> = {
  firmware: 'guest: firmware only (SeaBIOS, no OS)',
  pxe: 'guest: firmware only (SeaBIOS and iPXE driving the NIC, no OS)',
  kernel: 'guest: a Linux kernel and initramfs',
  disk: 'guest: an OS from a disk image',
  'builtin-linux': "guest: the harness's built-in Linux (kernel and busybox initramfs)",
  [UNKNOWN]: 'guest unknown (no profile)',
};

/** A host as its facts show it: a QEMU VM (and under which accelerator) or a machine, with its CPUs. */
function hostKind(h: Summary['setup']['hosts'][number]): string {
  const cpus = h.cpus !== null ? `${h.cpus} ${/QEMU|KVM|Virtual/.test(h.cpuModel) ? 'vCPUs' : 'CPUs'}` : 'CPUs unknown';
  if (/QEMU TCG CPU/.test(h.cpuModel)) return `a QEMU VM under TCG, ${cpus}`;
  if (/QEMU Virtual CPU|KVM/.test(h.cpuModel)) return `a QEMU/KVM VM (CPU ${h.cpuModel}), ${cpus}`;
  return `${h.cpuModel}, ${cpus}`;
}

export function metricList(
  records: IterationRecord[],
  manifests: (ManifestRead | null)[],
  settings: ReportSettings,
): { primary: string; metrics: MetricInfo[] } {
  // Records without a manifest or a primaryMetric: downtimeMs is by contract the primary metric.
  const primary = manifests.find((m) => m?.metrics?.primary)?.metrics?.primary ?? records.find((r) => r.primaryMetric)?.primaryMetric ?? DOWNTIME_FIELD;
  const names: string[] = [primary];
  for (const m of manifests) for (const n of m?.metrics?.names ?? []) if (!names.includes(n)) names.push(n);
  for (const r of records) for (const n of Object.keys(r.metrics ?? {})) if (!names.includes(n)) names.push(n);
  const metrics: MetricInfo[] = names.map((name) => ({
    name,
    label: name,
    description: settings.metricDescriptions[name] ?? null,
    primary: name === primary,
    checked: true,
  }));
  if (records.some((r) => metricValue(r, QMP_METRIC) !== null)) {
    metrics.push({
      name: QMP_METRIC,
      label: 'QMP downtime (source side)',
      description:
        "query-migrate's downtime: measured on the source only, it leaves out the destination's load and device start, so it is a lower bound of the trace span (checked as such)",
      primary: false,
      checked: false,
    });
  }
  return { primary, metrics };
}

type LabNic = NonNullable<NonNullable<ManifestRead['lab']>['vdpaHosts'][string]['nic']>;
/** The NIC of each vDPA host a lab run records (manifest.lab.vdpaHosts, see harness/lab/prepare.ts). */
const labNics = (m: ManifestRead | null): Record<string, LabNic | undefined> =>
  Object.fromEntries(Object.entries(m?.lab?.vdpaHosts ?? {}).map(([host, facts]) => [host, facts.nic]));

function nicFirmware(host: HostFacts, lab: Record<string, LabNic | undefined>): string {
  return [host.nicFirmware, lab[host.name]?.firmware].find((c) => c !== undefined && c.length > 0) ?? UNKNOWN;
}

export function setupOf(
  manifests: (ManifestRead | null)[],
  records: IterationRecord[],
  variantNames: (m: ManifestRead, v: string) => string,
  settings: ReportSettings,
): Summary['setup'] {
  const known = manifests.filter((m): m is ManifestRead => m !== null);
  const first = known[0];
  const queuePairs = first?.setup?.queuePairs ?? [...new Set(records.map((r) => r.queuePairs ?? null))];
  const hosts: Summary['setup']['hosts'] = [];
  for (const m of known) {
    for (const h of m.hosts ?? []) {
      const row = {
        name: h.name,
        transport: h.transport ?? UNKNOWN,
        kernel: h.kernel ?? UNKNOWN,
        cpuModel: h.cpuModel ?? UNKNOWN,
        cpus: h.cpus ?? null,
        nicFirmware: nicFirmware(h, labNics(m)),
      };
      if (!hosts.some((x) => JSON.stringify(x) === JSON.stringify(row))) hosts.push(row);
    }
  }
  const qemu: Record<string, Record<string, string>> = {};
  for (const m of known) for (const v of m.variants ?? []) qemu[variantNames(m, v.name)] = { ...v.qemuVersion };
  const methods = [...new Set(records.map((r) => r.clock?.method).filter((x): x is string => typeof x === 'string'))];
  const uncertainties = records.map((r) => r.clock?.uncertaintyUs).filter((x): x is number => typeof x === 'number');
  const accels = [...new Set([...known.map((m) => m.accel?.used), ...records.map((r) => r.accel)].filter((x): x is string => typeof x === 'string'))];
  // A vDPA lab's manifest may have no set-up sentence: the NIC model from its host facts, the mode from the profile.
  const labModel = Object.values(labNics(first ?? null)).find((n) => n?.model)?.model;
  const vdpa = settings.nic?.kind === 'vdpa' || queuePairs.some((q) => q !== null);
  const nic = first?.setup?.nic ?? labModel ?? (settings.nic?.drivers.length ? settings.nic.drivers.join('/') : undefined);
  return {
    nic: nic ?? UNKNOWN,
    mode: first?.setup?.mode ?? (settings.nic && vdpa ? 'vhost-vDPA' : UNKNOWN),
    queuePairs,
    accel: accels.length ? accels.join(', ') : UNKNOWN,
    accelReasons: [...new Set(known.map((m) => m.accel?.reason).filter((r): r is string => typeof r === 'string' && r.length > 0))],
    accelFallbacks: known.flatMap((m) =>
      m.accel?.fallback ? [{ runId: m.runId ?? UNKNOWN, host: m.accel.fallback.host, reason: m.accel.fallback.reason }] : [],
    ),
    hosts,
    qemu,
    clock: { methods, maxUncertaintyUs: uncertainties.length ? Math.max(...uncertainties) : null },
    guest: settings.guest ?? UNKNOWN,
    hostAddresses: settings.hostAddresses ?? {},
  };
}

export function runInfo(run: RunData): RunInfo {
  const m = run.manifest;
  return {
    runId: run.runId,
    dir: run.dir,
    profile: m?.profile?.name ?? UNKNOWN,
    state: m?.state ?? UNKNOWN,
    startedAt: m?.startedAt ?? run.records[0]?.startedAt ?? UNKNOWN,
    finishedAt: m?.finishedAt ?? run.records.at(-1)?.finishedAt ?? UNKNOWN,
    tool: m?.tool ? `${m.tool.name} ${m.tool.version}${m.tool.gitCommit ? ` (${m.tool.gitCommit.slice(0, 12)})` : ''}` : UNKNOWN,
    design: m?.options?.design ?? UNKNOWN,
    designDescription: m?.design ?? null,
    sampling: samplingText(m),
    seed: m?.options?.seed ?? null,
    manifest: m !== null,
  };
}

function samplingText(m: ManifestRead | null): string | null {
  const sampling = m?.sampling;
  if (!sampling) return null;
  if (sampling.mode === 'fixed' || !sampling.target) return `fixed count: ${m?.options?.iterations ?? UNKNOWN} measured migrations per cell`;
  const t = sampling.target;
  return `adaptive: a cell stops when its median's 95% CI half-width is below ${t.medianCiHalfWidthPct}% of the median (at least ${t.minIterations}, at most ${t.maxIterations} measured migrations)`;
}

const pctText = (v: number | null) => (v === null ? 'too few values for a median 95% CI' : `median 95% CI ±${v}%`);

/** Each cell's stopping reason from a manifest (cells by label); abandonment wins over the sampler's record. */
export function cellStops(m: ManifestRead | null): Map<string, CellStop> {
  const stops = new Map<string, CellStop>();
  if (!m) return stops;
  const target = m.sampling?.target?.medianCiHalfWidthPct;
  for (const c of m.sampling?.cells ?? []) {
    const after = `after ${c.measured} measured (${c.usable} usable)`;
    const text =
      c.reason === 'precision-reached'
        ? `precision reached: ${pctText(c.ciHalfWidthPct)} < ${target ?? UNKNOWN}% ${after}`
        : c.reason === 'max-iterations'
          ? `maximum count reached before the precision: ${pctText(c.ciHalfWidthPct)}${target !== undefined ? ` (target ${target}%)` : ''} ${after}`
          : c.reason === 'fixed-count'
            ? `fixed count: ${c.measured} measured, ${pctText(c.ciHalfWidthPct)}`
            : c.reason === 'interrupted'
              ? `run interrupted ${after}`
              : `its guest boot was abandoned ${after}`;
    stops.set(c.cell, { reason: c.reason, text });
  }
  for (const a of m.abandonedCells ?? []) stops.set(cellLabel(a.cell), { reason: 'abandoned', text: `abandoned after migration ${a.afterSeq}: ${a.reason}` });
  return stops;
}
