/**
 * The repository root, for files the harness ships beside its code (the guest's /init, the
 * prober's C source). This module sits one directory below the root, and so does every chunk of
 * the compiled CLI in dist/, so the same URL is right in both.
 */
export const REPO_ROOT = new URL('../', import.meta.url);

export const repoFile = (path: string) => new URL(path, REPO_ROOT);
