import test from 'ava';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { buildProgram } from '../../harness/cli/main.ts';
import { matrixOptions, nightlyMatrixOptions } from '../../harness/cli/options.ts';
import { clockStep, wholeNumber } from '../../harness/softlab/cli.ts';

/** Parses argv with the real program; what it wrote and the commander error it stopped with, if any. */
async function parse(argv: string[]): Promise<{ output: string; error?: CommanderError }> {
  let output = '';
  const program = buildProgram({ stdout: (s) => (output += s), stderr: (s) => (output += s) }, () => undefined);
  try {
    await program.parseAsync(['node', 'vdpa-bench', ...argv]);
    return { output };
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return { output, error };
  }
}

test('the matrix options parse into typed values: counts as numbers, repeated options as lists', (t) => {
  const command = matrixOptions(new Command('x').exitOverride());
  command.parse(['-n', '3', '--warmup', '0', '--vm-size', '1G', '--vm-size', '2G', '--variant', 'a'], { from: 'user' });
  // the annotation is the check that the declared options have these types
  const opts: { iterations?: number; warmup?: number; vmSize?: string[]; variant?: string[] } = command.opts();
  t.deepEqual(opts, { iterations: 3, warmup: 0, vmSize: ['1G', '2G'], variant: ['a'] });
});

test('nightly has the matrix options without --warmup (a night keeps the profile warm-ups)', (t) => {
  const command = nightlyMatrixOptions(new Command('x').exitOverride().configureOutput({ writeErr: () => undefined }));
  t.deepEqual(command.parse(['-n', '2'], { from: 'user' }).opts(), { iterations: 2 });
  const error = t.throws(() => command.parse(['--warmup', '1'], { from: 'user' }), { instanceOf: CommanderError });
  t.is(error?.code, 'commander.unknownOption');
});

test('softlab up: a port, vCPU count or boot timeout that is not a whole number in range is a usage error, not NaN handed to QEMU', async (t) => {
  for (const [option, value] of [
    ['--port', 'abc'],
    ['--port', '70000'],
    ['--cpus', '1.5'],
    ['--cpus', '0'],
    ['--boot-timeout', ''],
    ['--boot-timeout', '-5'],
  ]) {
    const { output, error } = await parse(['softlab', 'up', option, value]);
    t.is(error?.code, 'commander.invalidArgument', `${option} ${JSON.stringify(value)}`);
    t.regex(output, new RegExp(`option '${option} <\\w+>' argument '${value}' is invalid\\. expected a whole number from 1 to \\d+`));
  }
  t.is(wholeNumber(1, 65534)('2222'), 2222);
  t.is(wholeNumber(1, 65534)('65534'), 65534);
});

test('softlab clock-step: a step that is not a number of seconds is a usage error before any lab VM is reached', async (t) => {
  const { output, error } = await parse(['softlab', 'clock-step', 'hostA', '2.5s']);
  t.is(error?.code, 'commander.invalidArgument');
  t.regex(output, /value '2\.5s' is invalid for argument 'seconds'\. not a number of seconds: "2\.5s"/);
  t.is(clockStep('-0.75'), -0.75);
  t.is(clockStep('+2'), 2);
  t.throws(() => clockStep('1e3'));
});
