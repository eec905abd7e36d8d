/** JUnit XML for a nightly verdict (pure): one test case per cell, so CI systems show it natively. */
import { escapeMarkup } from '../report/export/escape.ts';
import type { NightlyVerdict } from './compare.ts';

export function nightlyJunit(v: NightlyVerdict): string {
  const suite = `vdpa-bench nightly ${v.profile}`;
  const failures = v.cells.filter((c) => c.verdict === 'regression').length;
  const errors = v.cells.filter((c) => c.verdict === 'no-data').length + (v.exitCode === 2 ? 1 : 0);
  const skipped = v.cells.filter((c) => c.verdict === 'no-baseline').length;
  const cases = v.cells.map((c) => {
    const name = escapeMarkup(c.label);
    const out = [
      `<system-out>${escapeMarkup(`${c.verdict}: ${c.reason}${c.changePoints.length ? `\nchange points: ${c.changePoints.map((p) => `${p.runId} (${p.changePct >= 0 ? '+' : ''}${p.changePct.toFixed(1)}%)`).join(', ')}` : ''}`)}</system-out>`,
    ];
    if (c.verdict === 'regression') out.unshift(`<failure type="regression" message="${escapeMarkup(c.reason)}"/>`);
    if (c.verdict === 'no-data') out.unshift(`<error type="no-data" message="${escapeMarkup(c.reason)}"/>`);
    if (c.verdict === 'no-baseline') out.unshift(`<skipped message="${escapeMarkup(c.reason)}"/>`);
    return `    <testcase classname="${escapeMarkup(suite)}" name="${name}">\n      ${out.join('\n      ')}\n    </testcase>`;
  });
  if (v.exitCode === 2)
    cases.unshift(
      `    <testcase classname="${escapeMarkup(suite)}" name="run">\n      <error type="run-failed" message="${escapeMarkup(v.runError ?? 'the run could not be made')}"/>\n    </testcase>`,
    );
  const fp = v.fingerprintChange
    ? `lab fingerprint changed since ${v.fingerprintChange.previousRunId}:\n${v.fingerprintChange.changes.join('\n')}`
    : `lab fingerprint ${v.fingerprint}`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="vdpa-bench" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}">`,
    `  <testsuite name="${escapeMarkup(suite)}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}">`,
    `    <properties><property name="runId" value="${escapeMarkup(v.runId)}"/><property name="fingerprint" value="${escapeMarkup(v.fingerprint)}"/></properties>`,
    ...cases,
    `    <system-out>${escapeMarkup(fp)}</system-out>`,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
