/**
 * The guest's view of its virtio-net device, read over QMP (x-query-virtio, x-query-virtio-status;
 * QEMU >= 7.2): whether the guest driver has set DRIVER_OK and whether QEMU started the vhost
 * backend. Parsing is pure; querying goes through the instance's QMP client.
 */
import type { QmpClient } from './qmp.ts';

export interface VirtioDeviceState {
  path: string;
  /** Status bits as QEMU names them, e.g. "VIRTIO_CONFIG_S_DRIVER_OK: Driver ready". */
  statuses: string[];
  driverOk: boolean;
  vhostStarted: boolean | null;
}

interface VirtioStatusReply {
  status?: { statuses?: string[] };
  'vhost-started'?: boolean;
}

export function parseVirtioStatus(path: string, reply: VirtioStatusReply): VirtioDeviceState {
  const statuses = reply.status?.statuses ?? [];
  return {
    path,
    statuses,
    driverOk: statuses.some((s) => s.startsWith('VIRTIO_CONFIG_S_DRIVER_OK')),
    vhostStarted: typeof reply['vhost-started'] === 'boolean' ? reply['vhost-started'] : null,
  };
}

/** The first virtio-net device's state; null when the guest has no virtio-net device. */
export async function queryVirtioNet(qmp: QmpClient): Promise<VirtioDeviceState | null> {
  const devices = await qmp.execute<{ name: string; path: string }[]>('x-query-virtio');
  const net = devices.find((d) => d.name === 'virtio-net');
  if (!net) return null;
  const reply = await qmp.execute<VirtioStatusReply>('x-query-virtio-status', { path: net.path });
  return parseVirtioStatus(net.path, reply);
}
