/** Order statistics without sorting (pure apart from reordering the array it is given). */
/** Hoare's quickselect: the k-th smallest (0-based) in O(n) on average; reorders the array around it. */
export function selectInPlace(a: Float64Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  while (right > left) {
    const mid = (left + right) >> 1;
    // Median of three as the pivot keeps sorted and constant input linear.
    const x = a[left], y = a[mid], z = a[right];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k];
  }
  return a[k];
}

/** The median of a typed array in O(n); reorders it. */
export function medianInPlace(a: Float64Array): number {
  const n = a.length;
  const lower = Math.floor((n - 1) / 2);
  const low = selectInPlace(a, lower);
  if (n % 2 === 1) return low;
  // After selection everything right of `lower` is at least it: the upper middle is their minimum.
  let high = Infinity;
  for (let i = lower + 1; i < n; i++) if (a[i] < high) high = a[i];
  return (low + high) / 2;
}
