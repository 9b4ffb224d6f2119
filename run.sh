#!/usr/bin/env bash
# The project's entry point. Each command does its own set-up on a fresh machine first.
#   ./run.sh demo     the main job on a local fleet: 3 VMs, a sample repo, pulumi up, drift, repair
#   ./run.sh test     the whole test suite (unit, fleet, sync engine, real Pulumi engine end to end)
#   ./run.sh setup    only the set-up (Debian packages, Node 24, npm deps, pulumi/gitleaks builds)
#   ./run.sh bench    the benchmark (see BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/env.sh
source scripts/env.sh

# Set-up may install a newer Node (and build pulumi, gitleaks) into the cache: read the environment again
# afterwards, or this shell would go on with the tools it found before (the system's Node 20).
setup() {
  scripts/setup.sh "$@" || return
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
  hash -r
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup)
    setup ;;
  build)
    setup
    npx tsc -p tsconfig.json ;;
  test)
    setup
    # A clean build: a compiled test whose source is gone must not run.
    rm -rf dist
    npx tsc -p tsconfig.json
    # `./run.sh test unit`: the pure tests alone (no fleet, no engine), in seconds.
    if [ "${1:-}" = unit ]; then
      shift
      exec npx mocha --reporter ./dist/test/support/reporter.js dist/test/unit/*.test.js "$@"
    fi
    # A stray fleet from an interrupted earlier run would hold the test addresses.
    pkill -KILL -f '/usr/sbin/sshd -f /tmp/repo-sync-fleet-' 2>/dev/null || true
    status=0
    # Arguments select spec files (default: every test); e.g. ./run.sh test dist/test/unit/*.test.js
    if [ $# -eq 0 ]; then
      # The longest files first (measured), so that the two workers end together: the pool takes
      # files in this order, and a long file started last would run alone at the end.
      shopt -s globstar nullglob
      set -- dist/test/bench/bench.test.js dist/test/e2e/pulumiLifecycle.test.js dist/test/e2e/inProgram.test.js \
        dist/test/e2e/firstRun.test.js dist/test/faults/faults.test.js dist/test/integration/releases.test.js
      for f in dist/test/**/*.test.js; do
        case " $* " in *" $f "*) ;; *) set -- "$@" "$f" ;; esac
      done
    fi
    # Two test files at a time: most of a test's time is spent waiting on ssh, rsync and the Pulumi
    # engine, and every file has its own fleet addresses and Pulumi backend.
    npx mocha --parallel --jobs "${REPO_SYNC_TEST_JOBS:-2}" --reporter ./dist/test/support/reporter.js "$@" || status=$?
    # Nothing the tests started may outlive them.
    if pgrep -f '/usr/sbin/sshd -f /tmp/repo-sync-fleet-' >/dev/null; then
      echo "ERROR: sshd processes of a test fleet survived the run:" >&2
      pgrep -af '/usr/sbin/sshd -f /tmp/repo-sync-fleet-' >&2
      pkill -KILL -f '/usr/sbin/sshd -f /tmp/repo-sync-fleet-' || true
      status=1
    fi
    exit "$status" ;;
  demo)
    setup
    npx tsc -p tsconfig.json
    exec node dist/demo/demo.js "$@" ;;
  bench)
    setup --bench
    npx tsc -p tsconfig.json
    exec node dist/bench/bench.js "$@" ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    [ "$cmd" = help ] || exit 2 ;;
esac
