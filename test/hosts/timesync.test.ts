import test from 'ava';
import { parseTimeSync } from '../../harness/hosts/timesync.ts';

// `chronyc -n tracking` as chronyc(1) documents it, and `pmc -u -b 0 'GET TIME_STATUS_NP'` (linuxptp)
const CHRONY = `@@ chrony
Reference ID    : CB00710F (203.0.113.15)
Stratum         : 3
Ref time (UTC)  : Fri Jan 27 09:49:17 2017
System time     : 0.000006523 seconds slow of NTP time
Last offset     : -0.000006747 seconds
RMS offset      : 0.000035822 seconds
Frequency       : 3.225 ppm slow
Residual freq   : -0.000 ppm
Skew            : 0.129 ppm
Root delay      : 0.013639022 seconds
Root dispersion : 0.001100737 seconds
Update interval : 64.2 seconds
Leap status     : Normal
`;
const PTP = `@@ running
ptp4l
@@ running
phc2sys
@@ pmc
sending: GET TIME_STATUS_NP
	0c42a1.fffe.6b2c5e-0 seq 0 RESPONSE MANAGEMENT TIME_STATUS_NP
		master_offset              -13
		ingress_time               1764126000123456789
		cumulativeScaledRateOffset +0.000000000
		scaledLastGmPhaseChange    0
		gmTimeBaseIndicator        0
		lastGmPhaseChange          0x0000'0000000000000000.0000
		gmPresent                  true
		gmIdentity                 0011fe.fffe.d3b4a6
@@ phc
2
@@ timedatectl
NTP=no
NTPSynchronized=yes
`;

test('chrony tracking becomes numbers with signs (slow is negative)', (t) => {
  const facts = parseTimeSync(CHRONY + '@@ phc\n0\n');
  t.deepEqual(facts.chrony, {
    referenceId: 'CB00710F (203.0.113.15)',
    stratum: 3,
    systemTimeUs: -6.523,
    lastOffsetUs: -6.747,
    rmsOffsetUs: 35.822,
    leapStatus: 'Normal',
  });
  t.is(facts.phcDevices, 0);
  t.is(facts.summary, 'chrony (stratum 3, -6.523 µs from NTP, leap Normal)');
});

test('PTP daemons, the grandmaster offset and hardware clocks are recorded', (t) => {
  const facts = parseTimeSync(PTP);
  t.deepEqual(facts.ptp, { daemons: ['ptp4l', 'phc2sys'], masterOffsetNs: -13, gmPresent: true, gmIdentity: '0011fe.fffe.d3b4a6' });
  t.is(facts.phcDevices, 2);
  t.true(facts.ntpSynchronized);
  t.is(facts.summary, 'PTP (ptp4l, phc2sys, master offset -13 ns); NTP synchronized: yes; 2 PTP hardware clock(s)');
});

test('a chronyc that cannot reach chronyd, or no time service at all, is said plainly', (t) => {
  const down = parseTimeSync('@@ chrony\n506 Cannot talk to daemon\n@@ phc\n0\n');
  t.deepEqual(down.chrony, { error: '506 Cannot talk to daemon' });
  t.regex(down.summary, /chrony not answering \(506 Cannot talk to daemon\)/);
  t.is(parseTimeSync('@@ phc\n0\n').summary, 'no time synchronisation found (no chrony, ptp4l or timedatectl)');
});
