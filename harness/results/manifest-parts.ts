/**
 * The typed parts of a run manifest that labs fill in: the vDPA lab's facts (`lab`), the lab in a
 * box's (`labBox`), the site scripts' outcomes (`siteSetup`) and each host's time keeping
 * (`hosts[].timeSync`). Each is written by the module named in its description; the reader
 * validates them and the exported JSON Schema documents them.
 */
import { z } from 'zod';

const int = z.number().int();
const duration = z.union([z.string(), z.number()]).describe('as written in the profile: "1s", "250ms" or ms');

/** One set-up step the harness applied, kept so teardown undoes exactly that (harness/provision/apply.ts). */
export const ledgerEntrySchema = z.strictObject({
  host: z.string(),
  step: z.string(),
  title: z.string(),
  previousState: z.string().describe('the state before the harness applied the step: what undo restores'),
  appliedAt: z.string(),
});

const stepOutcomeSchema = z.strictObject({
  step: z.string(),
  title: z.string(),
  action: z.enum(['already-in-place', 'applied']),
  before: z.string(),
  after: z.string().optional(),
});

const buildRecordSchema = z
  .strictObject({
    variant: z.string(),
    host: z.string(),
    source: z.strictObject({ git: z.string().optional(), ref: z.string().optional(), sourceDir: z.string().optional(), identity: z.string() }),
    patches: z.array(z.strictObject({ path: z.string(), sha256: z.string() })),
    configureLine: z.array(z.string()),
    key: z.string(),
    prefix: z.string(),
    binary: z.string(),
    cached: z.boolean(),
    durationS: z.number(),
    finishedAt: z.string(),
  })
  .describe('a QEMU built from source for a variant on a host (harness/qemu/build.ts)');

const vdpaHostFactsSchema = z
  .strictObject({
    kernelCmdline: z.string().optional(),
    iommu: z.strictObject({ units: z.array(z.string()), groupType: z.string().optional(), cmdline: z.array(z.string()) }),
    hugepages: z.record(z.string(), z.string()),
    nic: z
      .strictObject({
        model: z.string().optional(),
        driver: z.string().optional(),
        driverVersion: z.string().optional(),
        firmware: z.string().optional(),
        devlinkInfo: z.string().optional(),
      })
      .optional(),
    devices: z.record(
      z.string(),
      z.strictObject({
        maxVqPairs: z.number().optional(),
        mac: z.string().optional(),
        negotiatedFeatures: z.array(z.string()).optional(),
        error: z.string().optional(),
      }),
    ),
  })
  .describe("a vDPA host's facts (harness/provision/facts.ts): IOMMU, hugepages, the NIC, each vDPA device's config");

const qemuRootSchema = z
  .strictObject({
    suite: z.string(),
    host: z.string(),
    root: z.string(),
    package: z.literal('qemu-system-x86'),
    version: z.string().describe("the installed package's exact Debian version"),
    mirror: z.string(),
    action: z.enum(['cached', 'built']),
    seconds: z.number(),
  })
  .describe('a Debian suite root a qemu.debian variant ran from (harness/provision/qemu-root.ts)');

/** `lab` (harness/lab/prepare.ts). */
export const labManifestSchema = z
  .strictObject({
    builds: z.array(buildRecordSchema),
    provisioning: z.record(z.string(), z.array(stepOutcomeSchema)).describe("per host, each set-up step's outcome"),
    vdpaHosts: z.record(z.string(), vdpaHostFactsSchema),
    vhostVdpaDevices: z.record(z.string(), z.record(z.string(), z.string())).describe('per host, each vDPA device’s /dev/vhost-vdpa-N'),
    qemu: z
      .record(
        z.string(),
        z.record(
          z.string(),
          z.strictObject({
            binary: z.string(),
            traceFormat: z.string().optional(),
            traceBackend: z.enum(['log', 'dtrace']).optional().describe("which of QEMU's trace backends wrote this QEMU's trace files"),
            tracer: z.string().optional().describe('dtrace backend: the tracer that captured them (systemtap, bpftrace) and the clock of its lines'),
          }),
        ),
      )
      .describe('per host and variant'),
    qemuRoots: z.array(qemuRootSchema).describe('Debian suite roots the run used (provisioned or found cached), one per suite and machine'),
    ledger: z.array(ledgerEntrySchema),
  })
  .describe('vDPA lab facts: QEMU builds, set-up outcomes and ledger, vDPA host facts and devices, each QEMU and its trace format');

const workloadSchema = z.union([
  z.strictObject({ kind: z.literal('idle') }),
  z.strictObject({ kind: z.literal('dirty'), workingSet: z.string(), chunk: z.string(), rate: z.string().optional() }),
]);

/** `labBox` (harness/labbox/prepare.ts). */
export const labBoxFactsSchema = z
  .strictObject({
    guest: z.strictObject({
      kernelPackage: z.string(),
      kernelPackageVersion: z.string(),
      kernelRelease: z.string(),
      busyboxVersion: z.string(),
      modules: z.array(z.string()),
      initrdBytes: int,
      cmdline: z.string(),
      workload: workloadSchema,
      variants: z
        .record(z.string(), z.strictObject({ workload: workloadSchema, cmdline: z.string() }))
        .optional()
        .describe('variants with their own workload'),
      dir: z.string(),
    }),
    network: z
      .strictObject({
        kind: z.literal('bridged-netns'),
        namespaces: z.record(z.string(), z.string()),
        peerAddress: z.string(),
        guestAddress: z.string(),
        migrationAddresses: z.array(z.string()),
        announce: z.strictObject({ rounds: int.optional(), initial: int.optional(), max: int.optional(), step: int.optional() }),
        probe: z.strictObject({ rate: int, tail: duration, replyTimeout: duration, maxStrayLoss: z.number(), tool: z.string() }),
      })
      .optional(),
  })
  .describe('lab-in-a-box facts: the built guest, the namespaces and the probe');

/** `siteSetup` (harness/run/session.ts, harness/provision/site-scripts.ts). */
export const siteSetupSchema = z
  .strictObject({
    scripts: z.array(
      z.strictObject({
        host: z.string(),
        script: z.string(),
        args: z.array(z.string()),
        action: z.enum(['already-in-place', 'applied', 'unavailable']),
        before: z.string(),
        after: z.string().optional(),
      }),
    ),
    ledger: z.array(ledgerEntrySchema),
  })
  .describe('zx site scripts: what each found, applied and undid');

const chronyTrackingSchema = z.strictObject({
  referenceId: z.string().optional(),
  stratum: z.number().optional(),
  systemTimeUs: z.number().optional().describe('this host’s clock minus NTP time, µs ("fast" is positive)'),
  lastOffsetUs: z.number().optional(),
  rmsOffsetUs: z.number().optional(),
  leapStatus: z.string().optional(),
});

/** `hosts[].timeSync` (harness/hosts/timesync.ts). */
export const timeSyncSchema = z
  .strictObject({
    chrony: z.union([chronyTrackingSchema, z.strictObject({ error: z.string() })]).optional(),
    ptp: z
      .strictObject({
        daemons: z.array(z.string()),
        masterOffsetNs: z.number().optional(),
        gmPresent: z.boolean().optional(),
        gmIdentity: z.string().optional(),
      })
      .optional(),
    phcDevices: int.describe('number of /dev/ptpN clocks (NIC hardware clocks)'),
    ntpSynchronized: z.boolean().optional(),
    summary: z.string().describe('one line for reports'),
  })
  .describe('how the host keeps time (chrony, PTP)');
