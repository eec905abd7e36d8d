/** Two JSON documents leaf by leaf (pure): how many figures agree and where they differ. */

/** figures: numeric leaves compared; differences: "path: recorded X, re-derived Y", in document order. */
export function compareJson(recorded: unknown, rederived: unknown, ignore: (path: string) => boolean): { figures: number; differences: string[] } {
  const differences: string[] = [];
  let figures = 0;
  const walk = (a: unknown, b: unknown, path: string) => {
    if (ignore(path)) return;
    const container = (v: unknown) => v !== null && typeof v === 'object';
    if (container(a) && container(b) && Array.isArray(a) === Array.isArray(b)) {
      const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
      for (const key of keys) walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      return;
    }
    if (typeof a === 'number') figures++;
    if (JSON.stringify(a) !== JSON.stringify(b))
      differences.push(`${path}: recorded ${JSON.stringify(a) ?? 'absent'}, re-derived ${JSON.stringify(b) ?? 'absent'}`.slice(0, 300));
  };
  walk(recorded, rederived, '');
  return { figures, differences };
}
