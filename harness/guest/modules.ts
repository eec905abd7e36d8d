/**
 * Kernel module load order from a depmod-generated modules.dep (pure). depmod lists a module's
 * dependencies so that the LAST one must be loaded first (modprobe walks the list backwards).
 */

export type ModulesDep = ReadonlyMap<string, readonly string[]>;

/** Parses modules.dep text: `path.ko: dep1.ko dep2.ko` per line; keys are module paths. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const module = line.slice(0, colon).trim();
    if (!module) continue;
    deps.set(
      module,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  return deps;
}

/** `virtio_net` for `kernel/drivers/net/virtio_net.ko(.xz)`; depmod treats - and _ alike. */
export function moduleName(path: string): string {
  return path
    .split('/')
    .pop()!
    .replace(/\.ko(\.[a-z]+)?$/, '')
    .replaceAll('-', '_');
}

/**
 * Paths of the given modules and everything they need, in an order insmod can load them.
 * Throws naming the module that modules.dep does not know.
 */
export function loadOrder(deps: ModulesDep, wanted: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(moduleName(path), path);
  const order: string[] = [];
  const seen = new Set<string>();
  const add = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const needs = deps.get(path);
    if (!needs) throw new Error(`modules.dep has no entry for ${path}`);
    for (const dependency of [...needs].reverse()) add(dependency);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name.replaceAll('-', '_'));
    if (!path) throw new Error(`kernel module ${name} is not in modules.dep (is it built in, or missing from this kernel?)`);
    add(path);
  }
  return order;
}
