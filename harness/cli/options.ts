/** Parsers for command-line option values, shared by every subcommand. */
import { InvalidArgumentError, type Command } from 'commander';

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

/** The options that narrow a profile's matrix, shared by run, plan and nightly (nightly keeps the profile's warm-ups). */
export function matrixOptions(command: Command, { warmup = true } = {}): Command {
  command.option('-n, --iterations <n>', 'measured migrations per cell (overrides the profile)', positiveInt);
  if (warmup) command.option('--warmup <n>', 'warm-up migrations per VM boot (overrides the profile)', nonNegativeInt);
  return command
    .option('--vm-size <size>', 'only this VM size (repeatable), e.g. --vm-size 1G', collect)
    .option('--variant <name>', 'only this variant (repeatable)', collect);
}
