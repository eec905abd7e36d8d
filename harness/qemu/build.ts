/**
 * Builds a variant's QEMU on a host (git URL + ref, or a source directory, plus a patch series):
 * configure with the target list and a timestamped trace backend, make, install into a prefix of
 * its own. The prefix is named by a key over source commit + patches + configure line, so a
 * second run with the same inputs reuses the installed build.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { HostTransport } from '../hosts/transport.ts';
import type { Variant } from '../profile/schema.ts';
import { argv, describeCommand, runCommand, script, type HostCommand } from '../hosts/command.ts';

export type BuildSpec = NonNullable<Variant['qemu']['build']>;

export interface ResolvedPatch {
  /** As written in the profile. */
  path: string;
  sha256: string;
  text: string;
}

export interface BuildRecord {
  variant: string;
  host: string;
  source: { git?: string; ref?: string; sourceDir?: string; identity: string };
  patches: { path: string; sha256: string }[];
  configureLine: string[];
  key: string;
  prefix: string;
  binary: string;
  cached: boolean;
  durationS: number;
  finishedAt: string;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** Patch files are read on the harness machine, relative to the profile. */
export async function readPatches(profileFile: string, paths: readonly string[]): Promise<ResolvedPatch[]> {
  return Promise.all(
    paths.map(async (path) => {
      const file = isAbsolute(path) ? path : resolve(dirname(profileFile), path);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new Error(`patch ${path}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      return { path, sha256: sha256(text), text };
    }),
  );
}

export function binaryName(spec: BuildSpec): string {
  const target = spec.targets[0] ?? 'x86_64-softmmu';
  return `qemu-system-${target.replace(/-softmmu$/, '')}`;
}

/** configure's arguments except --prefix (which the key names, so it cannot be part of it). */
export function configureLine(spec: BuildSpec): string[] {
  return [`--target-list=${spec.targets.join(',')}`, `--enable-trace-backends=${spec.traceBackend}`, ...spec.configureArgs];
}

export function buildKey(identity: string, patches: readonly { sha256: string }[], configure: readonly string[]): string {
  return sha256(JSON.stringify({ identity, patches: patches.map((p) => p.sha256), configure })).slice(0, 16);
}

export interface BuildLayout {
  root: string;
  /** Shared clone of a git source (one per URL). */
  gitCache?: string;
  prefix: string;
  tree: string;
  buildDir: string;
  stamp: string;
}

export function buildLayout(spec: BuildSpec, variant: string, buildRoot: string, key: string): BuildLayout {
  const prefix = join(buildRoot, `${variant}-${key}`);
  const copies = spec.git !== undefined || spec.patches.length > 0;
  return {
    root: buildRoot,
    gitCache: spec.git ? join(buildRoot, `git-${sha256(spec.git).slice(0, 12)}`) : undefined,
    prefix,
    // an unpatched source directory is built out of tree; anything else gets a tree of its own
    tree: copies ? `${prefix}.src` : spec.sourceDir!,
    buildDir: `${prefix}.build`,
    stamp: join(prefix, 'vdpa-bench-build.json'),
  };
}

const GIT_FETCH = String.raw`
set -e
mkdir -p -- "$(dirname -- "$1")"
[ -d "$1/.git" ] || git clone --quiet --no-checkout -- "$2" "$1"
git -C "$1" fetch --quiet --tags -- origin "$3" 2>/dev/null || true
git -C "$1" rev-parse --verify --quiet "$3^{commit}" || git -C "$1" rev-parse --verify "FETCH_HEAD^{commit}"
`;

const SOURCE_IDENTITY = String.raw`
set -e
cd "$1"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "git:$(git rev-parse HEAD)$(git status --porcelain --untracked-files=no | sha256sum | cut -c1-12 | sed 's/^e3b0c44298fc$//; s/^./+dirty:&/')"
else
  echo "tree:$(find . -type f ! -path './build/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)"
fi
`;

const CACHED = String.raw`[ -x "$1" ] && grep -qF -- "$3" "$2" 2>/dev/null && echo hit || echo miss`;

const CHECKOUT = String.raw`
set -e
rm -rf -- "$2"
mkdir -p -- "$(dirname -- "$2")"
git clone --quiet --shared --no-checkout -- "$1" "$2"
git -C "$2" checkout --quiet --detach "$3"
`;

const COPY_TREE = String.raw`
set -e
rm -rf -- "$2"
mkdir -p -- "$(dirname -- "$2")"
cp -a -- "$1" "$2"
`;

const IN_DIR = String.raw`
set -e
mkdir -p -- "$1"
cd "$1"
shift
exec "$@"
`;

// A meson build (QEMU >= 5.2) builds only what `make install` would install: QEMU builds its
// unit tests and qtests by default (about a third of the ninja steps of a minimal 7.2 build:
// 1452 steps instead of roughly 2100) and a benchmark never runs them.
export const MAKE = String.raw`
set -e
cd "$1"
if [ ! -d meson-info ]; then make -j"$(nproc)"; make install; exit 0; fi
meson=$(sed -n 's/^MESON=//p' config-host.mak); [ -n "$meson" ] || meson=meson
ninja=$(sed -n 's/^NINJA=//p' config-host.mak); [ -n "$ninja" ] || ninja=ninja
"$meson" introspect --installed | python3 -c '
import json, os, sys
build = os.getcwd() + "/"
for path in json.load(sys.stdin):
    if path.startswith(build):
        sys.stdout.write(path[len(build):] + "\0")
' | xargs -0 -r "$ninja" -j"$(nproc)"
"$meson" install --no-rebuild --quiet
`;

/** The command that prints the source identity (commit or tree hash) the cache key is made of. */
export function identifyCommand(spec: BuildSpec, layout: Pick<BuildLayout, 'gitCache'>): HostCommand {
  if (spec.git) return script(GIT_FETCH, [layout.gitCache!, spec.git, spec.ref ?? 'HEAD'], { timeoutMs: 30 * 60_000, foreground: true });
  return script(SOURCE_IDENTITY, [spec.sourceDir!], { timeoutMs: 10 * 60_000, foreground: true });
}

export function cacheCommand(layout: BuildLayout, spec: BuildSpec, key: string): HostCommand {
  return script(CACHED, [join(layout.prefix, 'bin', binaryName(spec)), layout.stamp, key]);
}

/** What a build's steps are made from. */
export interface BuildStepsInput {
  spec: BuildSpec;
  layout: BuildLayout;
  /** The commit or tree hash of the source. */
  identity: string;
  patches: readonly Pick<ResolvedPatch, 'path' | 'sha256' | 'text'>[];
  /** What the last step writes to the build's stamp. */
  record: Omit<BuildRecord, 'cached' | 'durationS' | 'finishedAt'>;
}

/** Every command of a build that is not cached, in order. */
export function buildSteps({ spec, layout, identity, patches, record }: BuildStepsInput): { title: string; command: HostCommand }[] {
  const steps: { title: string; command: HostCommand }[] = [];
  if (spec.git) {
    const commit = identity.replace(/^git:/, '');
    steps.push({
      title: `check out ${commit}`,
      command: script(CHECKOUT, [layout.gitCache!, layout.tree, commit], { timeoutMs: 30 * 60_000, foreground: true }),
    });
  } else if (spec.patches.length > 0) {
    steps.push({
      title: `copy ${spec.sourceDir} to patch it`,
      command: script(COPY_TREE, [spec.sourceDir!, layout.tree], { timeoutMs: 30 * 60_000, foreground: true }),
    });
  }
  for (const patch of patches) {
    steps.push({
      title: `apply ${patch.path}`,
      command: argv(['patch', '-p1', '--forward', '--batch', '-d', layout.tree], {
        input: patch.text,
        inputLabel: `${patch.path} (sha256 ${patch.sha256.slice(0, 12)})`,
      }),
    });
  }
  steps.push({
    title: 'configure',
    command: script(IN_DIR, [layout.buildDir, join(layout.tree, 'configure'), `--prefix=${layout.prefix}`, ...configureLine(spec)], {
      timeoutMs: 30 * 60_000,
      foreground: true,
    }),
  });
  steps.push({ title: 'make and install', command: script(MAKE, [layout.buildDir], { timeoutMs: 4 * 3600_000, foreground: true }) });
  steps.push({
    title: 'record the build',
    command: argv(['tee', layout.stamp], { input: JSON.stringify(record, null, 2) + '\n', inputLabel: 'BUILD_RECORD.json' }),
  });
  return steps;
}

export interface BuildInput {
  host: HostTransport;
  variant: string;
  spec: BuildSpec;
  patches: readonly ResolvedPatch[];
  /** Directory on the host that keeps source clones and installed builds across runs. */
  buildRoot: string;
  log?: (line: string) => void;
}

/** Builds (or reuses) one variant's QEMU on one host. */
export async function buildQemu({ host, variant, spec, patches, buildRoot, log = () => {} }: BuildInput): Promise<BuildRecord> {
  const started = performance.now();
  const configure = configureLine(spec);
  const gitCache = spec.git ? buildLayout(spec, variant, buildRoot, 'x').gitCache : undefined;
  log(`${host.hostName}: ${variant}: resolving ${spec.git ? `${spec.git} ${spec.ref ?? 'HEAD'}` : spec.sourceDir}`);
  const identityOut = await runCommand(host, identifyCommand(spec, { gitCache }));
  const identity = spec.git ? `git:${lastLine(identityOut.stdout)}` : lastLine(identityOut.stdout);
  if (!/^(git|tree):[0-9a-f]{40,64}/.test(identity)) throw new Error(`${host.hostName}: ${variant}: cannot identify the QEMU source (got "${identity}")`);
  const key = buildKey(identity, patches, configure);
  const layout = buildLayout(spec, variant, buildRoot, key);
  const binary = join(layout.prefix, 'bin', binaryName(spec));
  const base = {
    variant,
    host: host.hostName,
    source: { git: spec.git, ref: spec.ref, sourceDir: spec.sourceDir, identity },
    patches: patches.map((p) => ({ path: p.path, sha256: p.sha256 })),
    configureLine: configure,
    key,
    prefix: layout.prefix,
    binary,
  };
  const cached = (await runCommand(host, cacheCommand(layout, spec, key))).stdout.trim() === 'hit';
  if (!cached) {
    for (const step of buildSteps({ spec, layout, identity, patches, record: base })) {
      log(`${host.hostName}: ${variant}: ${step.title}`);
      await runCommand(host, step.command);
    }
    await runCommand(host, argv(['rm', '-rf', '--', layout.buildDir, ...(layout.tree !== spec.sourceDir ? [layout.tree] : [])], { allowFailure: true }));
  } else log(`${host.hostName}: ${variant}: cached build ${layout.prefix}`);
  return { ...base, cached, durationS: Math.round((performance.now() - started) / 100) / 10, finishedAt: new Date().toISOString() };
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

/** For `plan`: the build as it would run, with the source identity shown as a placeholder. */
export function describeBuild({
  host,
  variant,
  spec,
  patches,
  buildRoot,
}: Omit<BuildInput, 'patches' | 'log'> & { patches: readonly Pick<ResolvedPatch, 'path' | 'sha256'>[] }): string[] {
  const key = 'KEY';
  const layout = buildLayout(spec, variant, buildRoot, key);
  const identity = spec.git ? 'git:COMMIT' : 'tree:HASH';
  const lines = [
    `# source identity (commit or tree hash); key = sha256(identity + patch hashes + configure line)`,
    describeCommand(host, identifyCommand(spec, layout)),
    `# cached when ${layout.prefix}/bin/${binaryName(spec)} exists with the same key: the rest is skipped`,
    describeCommand(host, cacheCommand(layout, spec, key)),
  ];
  const fake = patches.map((p) => ({ ...p, text: '' }));
  for (const step of buildSteps({ spec, layout, identity, patches: fake, record: {} as never })) lines.push(describeCommand(host, step.command));
  return lines;
}
