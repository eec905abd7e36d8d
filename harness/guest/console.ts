/**
 * Reading a builtin-linux guest's serial console (pure): kernel messages that mean the guest is
 * damaged, and the `vb-...` lines its /init prints (ready, workload rate, integrity checks).
 */

/** Kernel and init messages that mean the guest cannot be trusted any more. */
export const DAMAGE_PATTERNS: readonly RegExp[] = [
  /Kernel panic/,
  /\bBUG[: ]/,
  /\bOops\b/,
  /general protection fault/,
  /corruption/i,
  /is not a head/,
  /stack guard page/,
  /Call Trace:/,
  /WARNING: CPU: /,
  /segfault at/,
  /^vb-check \d+ FAIL/,
  /^vb-error/,
];

function lines(text: string): string[] {
  return text.replaceAll('\r', '').split('\n');
}

/** Lines that show damage, in console order (at most `limit`). */
export function damageEvidence(text: string, limit = 20): string[] {
  return lines(text)
    .filter((l) => DAMAGE_PATTERNS.some((p) => p.test(l)))
    .slice(0, limit);
}

export function guestReady(text: string): boolean {
  return /^vb-ready /m.test(text.replaceAll('\r', ''));
}

export type IntegrityVerdict = { verdict: 'ok'; check: number } | { verdict: 'failed'; check: number; line: string } | { verdict: 'pending' };

/**
 * The first integrity check that both began and ended in this console text. The destination's
 * console only holds what the guest printed after the switchover, so such a check read memory
 * the migration delivered. A FAIL counts even if its check began earlier.
 */
export function integrityVerdict(text: string): IntegrityVerdict {
  const begun = new Set<number>();
  for (const line of lines(text)) {
    const match = /^vb-check (\d+) (begin|ok|FAIL|raced)\b/.exec(line);
    if (!match) continue;
    const n = Number(match[1]);
    if (match[2] === 'begin') begun.add(n);
    else if (match[2] === 'FAIL') return { verdict: 'failed', check: n, line };
    else if (match[2] === 'ok' && begun.has(n)) return { verdict: 'ok', check: n };
  }
  return { verdict: 'pending' };
}

/** The guest's last reported dirtying rate (MB/s), if it printed one. */
export function lastWorkloadRate(text: string): number | null {
  const all = [...text.replaceAll('\r', '').matchAll(/^vb-workload rate_mbps=(\d+)/gm)];
  return all.length > 0 ? Number(all[all.length - 1][1]) : null;
}

export function consoleTail(text: string, count = 8): string[] {
  return lines(text).filter(Boolean).slice(-count);
}
