/**
 * vDPA host facts for the manifest: the NIC, its firmware and driver, the devices' negotiated
 * queue pairs, IOMMU mode and hugepages. Gathered by one read-only script; parsing is pure.
 */
import type { HostTransport } from '../hosts/transport.ts';
import { script } from '../hosts/command.ts';
import { runCommand } from '../hosts/command.ts';
import { parseVdpaConfig, type VdpaHostConfig } from './steps.ts';

// "$1" is the PF (may be empty), the rest are vDPA device names; sections start with "### key"
const FACTS = String.raw`
pf=$1; shift
echo "### cmdline"; cat /proc/cmdline 2>/dev/null
echo "### hugepages"; grep -i huge /proc/meminfo 2>/dev/null
echo "### iommu"; ls /sys/class/iommu 2>/dev/null
if [ -n "$pf" ]; then
  echo "### iommuGroupType"; cat "/sys/bus/pci/devices/$pf/iommu_group/type" 2>/dev/null
  echo "### nicModel"; lspci -s "$pf" 2>/dev/null || cat "/sys/bus/pci/devices/$pf/vendor" "/sys/bus/pci/devices/$pf/device" 2>/dev/null
  for n in "/sys/bus/pci/devices/$pf"/net/*; do
    [ -e "$n" ] || continue
    echo "### ethtool"; ethtool -i "$(basename "$n")" 2>&1
    break
  done
  echo "### devlinkInfo"; devlink dev info "pci/$pf" 2>&1
fi
for d in "$@"; do
  echo "### vdpaConfig $d"; vdpa -j dev config show "$d" 2>&1
done
`;

export interface VdpaHostFacts {
  kernelCmdline?: string;
  iommu: { units: string[]; groupType?: string; cmdline: string[] };
  hugepages: Record<string, string>;
  nic?: { model?: string; driver?: string; driverVersion?: string; firmware?: string; devlinkInfo?: string };
  devices: Record<string, { maxVqPairs?: number; mac?: string; negotiatedFeatures?: string[]; error?: string }>;
}

export function splitSections(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  let key: string | undefined;
  let lines: string[] = [];
  const flush = () => key !== undefined && sections.set(key, lines.join('\n').trim());
  for (const line of text.split('\n')) {
    if (line.startsWith('### ')) {
      flush();
      key = line.slice(4).trim();
      lines = [];
    } else lines.push(line);
  }
  flush();
  return sections;
}

/** `ethtool -i`: "driver: mlx5_core\nversion: ...\nfirmware-version: 22.31.1014 (MT_0000000359)". */
export function parseEthtoolInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export function parseVdpaHostFacts(text: string, deviceNames: readonly string[]): VdpaHostFacts {
  const s = splitSections(text);
  const cmdline = s.get('cmdline') ?? '';
  const hugepages: Record<string, string> = {};
  for (const line of (s.get('hugepages') ?? '').split('\n')) {
    const m = /^(\S+):\s+(.*)$/.exec(line.trim());
    if (m) hugepages[m[1]] = m[2];
  }
  const facts: VdpaHostFacts = {
    kernelCmdline: cmdline || undefined,
    iommu: {
      units: (s.get('iommu') ?? '').split(/\s+/).filter(Boolean),
      groupType: s.get('iommuGroupType') || undefined,
      cmdline: cmdline.split(/\s+/).filter((w) => /^(intel_iommu|amd_iommu|iommu|iommu\.\w+)=/.test(w)),
    },
    hugepages,
    devices: {},
  };
  if (s.has('nicModel') || s.has('ethtool') || s.has('devlinkInfo')) {
    const ethtool = parseEthtoolInfo(s.get('ethtool') ?? '');
    facts.nic = {
      model: s.get('nicModel') || undefined,
      driver: ethtool.driver,
      driverVersion: ethtool.version,
      firmware: ethtool['firmware-version'],
      devlinkInfo: s.get('devlinkInfo') || undefined,
    };
  }
  for (const name of deviceNames) {
    const raw = s.get(`vdpaConfig ${name}`) ?? '';
    const config = parseVdpaConfig(raw, name);
    facts.devices[name] = config.maxVqPairs === undefined && config.mac === undefined ? { error: raw.split('\n')[0] || 'no output' } : config;
  }
  return facts;
}

export async function gatherVdpaHostFacts(host: HostTransport, config: VdpaHostConfig): Promise<VdpaHostFacts> {
  const names = config.devices.map((d) => d.name);
  const result = await runCommand(host, factsCommand(config));
  return parseVdpaHostFacts(result.stdout, names);
}

export function factsCommand(config: VdpaHostConfig) {
  return script(FACTS, [config.pf ?? '', ...config.devices.map((d) => d.name)], { allowFailure: true, timeoutMs: 60_000 });
}
