/**
 * The build path inside a real run, in seconds: a variant built from a source directory whose
 * configure/make/install are a few lines of shell (the real compile is the slow test's) and whose
 * installed binary is this machine's QEMU. The run must build it once for two hosts on one
 * machine, verify it, migrate with it and record the build; the next build is a cache hit.
 */
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { buildQemu } from '../../harness/qemu/build.ts';
import { readIterations, readManifest } from '../../harness/results/store.ts';
import { lastLine, vdpaBench } from '../helpers/cli.ts';
import { requires } from '../helpers/requires.ts';
import { readJson } from '../helpers/json.ts';

const test = requires('qemu');

const CONFIGURE = `#!/bin/sh
# records how it was called, then writes a Makefile that installs a QEMU wrapper into --prefix
printf '%s\\n' "$@" > configure-args.txt
for a in "$@"; do case "$a" in --prefix=*) prefix="\${a#--prefix=}";; esac; done
qemu=$(command -v qemu-system-x86_64)
printf 'all:\\n\\ttrue\\ninstall:\\n\\tmkdir -p %s/bin\\n\\tprintf "#!/bin/sh\\\\nexec %s \\\\"\\\\$$@\\\\"\\\\n" > %s/bin/qemu-system-x86_64\\n\\tchmod +x %s/bin/qemu-system-x86_64\\n' "$prefix" "$qemu" "$prefix" "$prefix" > Makefile
`;

test('a run builds a sourceDir variant once per machine, verifies and uses it, and records the build', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'vb-labbuild-'));
  const source = join(work, 'qemu src');
  await mkdir(source);
  await writeFile(join(source, 'configure'), CONFIGURE);
  await chmod(join(source, 'configure'), 0o755);
  const profile = join(work, 'lab.yaml');
  await writeFile(
    profile,
    `name: labbuild
hosts:
  - { name: hostA, workdir: ${JSON.stringify(join(work, 'wd'))} }
  - { name: hostB, workdir: ${JSON.stringify(join(work, 'wd'))} }
vm: { memory: { backend: file, share: true }, guest: { kind: firmware } }
variants:
  - name: built
    qemu: { build: { sourceDir: ${JSON.stringify(source)}, configureArgs: [--disable-docs] } }
matrix: { vmSizes: [256M] }
iterations: 1
warmup: 0
metrics: { primary: runstate }
`,
  );
  const r = await vdpaBench(['run', profile, '--out', join(work, 'out')]);
  t.is(r.exitCode, 0, r.stderr);
  const dir = lastLine(r.stdout);
  const manifest = (await readManifest(dir))!;
  const lab = manifest.lab as {
    builds: { host: string; binary: string; cached: boolean; key: string; configureLine: string[] }[];
    qemu: Record<string, Record<string, { traceFormat: string }>>;
  };
  t.is(lab.builds.length, 1, 'two hosts on one machine share one build');
  const [build] = lab.builds;
  t.false(build.cached);
  t.is(build.binary, join(work, 'wd', 'qemu-builds', `built-${build.key}`, 'bin', 'qemu-system-x86_64'));
  t.deepEqual(build.configureLine, ['--target-list=x86_64-softmmu', '--enable-trace-backends=log', '--disable-docs']);
  t.is(manifest.variants[0].binary, build.binary);
  t.is(lab.qemu.hostB.built.traceFormat, 'log-legacy');
  const args = await readFile(join(work, 'wd', 'qemu-builds', `built-${build.key}.build`, 'configure-args.txt'), 'utf8').catch(() => 'removed');
  t.is(args, 'removed', 'the build directory is removed after install');
  const stamp = await readJson<{ key: string }>(join(work, 'wd', 'qemu-builds', `built-${build.key}`, 'vdpa-bench-build.json'));
  t.is(stamp.key, build.key);
  const { records } = await readIterations(dir);
  t.is(records.length, 1);
  t.is(records[0].status, 'ok', records[0].reason);

  const again = await buildQemu({
    host: new LocalTransport('hostA'),
    variant: 'built',
    spec: { sourceDir: source, patches: [], targets: ['x86_64-softmmu'], traceBackend: 'log', configureArgs: ['--disable-docs'] },
    patches: [],
    buildRoot: join(work, 'wd', 'qemu-builds'),
  });
  t.true(again.cached);
  t.is(again.key, build.key);
});
