/**
 * A host command as data: what provisioning, builds and `plan` share. The run executes it through
 * the host's transport; `plan` prints it with the same transport's describe(). Profile values only
 * ever travel as argv elements or as "$1"... of a `bash -s` script, never spliced into shell text.
 */
import { shellQuote, type HostTransport, type RunResult } from './transport.ts';

/** `foreground`: long work the terminal's Ctrl-C stops too (a build; see RunOptions). */
interface CommandOptions {
  allowFailure?: boolean;
  timeoutMs?: number;
  foreground?: boolean;
}

export type HostCommand =
  | ({ kind: 'argv'; argv: string[]; input?: string; inputLabel?: string } & CommandOptions)
  | ({ kind: 'script'; script: string; args: string[] } & CommandOptions);

/** `inputLabel` names a long input (a patch file) in plan output instead of printing it. */
export function argv(args: string[], options: { input?: string; inputLabel?: string } & CommandOptions = {}): HostCommand {
  return { kind: 'argv', argv: args, ...options };
}

/** A bash script whose values arrive as "$1", "$2"...; the script text itself must be constant. */
export function script(text: string, args: string[] = [], options: CommandOptions = {}): HostCommand {
  return { kind: 'script', script: text.replace(/^\n/, ''), args, ...options };
}

export function runCommand(host: HostTransport, command: HostCommand): Promise<RunResult> {
  const options = { allowFailure: command.allowFailure, timeoutMs: command.timeoutMs ?? 120_000, foreground: command.foreground };
  if (command.kind === 'argv') return host.run(command.argv, { ...options, input: command.input });
  return host.script(command.script, command.args, options);
}

/** How `host` would run the command, as a reviewer reads it (shell syntax, quoted). */
export function describeCommand(host: HostTransport, command: HostCommand): string {
  if (command.kind === 'argv') {
    const line = host.describe(command.argv);
    if (command.inputLabel !== undefined) return `${line} < ${shellQuote(command.inputLabel)}`;
    if (command.input === undefined) return line;
    // one line of input (a sysfs value, a count) reads best as echo
    const oneLine = /^[^\n]*\n$/.test(command.input);
    return oneLine ? `echo ${shellQuote(command.input.slice(0, -1))} | ${line}` : `printf '%s' ${shellQuote(command.input)} | ${line}`;
  }
  const body = command.script
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `${host.describe(['bash', '-s', '--', ...command.args])} <<'SCRIPT'\n${body}\n    SCRIPT`;
}
