/**
 * A vDPA migration only measures something when the guest driver has started the device
 * (DRIVER_OK): otherwise neither side suspends or enables vrings and the "downtime" is of an
 * idle device. Firmware guests (iPXE) start the NIC some seconds after boot and let it go after
 * some tens of seconds without DHCP, so before every migration this hook waits until the source
 * QEMU's vhost device is started (replayed from its trace file), re-arms the guest with
 * system_reset when the driver has let go, and afterwards contributes what it saw on both sides
 * (extra.guestDevice) and, when the source device was not started, why the migration is invalid.
 */
import type { RunningQemu } from '../qemu/running.ts';
import type { GuestDevicePart, SourceDeviceRecord } from '../results/types.ts';
import { parseTrace } from '../traces/parse.ts';
import { DEVICE_STATE_EVENTS, vhostDeviceState, type DeviceState } from '../traces/vhost-device-state.ts';
import type { MigrationHooks } from './interfaces.ts';

export interface DeviceStartedOptions {
  /** How long to wait for DRIVER_OK in all, re-arms included. */
  timeoutMs: number;
  /**
   * A guest that never started its device within this long is reset. Firmware on nested TCG on a
   * busy machine can take over a minute to get there: too short a value resets it forever.
   */
  rearmAfterMs: number;
  /** Reset the guest to re-arm it (firmware); false for an OS guest, whose driver starts the device once it is up. */
  rearm?: boolean;
  pollMs?: number;
  note?: (message: string) => void;
}

/** What the harness saw of the source's device before `migrate` (the record's shape, harness/results/record-parts.ts). */
export type { SourceDeviceRecord };

/** Why a migration must not count, or null when the source device was started (pure). */
export function notStartedReason(source: SourceDeviceRecord | undefined): string | null {
  if (!source) return 'the guest device state before migration is unknown';
  if (source.driverOk && source.driverOkAtMigrationStart === false) {
    return `guest device not started when the migration began: the driver let it go just before (${source.decidedBy ?? 'source trace'})`;
  }
  if (!source.driverOk) {
    return `guest device not started before migration (no DRIVER_OK on the source after ${(source.waitedMs / 1000).toFixed(1)} s and ${source.rearms} re-arm(s); last: ${source.decidedBy ?? 'no vhost_vdpa_add_status or reset in the trace'})`;
  }
  return null;
}

const wanted = new Set<string>(DEVICE_STATE_EVENTS);

async function stateOf(q: RunningQemu, path: string, initial: DeviceState, untilUs?: number): Promise<DeviceState> {
  // a tracer's capture (dtrace backend) reaches the trace file when it is cut: cut it now (its faults are judged with the record)
  if (path === q.currentTraceFile && q.settleTrace) await q.settleTrace();
  const text = await q.host.readFile(path).then(
    (b) => b.toString('utf8'),
    () => '',
  );
  const events = parseTrace(text, { events: wanted }).events.filter((e) => untilUs === undefined || e.timeUs <= untilUs);
  return vhostDeviceState(events, initial);
}

const describe = (s: DeviceState) => (s.decidedBy ? `${s.decidedBy.event} ${s.decidedBy.args} (line ${s.decidedBy.line})` : undefined);

/**
 * Polls the source's trace until the guest driver has started the device or the timeout passes,
 * resetting the guest when the firmware will not try again on its own.
 */
async function waitForDeviceStart(
  o: DeviceStartedOptions,
  source: RunningQemu,
  initial: DeviceState,
  seq: number,
): Promise<{ state: DeviceState; rearms: number; waitedMs: number }> {
  const poll = o.pollMs ?? 1000;
  const started = Date.now();
  let lastReset = started;
  let rearms = 0;
  let state = await stateOf(source, source.currentTraceFile, initial);
  // a driver that had started the device and let it go (iPXE gave up on DHCP) will not come
  // back before the firmware's next boot attempt: reset at once
  let gaveUp = !state.started && Boolean(state.everStarted);
  while (!state.started && Date.now() - started < o.timeoutMs) {
    if (o.rearm !== false && (gaveUp || Date.now() - lastReset >= o.rearmAfterMs)) {
      o.note?.(
        `migration ${seq}: ${gaveUp ? 'the guest driver let the device go' : `guest device not started after ${((Date.now() - lastReset) / 1000).toFixed(0)} s`}: system_reset to re-arm the firmware`,
      );
      await source.qmp.execute('system_reset');
      rearms++;
      gaveUp = false;
      lastReset = Date.now();
    }
    await new Promise((r) => setTimeout(r, poll));
    state = await stateOf(source, source.currentTraceFile, initial);
  }
  return { state, rearms, waitedMs: Date.now() - started };
}

export function deviceStartedHook(o: DeviceStartedOptions): MigrationHooks {
  const bySeq = new Map<number, SourceDeviceRecord>();
  const sourceFiles = new Map<number, { instance: RunningQemu; file: string; initial: DeviceState }>();
  /** A QEMU's earlier trace file (its trace is rotated per migration; events after our last look are in it). */
  const earlierFile = new WeakMap<RunningQemu, string>();
  return {
    describeBeforeMigration: ({ from }) => [
      `[${from.name}] wait until the source's guest driver has the vDPA device up (DRIVER_OK in its trace${o.rearm !== false ? '; system_reset re-arms the firmware' : `, up to ${o.timeoutMs / 60_000} min`}), the wait recorded in extra.guestDevice; never up: the migration is invalid`,
    ],
    async beforeMigration({ planned, source }) {
      const earlier = earlierFile.get(source);
      const initial = earlier && earlier !== source.currentTraceFile ? await stateOf(source, earlier, { started: false }) : { started: false };
      const { state, rearms, waitedMs } = await waitForDeviceStart(o, source, initial, planned.seq);
      bySeq.set(planned.seq, { driverOk: state.started, waitedMs, rearms, decidedBy: describe(state) });
      sourceFiles.set(planned.seq, { instance: source, file: source.currentTraceFile, initial });
    },
    async afterMigration({ planned, record, destination }) {
      const source = bySeq.get(planned.seq);
      bySeq.delete(planned.seq);
      const files = sourceFiles.get(planned.seq);
      sourceFiles.delete(planned.seq);
      // the driver can let go between our last look and `migrate`: decide from the trace itself
      const migrationStartUs = record.windows?.source.fromUs;
      if (source && files && migrationStartUs !== undefined) {
        const atStart = await stateOf(files.instance, files.file, files.initial, migrationStartUs);
        source.driverOkAtMigrationStart = atStart.started;
        if (!atStart.started) source.decidedBy = describe(atStart);
      }
      let destinationState: DeviceState | null = null;
      if (destination && record.status === 'ok') {
        destinationState = await stateOf(destination, destination.currentTraceFile, { started: false });
        earlierFile.set(destination, destination.currentTraceFile);
      }
      const guestDevice: GuestDevicePart = {
        source: source ?? null,
        destination: destinationState ? { driverOk: destinationState.started, decidedBy: describe(destinationState) ?? null } : null,
      };
      const reason = notStartedReason(source);
      return { parts: { guestDevice }, ...(reason ? { invalid: reason } : {}) };
    },
  };
}
