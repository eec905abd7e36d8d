import { parseSize, sizeToMiB } from '../profile/size.ts';

/**
 * The lab VM's NUMA topology (pure): memory and vCPUs split evenly over `nodes` guest nodes, each
 * node its own RAM backend (-numa node,memdev=), so the lab VM's kernel sees what a two-socket
 * host's does (/sys/devices/system/node/node0, node1). One node: nothing, QEMU's default.
 */
export function labVmNumaArgs(memory: string, cpus: number, nodes = 1): string[] {
  if (nodes <= 1) return [];
  if (nodes > cpus) throw new Error(`${nodes} NUMA nodes need at least ${nodes} vCPUs (the lab VM has ${cpus})`);
  const mib = sizeToMiB(parseSize(memory));
  if (mib % nodes !== 0) throw new Error(`lab VM memory ${memory} does not split evenly over ${nodes} NUMA nodes`);
  const args: string[] = [];
  for (let n = 0; n < nodes; n++) {
    const first = Math.floor((n * cpus) / nodes);
    const last = Math.floor(((n + 1) * cpus) / nodes) - 1;
    args.push(
      '-object',
      `memory-backend-ram,id=labmem${n},size=${mib / nodes}M`,
      '-numa',
      `node,nodeid=${n},cpus=${first === last ? first : `${first}-${last}`},memdev=labmem${n}`,
    );
  }
  return args;
}
