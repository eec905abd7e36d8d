// Site set-up (zx): every CPU's frequency governor set to `performance` for the run, and each
// CPU's own governor put back afterwards. Downtime measured while cores ramp their clocks up
// from powersave is a different number.
//
//   setup:
//     - { script: site/cpu-governor.mjs }                      # performance
//     - { script: site/cpu-governor.mjs, args: [schedutil] }   # another governor
//
// args: [governor (default performance), cpu directory (default /sys/devices/system/cpu)].
// A host without cpufreq (most VMs, some BIOS settings) cannot have a governor: the script says
// so and the run records it as not applied, never as done.

const governorFiles = async ($, root) => {
  // per CPU: file NUL governor NUL (paths may hold any other byte); nothing when cpufreq is absent
  const out = await $`for f in ${root}/cpu[0-9]*/cpufreq/scaling_governor; do [ -r "$f" ] && printf '%s\\0%s\\0' "$f" "$(cat -- "$f")"; done; true`;
  const fields = out.stdout.split('\0');
  const cpus = [];
  for (let i = 0; i + 1 < fields.length; i += 2) cpus.push({ file: fields[i], governor: fields[i + 1] });
  return cpus;
};

const settings = (args) => ({ want: args[0] ?? 'performance', root: args[1] ?? '/sys/devices/system/cpu' });

export async function check({ $, args }) {
  const { want, root } = settings(args);
  const cpus = await governorFiles($, root);
  if (cpus.length === 0) return { satisfied: false, state: {}, unavailable: `no cpufreq on this host (no ${root}/cpu*/cpufreq/scaling_governor): the CPU frequency governor cannot be set here` };
  const state = Object.fromEntries(cpus.map((c) => [c.file, c.governor]));
  const other = cpus.filter((c) => c.governor !== want);
  const counts = {};
  for (const c of cpus) counts[c.governor] = (counts[c.governor] ?? 0) + 1;
  const detail = `${cpus.length} CPUs: ${Object.entries(counts).map(([g, n]) => `${n} ${g}`).join(', ')}`;
  return { satisfied: other.length === 0, state, detail };
}

export async function apply({ $, args, found }) {
  const { want } = settings(args);
  for (const file of Object.keys(found)) {
    const available = (await $`cat -- ${file.replace(/scaling_governor$/, 'scaling_available_governors')}`.nothrow()).stdout.trim().split(/\s+/);
    if (available[0] && !available.includes(want)) throw new Error(`${file}: governor ${want} is not available (this CPU offers: ${available.join(' ')})`);
    await $`printf '%s\\n' ${want} > ${file}`;
  }
}

export async function undo({ $, previous }) {
  for (const [file, governor] of Object.entries(previous)) await $`printf '%s\\n' ${governor} > ${file}`;
}
