/**
 * Reads a profile from YAML and reports every problem as `file:line:col path.to.key: message`,
 * so an editor or a terminal jumps straight to it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { BUILTIN_METRICS } from './metric-rules.ts';
import { checkLabBox } from './lab-box-checks.ts';
import { numaProfileProblems } from './numa.ts';
import { profileSchema, type Profile } from './schema.ts';

export interface ProfileProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export class ProfileError extends Error {
  constructor(readonly problems: ProfileProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ProfileError';
  }
}

export function formatProblem(p: ProfileProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path || '(profile)'}: ${p.message}`;
}

export interface LoadedProfile {
  profile: Profile;
  file: string;
  text: string;
  sha256: string;
}

export async function loadProfile(file: string): Promise<LoadedProfile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ProfileError([{ file, line: 1, col: 1, path: '', message: `cannot read the profile: ${(error as Error).message}` }]);
  }
  return { profile: parseProfile(text, file), file, text, sha256: createHash('sha256').update(text).digest('hex') };
}

export function parseProfile(text: string, file = '<profile>'): Profile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lineCounter.linePos(offset);
  if (doc.errors.length > 0) {
    throw new ProfileError(
      doc.errors.map((error) => {
        const { line, col } = at(error.pos[0]);
        return { file, line, col, path: '', message: `YAML: ${error.message.split('\n')[0]}` };
      }),
    );
  }
  const result = profileSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    throw new ProfileError(result.error.issues.map((issue) => locateIssue(doc, issue, file, at)).sort(byPosition));
  }
  const problems = checkReferences(result.data).map(({ path, message }) => {
    const { line, col } = positionOf(doc, path, at);
    return { file, line, col, path: path.join('.'), message };
  });
  if (problems.length > 0) throw new ProfileError(problems.sort(byPosition));
  return result.data;
}

function byPosition(a: ProfileProblem, b: ProfileProblem): number {
  return a.line - b.line || a.col - b.col;
}

function locateIssue(doc: Document, issue: z.core.$ZodIssue, file: string, at: (o: number) => { line: number; col: number }): ProfileProblem {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const node = keyNode(doc, [...path, key]);
    const { line, col } = node?.range ? at(node.range[0]) : positionOf(doc, path, at);
    const more = issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).join(', ')})` : '';
    return { file, line, col, path: [...path, key].join('.'), message: `unknown key "${key}"${more}` };
  }
  const { line, col } = positionOf(doc, path, at);
  return { file, line, col, path: path.join('.'), message: describeIssue(issue) };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined) return `missing (${issue.expected} required)`;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    return `${issue.message}`;
  }
  return issue.message;
}

/** The node at `path`, or the deepest ancestor that exists (a missing key points at its parent). */
function positionOf(doc: Document, path: (string | number)[], at: (o: number) => { line: number; col: number }) {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as Node | undefined;
    if (node && (node as Node).range) return at((node as Node).range![0]);
    const key = keyNode(doc, path.slice(0, depth));
    if (key?.range) return at(key.range[0]);
  }
  return { line: 1, col: 1 };
}

function keyNode(doc: Document, path: (string | number)[]): Node | undefined {
  if (path.length === 0) return undefined;
  const parent = path.length === 1 ? doc.contents : (doc.getIn(path.slice(0, -1), true) as unknown);
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === last);
  return pair && isScalar(pair.key) ? (pair.key as Node) : undefined;
}

type ReferenceProblem = { path: (string | number)[]; message: string };

/** Checks the schema cannot express: names that must refer to something defined elsewhere. */
export function checkReferences(profile: Profile): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [
    ...nameProblems(profile),
    ...metricProblems(profile),
    ...qemuSourceProblems(profile),
    ...vdpaProblems(profile),
    ...vmSizeProblems(profile),
    ...numaProfileProblems(profile.hosts, profile.vm.cpus),
  ];
  // the lab-box checks need a valid pair
  if (problems.every((p) => p.path[0] !== 'pair')) problems.push(...checkLabBox(profile, pairHosts(profile)));
  return problems;
}

