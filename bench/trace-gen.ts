/**
 * Generates large QEMU trace files (log backend, QEMU <= 10.0: `TID@SEC.USEC:event args`) with a
 * realistic mix of the events a vDPA lab enables. Every format string is QEMU's own
 * (hw/virtio/trace-events, system/trace-events, migration/trace-events; see
 * /work/shared/notes/qemu-vdpa-facts.md). Deterministic from a seed, so a benchmark is repeatable.
 */
import { createWriteStream } from 'node:fs';
import { seededRandom } from '../harness/stats/random.ts';

const DEV = '0x55d0c1a3b2c0';
const SHARED = '0x55d0c1a4f010';
const NET_STATE = '0x55d0c1a51e80';

export interface GeneratedTrace {
  bytes: number;
  lines: number;
  /** Lines of each event name (what `grep -c` of that name counts, plus torn copies). */
  counts: Record<string, number>;
  /** Time (µs) of the last vhost_vdpa_suspend / last `enable: 1`, for checking the analysis. */
  lastSuspendUs?: number;
  lastEnableUs?: number;
}

export interface TraceShape {
  /** Approximate size to write. */
  bytes: number;
  side: 'source' | 'destination';
  queuePairs?: number;
  /** Guest memory regions pinned per device start (dma_map/region_add pairs). */
  regionsPerStart?: number;
  /** vIOMMU map/unmap pairs between device starts (the bulk of a long vDPA trace). */
  iommuPairsPerStart?: number;
  seed?: number;
  startUs?: number;
}

/**
 * A QEMU process with a vIOMMU that lived through many device starts (guest driver reloads)
 * before the migration: between starts, IOTLB map/unmap pairs make up the bulk of the file; each start pins memory (begin_batch, region_add/dma_map pairs, commit), sets
 * DRIVER_OK and enables every vring; the source then ends with the migration's stop and suspend,
 * the destination with its last start. A few lines are QEMU warnings and torn writes, as on disk.
 */
export function* traceLines(shape: TraceShape, stats: GeneratedTrace): Generator<string> {
  const g = traceGenerator(shape, stats);
  const tail = shape.side === 'source' ? 4096 : 0;
  let written = 0;
  let starts = 0;
  yield g.line('vhost_vdpa_init', `dev: ${DEV}, common dev: ${SHARED} vdpa: ${SHARED}`);
  while (written < shape.bytes - tail) {
    if (starts > 0) for (const l of deviceStop(g)) yield ((written += l.length), l);
    for (const l of deviceStart(g)) yield ((written += l.length), l);
    for (const l of iommuTraffic(g)) yield ((written += l.length), l);
    starts++;
    // what a disk shows after crashes and library chatter: a warning and a torn write
    if (starts % 5 === 0) {
      const warning = "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.80000001H:ECX.svm [bit 2]\n";
      stats.lines++;
      written += warning.length;
      yield warning;
    }
    if (starts % 7 === 0) {
      const torn = g.line('vhost_vdpa_dma_map', `vdpa_shared:${SHARED} fd: 17 msg_type: 2 asid: 0 iova: 0x1`).slice(0, 12 + (starts % 30)) + '\n';
      written += torn.length;
      yield torn;
    }
  }
  if (shape.side === 'source') yield* migrationStop(g);
}

/** One generated trace's state: its random stream and clock, and `line`, which stamps a line and counts it in the stats. */
interface TraceGenerator {
  line: (name: string, args: string, tid?: number) => string;
  random: () => number;
  tids: number[];
  queuePairs: number;
  regions: number;
  iommuPairs: number;
}

