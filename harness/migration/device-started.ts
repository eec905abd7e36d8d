/**
 * A vDPA migration only measures something when the guest driver has started the device
 * (DRIVER_OK): otherwise neither side suspends or enables vrings and the "downtime" is of an
 * idle device. Firmware guests (iPXE) start the NIC a few seconds after boot and give up on it
 * after some tens of seconds without DHCP, so before every migration this hook waits for
 * DRIVER_OK on the source, re-arms the guest with system_reset when the driver has let go, and
 * afterwards marks a migration whose source device was not started as invalid.
 */
import { queryVirtioNet, type VirtioDeviceState } from '../qemu/virtio-status.ts';
import type { MigrationHooks } from './engine.ts';

export interface DeviceStartedOptions {
  /** How long to wait for DRIVER_OK in all, re-arms included. */
  timeoutMs: number;
  /**
   * A guest that never started its device within this long is reset. Firmware on nested TCG on a
   * busy machine can take over a minute to get there: too short a value resets it forever.
   */
  rearmAfterMs: number;
  pollMs?: number;
  note?: (message: string) => void;
}

export interface SourceDeviceRecord {
  driverOk: boolean;
  vhostStarted: boolean | null;
  waitedMs: number;
  rearms: number;
  statuses: string[];
}

/** Why a migration must not count, or null when the source device was started (pure). */
export function notStartedReason(source: SourceDeviceRecord | undefined): string | null {
  if (!source) return 'the guest device state before migration is unknown';
  if (!source.driverOk) {
    const bits = source.statuses.length ? source.statuses.map((s) => s.split(':')[0]).join(', ') : 'no status bits';
    return `guest device not started before migration (no DRIVER_OK on the source after ${(source.waitedMs / 1000).toFixed(1)} s and ${source.rearms} re-arm(s); status: ${bits})`;
  }
  return null;
}

export function deviceStartedHook(o: DeviceStartedOptions): MigrationHooks {
  const bySeq = new Map<number, SourceDeviceRecord>();
  const poll = o.pollMs ?? 250;
  /** The guest had its device started at some point: it migrates with the guest, so one flag per block suffices. */
  let seenStarted = false;
  let block = -1;
  return {
    async beforeMigration({ planned, source }) {
      const started = Date.now();
      if (planned.block !== block) {
        block = planned.block;
        seenStarted = false;
      }
      let lastReset = started;
      let rearms = 0;
      let state: VirtioDeviceState | null = null;
      for (;;) {
        state = await queryVirtioNet(source.qmp);
        if (!state) throw new Error('the guest has no virtio-net device: a vDPA cell needs one');
        if (state.driverOk) break;
        const now = Date.now();
        if (now - started >= o.timeoutMs) break;
        // a driver that had started the device and let it go (iPXE gave up on DHCP) will not
        // come back before the firmware's next boot attempt: reset at once
        const gaveUp = seenStarted && rearms === 0;
        if (gaveUp || now - lastReset >= o.rearmAfterMs) {
          o.note?.(`migration ${planned.seq}: ${gaveUp ? 'the guest driver let the device go' : `guest device not started after ${((now - lastReset) / 1000).toFixed(0)} s`}: system_reset to re-arm the firmware`);
          await source.qmp.execute('system_reset');
          rearms++;
          lastReset = Date.now();
        }
        await new Promise((r) => setTimeout(r, poll));
      }
      if (state.driverOk) seenStarted = true;
      bySeq.set(planned.seq, { driverOk: state.driverOk, vhostStarted: state.vhostStarted, waitedMs: Date.now() - started, rearms, statuses: state.statuses });
    },
    async afterMigration({ planned, record, destination }) {
      const source = bySeq.get(planned.seq);
      bySeq.delete(planned.seq);
      let destinationState: VirtioDeviceState | null = null;
      if (destination && record.status === 'ok') destinationState = await queryVirtioNet(destination.qmp).catch(() => null);
      record.extra = {
        ...record.extra,
        guestDevice: {
          source: source ?? null,
          destination: destinationState ? { driverOk: destinationState.driverOk, vhostStarted: destinationState.vhostStarted } : null,
        },
      };
      const reason = notStartedReason(source);
      if (reason && record.status === 'ok') {
        record.status = 'invalid';
        record.reason = reason;
        record.downtimeMs = null;
      }
    },
  };
}
