/**
 * Files written into the lab VM's root filesystem. The set-up script runs at boot, before sshd:
 * it fixes the two pitfalls found by hand (loopback down: "Network is unreachable" on migration;
 * RLIMIT_MEMLOCK 8 MB: "vhost vdpa map fail!") and loads the simulator with use_va=0 so
 * vhost-vDPA pins guest pages as it does with a real NIC.
 */
import { LAB } from './paths.ts';

/** The lab VM's address on QEMU's user network (static: no DHCP wait at boot). */
export const LAB_GUEST_ADDRESS = '10.0.2.15/24';
export const LAB_GATEWAY = '10.0.2.2';

export const SETUP_SCRIPT = `#!/bin/sh
# vdpa-bench soft lab: runs once at boot (softlab-setup.service), before sshd.
set -eu
ip link set lo up
for dev in /sys/class/net/*; do
  name=\${dev##*/}
  [ "$name" = lo ] && continue
  ip link set "$name" up
  ip addr add ${LAB_GUEST_ADDRESS} dev "$name" 2>/dev/null || true
  ip route add default via ${LAB_GATEWAY} dev "$name" 2>/dev/null || true
  break
done
modprobe vhost_vdpa
modprobe vdpa_sim_net
sid=${LAB.sidChroot}
mkdir -p ${LAB.workdir} "$sid${LAB.workdir}"
for fs in dev proc sys; do
  mountpoint -q "$sid/$fs" || mount --rbind "/$fs" "$sid/$fs"
done
mountpoint -q "$sid${LAB.workdir}" || mount --bind ${LAB.workdir} "$sid${LAB.workdir}"
`;

export const SETUP_UNIT = `[Unit]
Description=vdpa-bench soft lab set-up (loopback, vdpa_sim, sid chroot mounts)
DefaultDependencies=no
After=systemd-modules-load.service local-fs.target systemd-udevd.service
Before=ssh.service
Wants=systemd-udevd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/softlab-setup

[Install]
WantedBy=multi-user.target
`;

export const MODPROBE_CONF = `# vdpa-bench soft lab
# use_va=0: the simulator takes physical addresses, so vhost-vdpa pins guest memory on DMA map
options vdpa_sim use_va=0
# vDPA devices must bind to vhost_vdpa (QEMU's backend), never to virtio_vdpa
blacklist virtio_vdpa
install virtio_vdpa /bin/false
`;

export const MEMLOCK_SYSTEMD = `[Manager]
DefaultLimitMEMLOCK=infinity
`;

export const MEMLOCK_PAM = `*    - memlock unlimited
root - memlock unlimited
`;

export const SSHD_CONF = `PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
MaxSessions 64
MaxStartups 64:30:128
`;

export const FSTAB = `/dev/vda / ext4 rw,noatime 0 1
`;

export const HOSTS = `127.0.0.1 localhost
127.0.1.1 softlab
`;

export function kbuildFile(objects: readonly string[]): string {
  return `obj-m := ${objects.map((o) => `${o}.o`).join(' ')}\n`;
}
