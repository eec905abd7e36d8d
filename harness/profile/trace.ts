/** The profile's trace section: which QEMU trace events, through which backend and tracer. */
import { z } from 'zod';
import { parseDuration } from './size.ts';

/** Shared by every duration field of the profile. */
export const durationString = z
  .union([z.string(), z.number()])
  .superRefine((value, ctx) => {
    try {
      parseDuration(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  })
  .describe('A duration: 250ms, 90s, 5m, 1h, or a number of seconds');

export const traceSchema = z
  .strictObject({
    events: z.array(z.string().min(1)).default(['runstate_set', 'vmstate_downtime_checkpoint']),
    // stap: the dtrace backend (RHEL/Fedora qemu-kvm: -trace/-D write nothing), captured per QEMU process by trace.tracer
    backend: z.enum(['log', 'stap']).default('log').describe("log: QEMU's log backend (-trace/-D); stap: the dtrace backend, captured by trace.tracer"),
    tracer: z
      .enum(['systemtap', 'bpftrace'])
      .default('systemtap')
      .describe('backend stap: qemu-trace-stap run --pid (RHEL qemu-kvm-tools), or bpftrace usdt: probes'),
    alsoLog: z.boolean().default(false).describe('backend stap: the log backend too, into *.qemu-log.log per migration (a QEMU built with both backends)'),
    attachTimeout: durationString.default('180s').describe('How long a tracer may take to attach (SystemTap compiles a kernel module first)'),
  })
  .prefault({});
