import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildKey, buildLayout, buildSteps, configureLine, readPatches, type BuildSpec } from '../../harness/qemu/build.ts';

const spec: BuildSpec = {
  git: 'https://gitlab.com/qemu-project/qemu.git',
  ref: 'v10.0.0',
  patches: [],
  targets: ['x86_64-softmmu'],
  traceBackend: 'log',
  configureArgs: ['--enable-kvm'],
};
const commit = 'git:' + 'a'.repeat(40);

test('the cache key changes with the commit, a patch and the configure line, not with the prefix', (t) => {
  const base = buildKey(commit, [], configureLine(spec));
  t.is(buildKey(commit, [], configureLine(spec)), base);
  t.not(buildKey('git:' + 'b'.repeat(40), [], configureLine(spec)), base);
  t.not(buildKey(commit, [{ sha256: 'c'.repeat(64) }], configureLine(spec)), base);
  t.not(buildKey(commit, [], configureLine({ ...spec, configureArgs: ['--enable-kvm', '--disable-docs'] })), base);
  t.deepEqual(configureLine(spec), ['--target-list=x86_64-softmmu', '--enable-trace-backends=log', '--enable-kvm']);
});

test('an unpatched source directory builds out of tree; patches get a copy; git gets a checkout', (t) => {
  const dir: BuildSpec = { ...spec, git: undefined, ref: undefined, sourceDir: '/src/qemu' };
  t.is(buildLayout(dir, 'v', '/b', 'k').tree, '/src/qemu');
  t.is(buildLayout({ ...dir, patches: ['x.patch'] }, 'v', '/b', 'k').tree, '/b/v-k.src');
  const layout = buildLayout(spec, 'before', '/b', 'k');
  t.is(layout.prefix, '/b/before-k');
  const steps = buildSteps({
    spec,
    layout,
    identity: commit,
    patches: [{ path: 'p/0001.patch', sha256: 'd'.repeat(64), text: '--- a/x\n+++ b/x\n' }],
    record: {} as never,
  });
  t.deepEqual(
    steps.map((s) => s.title),
    [`check out ${'a'.repeat(40)}`, 'apply p/0001.patch', 'configure', 'make and install', 'record the build'],
  );
  const patch = steps[1].command;
  t.true(patch.kind === 'argv' && patch.input === '--- a/x\n+++ b/x\n' && patch.argv.join(' ') === 'patch -p1 --forward --batch -d /b/before-k.src');
  const configure = steps[2].command;
  t.true(
    configure.kind === 'script' &&
      configure.args.join(' ') ===
        '/b/before-k.build /b/before-k.src/configure --prefix=/b/before-k --target-list=x86_64-softmmu --enable-trace-backends=log --enable-kvm',
  );
});

test('patches are read relative to the profile; a missing one is named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-patches-'));
  await writeFile(join(dir, '0001.patch'), 'diff\n');
  const [p] = await readPatches(join(dir, 'lab.yaml'), ['0001.patch']);
  t.is(p.sha256, '7c4604d03f399eac32a48edbb7be1710838b70c83ad0e94b60137920945d6c40');
  t.is(p.path, '0001.patch');
  await t.throwsAsync(readPatches(join(dir, 'lab.yaml'), ['missing.patch']), {
    message: new RegExp(`^patch missing.patch: cannot read ${dir}/missing.patch: ENOENT`),
  });
});
