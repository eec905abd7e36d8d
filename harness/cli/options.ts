/**
 * Parsers for command-line option values, shared by every subcommand, and the options that narrow
 * a profile's matrix. Commands are built with @commander-js/extra-typings: each command's option
 * and argument types are inferred from its own declarations (flags, defaults, parsers), so an
 * action reads typed values and a misspelt option is a compile error.
 */
import { InvalidArgumentError, type Command, type OptionValues } from '@commander-js/extra-typings';

/** Where the command line writes: standard output and standard error (tests capture them). */
export type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

/** The typed option values of a command as built (for an action implemented outside the chain). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OptionsOf<C> = C extends Command<any[], infer Opts, OptionValues> ? Opts : never;

export const collect = (value: string, previous: string[] = []) => [...previous, value];

export const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
};

export const nonNegativeInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
};

export const probability = (value: string) => {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError('expected a number between 0 and 1');
  return n;
};

const ITERATIONS = ['-n, --iterations <n>', 'measured migrations per cell (overrides the profile)'] as const;

/** The options that narrow a profile's matrix, shared by run and plan. */
export function matrixOptions<Args extends unknown[], Opts extends OptionValues>(command: Command<Args, Opts>) {
  return selectionOptions(
    command.option(...ITERATIONS, positiveInt).option('--warmup <n>', 'warm-up migrations per VM boot (overrides the profile)', nonNegativeInt),
  );
}

/** nightly's matrix options: those of run without --warmup (a night keeps the profile's warm-ups). */
export function nightlyMatrixOptions<Args extends unknown[], Opts extends OptionValues>(command: Command<Args, Opts>) {
  return selectionOptions(command.option(...ITERATIONS, positiveInt));
}

function selectionOptions<Args extends unknown[], Opts extends OptionValues>(command: Command<Args, Opts>) {
  return command
    .option('--vm-size <size>', 'only this VM size (repeatable), e.g. --vm-size 1G', collect)
    .option('--variant <name>', 'only this variant (repeatable)', collect);
}
