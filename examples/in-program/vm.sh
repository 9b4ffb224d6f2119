#!/usr/bin/env bash
# A stand-in for a cloud VM, so that the example runs on one machine: an OpenSSH server on its own
# loopback address, created and deleted by the program's local.Command resources.
#   vm.sh up   ID ADDRESS DIR PUBKEY   start it; print its address (the "public IP" output), then its
#                                      public host key (`ssh-ed25519 AAAA...`, as a cloud VM publishes
#                                      it: cloud-init, the console output), on a second line
#   vm.sh down ID ADDRESS DIR          stop it and forget its files
# The program passes that key to repo-sync (hosts.<id>.hostKey), which trusts exactly it: no
# known_hosts file anywhere.
# sshd's privilege separation needs root: run the example as root (or swap in real VMs).
set -euo pipefail
cmd=$1 id=$2 addr=$3 dir=$4
vm="$dir/$id"
case "$cmd" in
  up)
    pubkey=$5
    mkdir -p "$vm/files"
    chmod 700 "$dir"
    [ -f "$vm/host_key" ] || ssh-keygen -q -t ed25519 -N "" -C "$id" -f "$vm/host_key"
    cp "$pubkey" "$vm/authorized_keys"
    cat > "$vm/sshd_config" <<CONF
ListenAddress $addr
Port 22
HostKey $vm/host_key
PidFile $vm/sshd.pid
AuthorizedKeysFile $vm/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
LogLevel ERROR
CONF
    # sshd forks into the background once it listens.
    /usr/sbin/sshd -f "$vm/sshd_config" -E "$vm/sshd.log"
    echo "$addr"
    cut -d' ' -f1,2 "$vm/host_key.pub" ;;
  down)
    [ -f "$vm/sshd.pid" ] && kill "$(cat "$vm/sshd.pid")" 2>/dev/null || true
    rm -rf "$vm" ;;
  *)
    echo "usage: vm.sh up|down ID ADDRESS DIR [PUBKEY]" >&2; exit 2 ;;
esac
