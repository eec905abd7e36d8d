#!/bin/sh
# npm run test:unit: every test that needs nothing but Node (no root, QEMU, sshd or browser).
# Tests that declare such needs with requires() (test/helpers/requires.ts) are skipped; the
# stubs in test/helpers/unit-path, first on PATH, fail any test that starts those programs
# without declaring them, so a new test cannot slip into the quick suite unclassified.
set -eu
stubs="$(cd "$(dirname "$0")/helpers/unit-path" && pwd)"
export VDPA_BENCH_UNIT=1 PATH="$stubs:$PATH" CHROMIUM_PATH="$stubs/chromium" SSHD_PATH="$stubs/sshd"
exec npx ava "$@"