/** Unique host and variant names; the pair, the matrix and compare name hosts and variants that exist; a workload needs the built-in guest. */
function nameProblems(profile: Profile): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const duplicates = (names: string[], path: string) =>
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) problems.push({ path: [path, i, 'name'], message: `duplicate name "${n}"` });
    });
  duplicates(
    profile.hosts.map((h) => h.name),
    'hosts',
  );
  duplicates(
    profile.variants.map((v) => v.name),
    'variants',
  );
  const hostNames = new Set(profile.hosts.map((h) => h.name));
  const variantNames = new Set(profile.variants.map((v) => v.name));
  profile.pair?.forEach((h, i) => {
    if (!hostNames.has(h)) problems.push({ path: ['pair', i], message: `no host named "${h}" (hosts: ${[...hostNames].join(', ')})` });
  });
  profile.variants.forEach((v, i) => {
    if (v.workload && profile.vm.guest.kind !== 'builtin-linux')
      problems.push({
        path: ['variants', i, 'workload'],
        message: `a variant workload needs vm.guest.kind: builtin-linux (the guest here is ${profile.vm.guest.kind})`,
      });
  });
  profile.matrix.variants?.forEach((v, i) => {
    if (!variantNames.has(v))
      problems.push({ path: ['matrix', 'variants', i], message: `no variant named "${v}" (variants: ${[...variantNames].join(', ')})` });
  });
  for (const key of ['baseline', 'candidate'] as const) {
    const v = profile.compare[key];
    if (v && !variantNames.has(v)) problems.push({ path: ['compare', key], message: `no variant named "${v}" (variants: ${[...variantNames].join(', ')})` });
  }
  return problems;
}

/** The primary metric and the extra ones are built in or defined in metrics.rules. */
function metricProblems(profile: Profile): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const metricNames = new Set([...Object.keys(BUILTIN_METRICS), ...Object.keys(profile.metrics.rules)]);
  const known = [...metricNames].join(', ');
  if (!metricNames.has(profile.metrics.primary))
    problems.push({ path: ['metrics', 'primary'], message: `unknown metric "${profile.metrics.primary}" (known: ${known})` });
  profile.metrics.use?.forEach((m, i) => {
    if (!metricNames.has(m)) problems.push({ path: ['metrics', 'use', i], message: `unknown metric "${m}" (known: ${known})` });
  });
  return problems;
}

/** Each variant says where its QEMU comes from. */
function qemuSourceProblems(profile: Profile): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  profile.variants.forEach((v, i) => {
    if (!v.qemu.binary && !v.qemu.build && !v.qemu.debian)
      problems.push({ path: ['variants', i, 'qemu'], message: 'give binary, build or debian (a Debian suite, e.g. trixie)' });
    if (v.qemu.build && !v.qemu.build.git && !v.qemu.build.sourceDir)
      problems.push({ path: ['variants', i, 'qemu', 'build'], message: 'give git (with ref) or sourceDir' });
  });
  return problems;
}

/** vDPA queue pairs need a vdpa: section on every host, and two devices when both ends share a host. */
function vdpaProblems(profile: Profile): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const usesVdpa = profile.vm.nic.kind === 'vdpa' || profile.matrix.queuePairs.some((q) => q !== null);
  if (usesVdpa) {
    profile.hosts.forEach((h, i) => {
      if (!h.vdpa) problems.push({ path: ['hosts', i], message: 'the matrix uses vDPA queue pairs, so this host needs a vdpa: section' });
    });
    const [a, b] = pairHosts(profile);
    const shared = profile.hosts.findIndex((h) => h.name === a);
    if (a === b && shared !== -1 && profile.hosts[shared].vdpa && profile.hosts[shared].vdpa!.devices.length < 2) {
      problems.push({
        path: ['hosts', shared, 'vdpa', 'devices'],
        message: `source and destination both run on ${a}: it needs two vDPA devices (a vhost-vdpa device opens once)`,
      });
    }
  }
  return problems;
}

function vmSizeProblems(profile: Profile): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  for (const [i, size] of profile.matrix.vmSizes.entries()) {
    if (profile.matrix.vmSizes.indexOf(size) !== i) problems.push({ path: ['matrix', 'vmSizes', i], message: `duplicate VM size "${size}"` });
  }
  return problems;
}

/** Cells in matrix order; variants default to every variant in profile order. */
export function matrixVariants(profile: Profile): string[] {
  return profile.matrix.variants ?? profile.variants.map((v) => v.name);
}

export function pairHosts(profile: Profile): [string, string] {
  if (profile.pair) return profile.pair;
  const [a, b] = profile.hosts;
  return [a.name, (b ?? a).name];
}

export function metricNames(profile: Profile): string[] {
  const use = profile.metrics.use ?? [profile.metrics.primary];
  return [profile.metrics.primary, ...use.filter((m) => m !== profile.metrics.primary)];
}
