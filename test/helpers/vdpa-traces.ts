/**
 * vDPA trace fixtures written in QEMU's exact line formats (hw/virtio/trace-events format strings;
 * log backend <= 10.0 "TID@SEC.USEC:", >= 10.1 ISO "...Z " with the fraction omitted when zero,
 * qemu-trace-stap "PID@NANOSECONDS "). The event sequences follow what QEMU logs for a device with
 * N queue pairs: the control queue (idx 2N) first on the destination, then data queues 0..2N-1.
 */
export type Format = 'log-legacy' | 'log-iso' | 'stap';
export interface Line {
  /** µs since the epoch. */
  t: number;
  name: string;
  args: string;
}

const DEV = '0x55d0c1a3b2c0';
const SHARED = '0x55d0c1b4e8a0';

export function render(lines: readonly Line[], format: Format, id = 2986097): string {
  return (
    lines
      .map(({ t, name, args }) => {
        const sec = Math.floor(t / 1e6);
        const usec = t % 1e6;
        if (format === 'log-legacy') return `${id}@${sec}.${String(usec).padStart(6, '0')}:${name} ${args}`;
        if (format === 'stap') return `${id}@${t}${String(417).padStart(3, '0')} ${name} ${args}`;
        const iso = new Date(sec * 1000).toISOString().slice(0, 19);
        return `${iso}${usec ? `.${String(usec).padStart(6, '0')}` : ''}Z ${name} ${args}`;
      })
      .join('\n') + '\n'
  );
}

export const T0 = 1753122905_000000;

export interface Scenario {
  queuePairs: number;
  /** 'suspend' (QEMU >= 8.0) or 'reset' (a device that cannot suspend). */
  stop: 'suspend' | 'reset';
  /** 'enable_one' (>= 9.0, 8.2.3) or 'ready' (8.1-8.2). */
  enable: 'enable_one' | 'ready';
  /** before the series: pinning at device start inside the downtime; after: at start-up. */
  pinning: 'at-start' | 'at-startup';
  /** Vring indexes to leave out (a broken migration). */
  skipIdx?: number[];
  /** Added to every destination timestamp (the destination clock runs ahead by this). */
  destinationSkewUs?: number;
}

/** Source: an early suspend (switch to shadow virtqueues), then the real one at stop. */
export function sourceLines(s: Scenario): Line[] {
  const stopEvent = s.stop === 'suspend' ? 'vhost_vdpa_suspend' : 'vhost_vdpa_reset_device';
  return [
    { t: T0 + 100_000, name: 'runstate_set', args: 'current_run_state 6 (prelaunch) new_state 9 (running)' },
    { t: T0 + 400_000, name: stopEvent, args: `dev: ${DEV}` },
    { t: T0 + 1_000_000, name: 'runstate_set', args: 'current_run_state 9 (running) new_state 7 (finish-migrate)' },
    { t: T0 + 1_000_100, name: stopEvent, args: `dev: ${DEV}` },
    { t: T0 + 1_050_000, name: 'runstate_set', args: 'current_run_state 7 (finish-migrate) new_state 5 (postmigrate)' },
  ];
}

const GIB = 0x40000000;

function pinning(t: number, regions: { iova: number; size: number }[]): Line[] {
  const lines: Line[] = [{ t, name: 'vhost_vdpa_listener_begin_batch', args: `vdpa_shared:${SHARED} fd: 17 msg_type: 2 type: 5` }];
  let at = t;
  for (const r of regions) {
    at += 1000;
    const vaddr = (0x7f1e40000000 + r.iova).toString(16);
    lines.push({
      t: at,
      name: 'vhost_vdpa_listener_region_add',
      args: `vdpa: ${SHARED} iova 0x${r.iova.toString(16)} llend 0x${(r.iova + r.size).toString(16)} vaddr: 0x${vaddr} read-only: 0`,
    });
    at += 300_000;
    lines.push({
      t: at,
      name: 'vhost_vdpa_dma_map',
      args: `vdpa_shared:${SHARED} fd: 17 msg_type: 2 asid: 0 iova: 0x${r.iova.toString(16)} size: 0x${r.size.toString(16)} uaddr: 0x${vaddr} perm: 0x3 type: 2`,
    });
  }
  lines.push({ t: at + 500, name: 'vhost_vdpa_listener_commit', args: `vdpa_shared:${SHARED} fd: 17 msg_type: 2 type: 6` });
  return lines;
}

/** Destination timestamps in its own clock (shifted by destinationSkewUs). */
export function destinationLines(s: Scenario): Line[] {
  const n = s.queuePairs;
  const regions = [
    { iova: 0, size: 2 * GIB },
    { iova: 0x100000000, size: 2 * GIB },
  ];
  const lines: Line[] = [{ t: T0 - 5_000_000, name: 'vhost_vdpa_set_owner', args: `dev: ${DEV}` }];
  if (s.pinning === 'at-startup') lines.push(...pinning(T0 - 4_900_000, regions));
  lines.push({ t: T0 + 1_200_000, name: 'runstate_set', args: 'current_run_state 1 (inmigrate) new_state 9 (running)' });
  let t = T0 + 1_300_000;
  if (s.pinning === 'at-start') {
    const batch = pinning(t, regions);
    lines.push(...batch);
    t = batch[batch.length - 1].t + 1000;
  }
  lines.push({ t: (t += 100), name: 'vhost_vdpa_add_status', args: `dev: ${DEV} status: 0x8` });
  lines.push({ t: (t += 100), name: 'vhost_vdpa_add_status', args: `dev: ${DEV} status: 0x4` });
  const driverOk = t;
  const order = [2 * n, ...Array.from({ length: 2 * n }, (_, i) => i)].filter((i) => !s.skipIdx?.includes(i));
  for (const idx of order) {
    t += 250;
    lines.push(
      s.enable === 'enable_one'
        ? { t, name: 'vhost_vdpa_set_vring_enable_one', args: `dev: ${DEV}, idx: ${idx}, enable: 1, r: 0` }
        : { t, name: 'vhost_vdpa_set_vring_ready', args: `dev: ${DEV}, idx: ${idx}, r: 0` },
    );
    if (idx === 2 * n) lines.push({ t: (t += 50), name: 'vhost_vdpa_net_load_mq', args: `vdpa state: 0x55d0c1c0ffee current_qpairs: ${n}` });
  }
  void driverOk;
  const skew = s.destinationSkewUs ?? 0;
  return lines.map((l) => ({ ...l, t: l.t + skew }));
}
