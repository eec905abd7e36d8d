/**
 * `vdpa-bench qemu-root`: the Debian suite roots `qemu: { debian: SUITE }` variants run QEMU
 * from, on this machine or on every host of a profile: show, build, refresh (rebuild from the
 * mirror: a newer point release), remove.
 */
import type { Command } from '@commander-js/extra-typings';
import type { Out } from './options.ts';
import { UsageError } from './usage-error.ts';

export function addQemuRootCommands(program: Command, out: Out, setExit: (code: number) => void): void {
  const group = program
    .command('qemu-root')
    .description("Root filesystems with a Debian suite's QEMU (qemu: { debian: SUITE } variants): show, build, refresh, remove")
    .addHelpText(
      'after',
      `
A variant with qemu: { debian: trixie } runs trixie's qemu-system-x86 from a minimal root
filesystem (debootstrap --variant=minbase, a few minutes) that \`run\` makes on each host the
first time and reuses afterwards. \`refresh\` rebuilds it from the host's Debian mirror, e.g.
after a point release; the next run records the new package version in its manifest.

Where: the host's qemuRoots, else <cache>/qemu-roots/SUITE on this machine (VDPA_BENCH_CACHE,
default ~/.cache/vdpa-bench) and /var/cache/vdpa-bench/qemu-roots/SUITE over ssh.

Examples:
  vdpa-bench qemu-root show trixie
  vdpa-bench qemu-root refresh trixie --profile profiles/cx6dx-lab.yaml`,
    );
  for (const [name, description] of [
    ['show', "Print whether the suite's root exists on each host and its qemu-system-x86 version"],
    ['build', "Make the suite's root where it is missing (what `run` does first)"],
    ['refresh', "Rebuild the suite's root from the mirror, replacing the cached one"],
    ['remove', "Delete the suite's root (refused while anything is mounted below it)"],
  ] as const) {
    group
      .command(name)
      .description(description)
      .argument('<suite>', 'Debian suite or codename: bookworm, trixie, sid, ...')
      .option('--profile <file>', 'act on every host of this profile (through its transport) instead of this machine')
      .action(async (suite, opts) => {
        const { checkSuite } = await import('../provision/qemu-root.ts');
        try {
          checkSuite(suite);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        const problems = await qemuRootAction(name, suite, opts.profile, out);
        if (problems > 0) setExit(1);
      });
  }
}

async function qemuRootAction(action: 'show' | 'build' | 'refresh' | 'remove', suite: string, profilePath: string | undefined, out: Out): Promise<number> {
  const [{ openTransport }, { LocalTransport }, { cacheRoot }, root, { runCommand }] = await Promise.all([
    import('../hosts/open.ts'),
    import('../hosts/local.ts'),
    import('../guest/build.ts'),
    import('../provision/qemu-root.ts'),
    import('../hosts/command.ts'),
  ]);
  let hosts: { name: string; qemuRoots?: string; transport: { kind: 'local' | 'ssh' | 'netns' } }[] = [{ name: 'this machine', transport: { kind: 'local' } }];
  if (profilePath) {
    const { loadProfile } = await import('../profile/load.ts');
    hosts = (await loadProfile(profilePath)).profile.hosts;
  }
  let problems = 0;
  const seen = new Set<string>();
  for (const host of hosts) {
    const rootsDir = root.qemuRootsDir(host, cacheRoot());
    // namespaced hosts share this machine's filesystem: one root serves them all
    const where = `${host.transport.kind === 'ssh' ? host.name : 'this machine'}|${rootsDir}`;
    if (seen.has(where)) continue;
    seen.add(where);
    const transport = host.transport.kind === 'ssh' ? openTransport(host as Parameters<typeof openTransport>[0]) : new LocalTransport(host.name);
    try {
      const dir = root.suiteRoot(rootsDir, suite);
      if (action === 'build' || action === 'refresh') {
        const r = await root.provisionQemuRoot(transport, { rootsDir, suite, refresh: action === 'refresh', log: (l) => out.stderr(l + '\n') });
        out.stdout(`${host.name}: ${r.root}: ${r.package} ${r.version} (${r.action}${r.action === 'built' ? ` in ${r.seconds} s` : ''}, mirror ${r.mirror})\n`);
      } else {
        const result = await runCommand(transport, root.qemuRootCommand(dir, suite, root.DEFAULT_DEBIAN_MIRROR, action === 'show' ? 'check' : 'remove'));
        const state = result.stdout.trim().split('\n').pop() ?? '';
        out.stdout(`${host.name}: ${dir}: ${state.replace(/^ready /, `${root.QEMU_PACKAGE} `)}\n`);
      }
    } catch (error) {
      problems++;
      out.stderr(`${host.name}: ${(error as Error).message}\n`);
    } finally {
      await transport.close();
    }
  }
  return problems;
}