function traceGenerator(shape: TraceShape, stats: GeneratedTrace): TraceGenerator {
  const random = seededRandom(shape.seed ?? 7);
  let now = shape.startUs ?? 1_753_122_905_000_000;
  const tids = [2986097, 2986101, 2986102];
  const line = (name: string, args: string, tid = tids[0]): string => {
    now += 1 + Math.floor(random() * 40);
    stats.lines++;
    stats.counts[name] = (stats.counts[name] ?? 0) + 1;
    if (name === 'vhost_vdpa_suspend') stats.lastSuspendUs = now;
    if (name === 'vhost_vdpa_set_vring_enable_one' && args.includes('enable: 1')) stats.lastEnableUs = now;
    return `${tid}@${Math.floor(now / 1e6)}.${String(now % 1e6).padStart(6, '0')}:${name} ${args}\n`;
  };
  return { line, random, tids, queuePairs: shape.queuePairs ?? 8, regions: shape.regionsPerStart ?? 8, iommuPairs: shape.iommuPairsPerStart ?? 2000 };
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** A device start: memory pinned in one batch, DRIVER_OK, the control queue and every vring enabled. */
function* deviceStart({ line, random, tids, queuePairs: qp, regions }: TraceGenerator): Generator<string> {
  yield line('vhost_vdpa_set_owner', `dev: ${DEV}`);
  yield line('vhost_vdpa_listener_begin_batch', `vdpa_shared:${SHARED} fd: 17 msg_type: 2 type: 5`);
  let iova = 0x100000;
  for (let r = 0; r < regions; r++) {
    const size = 0x200000 * (1 + Math.floor(random() * 512));
    const vaddr = 0x7f3a40000000 + iova;
    yield line('vhost_vdpa_listener_region_add', `vdpa: ${SHARED} iova ${hex(iova)} llend ${hex(iova + size)} vaddr: ${hex(vaddr)} read-only: 0`);
    yield line(
      'vhost_vdpa_dma_map',
      `vdpa_shared:${SHARED} fd: 17 msg_type: 2 asid: 0 iova: ${hex(iova)} size: ${hex(size)} uaddr: ${hex(vaddr)} perm: 0x3 type: 2`,
    );
    iova += size;
  }
  yield line('vhost_vdpa_listener_commit', `vdpa_shared:${SHARED} fd: 17 msg_type: 2 type: 6`);
  yield line('vhost_vdpa_add_status', `dev: ${DEV} status: 0x8`);
  yield line('vhost_vdpa_set_vring_enable_one', `dev: ${DEV}, idx: ${2 * qp}, enable: 1, r: 0`, tids[1]);
  yield line('vhost_vdpa_net_load_mq', `vdpa state: ${NET_STATE} current_qpairs: ${qp}`, tids[1]);
  for (let i = 0; i < 2 * qp; i++) yield line('vhost_vdpa_set_vring_enable_one', `dev: ${DEV}, idx: ${i}, enable: 1, r: 0`, tids[1]);
  yield line('vhost_vdpa_add_status', `dev: ${DEV} status: 0xf`);
}

/** With a vIOMMU, every guest DMA mapping reaches the device as an IOTLB update/invalidate. */
function* iommuTraffic({ line, random, tids, iommuPairs }: TraceGenerator): Generator<string> {
  for (let p = 0; p < iommuPairs; p++) {
    const iova = 0xfff00000 - 0x1000 * Math.floor(random() * 65536);
    const uaddr = 0x7f3a40000000 + Math.floor(random() * 0x40000) * 0x1000;
    yield line(
      'vhost_vdpa_dma_map',
      `vdpa_shared:${SHARED} fd: 17 msg_type: 2 asid: 0 iova: ${hex(iova)} size: 0x1000 uaddr: ${hex(uaddr)} perm: 0x3 type: 2`,
      tids[2],
    );
    yield line('vhost_vdpa_dma_unmap', `vdpa_shared:${SHARED} fd: 17 msg_type: 2 asid: 0 iova: ${hex(iova)} size: 0x1000 type: 3`, tids[2]);
  }
}

/** A device stop (guest driver reload): every vring disabled, then reset. */
function* deviceStop({ line, tids, queuePairs: qp }: TraceGenerator): Generator<string> {
  for (let i = 0; i < 2 * qp; i++) yield line('vhost_vdpa_set_vring_enable_one', `dev: ${DEV}, idx: ${i}, enable: 0, r: 0`, tids[1]);
  yield line('vhost_vdpa_reset_device', `dev: ${DEV}`);
}

/** The source's end: the migration stops the VM and suspends the device. */
function* migrationStop({ line, tids }: TraceGenerator): Generator<string> {
  yield line('runstate_set', 'current_run_state 9 (running) new_state 7 (finish-migrate)', tids[2]);
  yield line('vmstate_downtime_checkpoint', 'src-downtime-start', tids[2]);
  yield line('migration_completion_vm_stop', 'ret 0', tids[2]);
  yield line('vhost_vdpa_suspend', `dev: ${DEV}`, tids[2]);
  yield line('vmstate_downtime_checkpoint', 'src-vm-stopped', tids[2]);
  yield line('runstate_set', 'current_run_state 7 (finish-migrate) new_state 8 (postmigrate)', tids[2]);
}

/** Writes a generated trace to `path` with backpressure (flat memory). */
export async function writeTrace(path: string, shape: TraceShape): Promise<GeneratedTrace> {
  const stats: GeneratedTrace = { bytes: 0, lines: 0, counts: {} };
  const out = createWriteStream(path);
  let batch = '';
  for (const l of traceLines(shape, stats)) {
    batch += l;
    if (batch.length >= 1 << 20) {
      stats.bytes += batch.length;
      if (!out.write(batch)) await new Promise<void>((r) => out.once('drain', () => r()));
      batch = '';
    }
  }
  stats.bytes += batch.length;
  out.write(batch);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return stats;
}
