/** JUnit XML for a nightly verdict (pure): one test case per cell, so CI systems show it natively. */
import type { NightlyVerdict } from './compare.ts';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

export function nightlyJunit(v: NightlyVerdict): string {
  const suite = `vdpa-bench nightly ${v.profile}`;
  const failures = v.cells.filter((c) => c.verdict === 'regression').length;
  const errors = v.cells.filter((c) => c.verdict === 'no-data').length + (v.exitCode === 2 ? 1 : 0);
  const skipped = v.cells.filter((c) => c.verdict === 'no-baseline').length;
  const cases = v.cells.map((c) => {
    const name = escapeXml(c.label);
    const out = [`<system-out>${escapeXml(`${c.verdict}: ${c.reason}${c.changePoints.length ? `\nchange points: ${c.changePoints.map((p) => `${p.runId} (${p.changePct >= 0 ? '+' : ''}${p.changePct.toFixed(1)}%)`).join(', ')}` : ''}`)}</system-out>`];
    if (c.verdict === 'regression') out.unshift(`<failure type="regression" message="${escapeXml(c.reason)}"/>`);
    if (c.verdict === 'no-data') out.unshift(`<error type="no-data" message="${escapeXml(c.reason)}"/>`);
    if (c.verdict === 'no-baseline') out.unshift(`<skipped message="${escapeXml(c.reason)}"/>`);
    return `    <testcase classname="${escapeXml(suite)}" name="${name}">\n      ${out.join('\n      ')}\n    </testcase>`;
  });
  if (v.exitCode === 2) cases.unshift(`    <testcase classname="${escapeXml(suite)}" name="run">\n      <error type="run-failed" message="${escapeXml(v.runError ?? 'the run could not be made')}"/>\n    </testcase>`);
  const fp = v.fingerprintChange ? `lab fingerprint changed since ${v.fingerprintChange.previousRunId}:\n${v.fingerprintChange.changes.join('\n')}` : `lab fingerprint ${v.fingerprint}`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="vdpa-bench" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}">`,
    `  <testsuite name="${escapeXml(suite)}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}">`,
    `    <properties><property name="runId" value="${escapeXml(v.runId)}"/><property name="fingerprint" value="${escapeXml(v.fingerprint)}"/></properties>`,
    ...cases,
    `    <system-out>${escapeXml(fp)}</system-out>`,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
