/**
 * Whether QEMU's vhost-vDPA device is started, replayed from its trace (pure). QEMU starts the
 * vhost device only when the guest driver sets DRIVER_OK (`vhost_vdpa_add_status` with bit 0x4)
 * and resets it when the driver lets go (`vhost_vdpa_reset_device`). Read from traces rather than
 * QMP because QEMU 11.1's x-query-virtio-status (and HMP `info virtio-status`) abort the process
 * on a vhost-vdpa device.
 */
import type { TraceEvent } from './parse.ts';

export const DEVICE_STATE_EVENTS = ['vhost_vdpa_add_status', 'vhost_vdpa_reset_device'] as const;

export interface DeviceState {
  started: boolean;
  /** The device was started at some point (a driver that let it go will not come back by itself soon). */
  everStarted?: boolean;
  /** The event that decided it, when the trace had one. */
  decidedBy?: { event: string; args: string; line: number; timeUs: number };
}

export function addsDriverOk(args: string): boolean {
  const m = /status: 0x([0-9a-fA-F]+)/.exec(args);
  return m !== null && (parseInt(m[1], 16) & 0x4) !== 0;
}

/** Replays a trace over a starting state (the state this QEMU's earlier trace file ended in). */
export function vhostDeviceState(events: readonly TraceEvent[], initial: DeviceState = { started: false }): DeviceState {
  let state = initial;
  for (const e of events) {
    if (e.name === 'vhost_vdpa_reset_device')
      state = { started: false, everStarted: state.everStarted || state.started, decidedBy: { event: e.name, args: e.args, line: e.line, timeUs: e.timeUs } };
    else if (e.name === 'vhost_vdpa_add_status' && addsDriverOk(e.args))
      state = { started: true, everStarted: true, decidedBy: { event: e.name, args: e.args, line: e.line, timeUs: e.timeUs } };
  }
  return state;
}
