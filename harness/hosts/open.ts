/** Opens the transport a profile host asks for. */
import type { Host } from '../profile/schema.ts';
import { LocalTransport, NetnsTransport } from './local.ts';
import { SshTransport } from './ssh.ts';
import type { HostTransport } from './transport.ts';

export type TransportFactory = (host: Host) => HostTransport;

const factories: Partial<Record<Host['transport']['kind'], TransportFactory>> = {
  local: (host) => new LocalTransport(host.name),
  netns: (host) => new NetnsTransport(host.name, (host.transport as { namespace: string }).namespace),
};

registerTransport('ssh', (host) => {
  const { kind: _kind, ...config } = host.transport as Extract<Host['transport'], { kind: 'ssh' }>;
  return new SshTransport(host.name, config);
});

/** Later transports (ssh) register themselves here. */
export function registerTransport(kind: Host['transport']['kind'], factory: TransportFactory): void {
  factories[kind] = factory;
}

export function openTransport(host: Host): HostTransport {
  const factory = factories[host.transport.kind];
  if (!factory) throw new Error(`host ${host.name}: the ${host.transport.kind} transport is not available in this build`);
  return factory(host);
}
