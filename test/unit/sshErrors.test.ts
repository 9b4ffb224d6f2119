import * as assert from "node:assert/strict";
import type { Target } from "../../lib/config/types";
import { isRepoSyncError } from "../../lib/errors";
import { connectionFailure, hostKeyProblem, sshFailure } from "../../lib/remote/sshErrors";
import { TargetProbe, TargetSession } from "../../lib/target/session";

/** stderr of OpenSSH 9.2 (Debian 12) with LogLevel=ERROR, captured against the test fleet. */
const CHANGED = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:qwqlLacKOjEoch/hVJDTGl/KWmiwXfXMebKoZTzW6Oc.
Please contact your system administrator.
Add correct host key in /tmp/kh_changed to get rid of this message.
Offending ED25519 key in /tmp/kh_changed:1
  remove with:
  ssh-keygen -f "/tmp/kh_changed" -R "127.0.0.170"
Host key for 127.0.0.170 has changed and you have requested strict checking.
Host key verification failed.
`;
const REVOKED = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@       WARNING: REVOKED HOST KEY DETECTED!               @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
The ED25519 host key for 127.0.0.170 is marked as revoked.
This could mean that a stolen key is being used to
impersonate this host.
ED25519 host key for 127.0.0.170 was revoked and you have requested strict checking.
Host key verification failed.
`;

const CASES: Array<[string, string, string, RegExp]> = [
  ["changed host key", CHANGED, "host-key", /^the host key of reposync@127\.0\.0\.170:22 does not match the one pinned in \/kh \(possible man in the middle/],
  ["unknown host key", "No ED25519 host key is known for 127.0.0.170 and you have requested strict checking.\nHost key verification failed.\n", "host-key", /is not in \/kh$/],
  ["revoked host key", REVOKED, "host-key", /is marked @revoked in \/kh$/],
  ["key refused", "reposync@127.0.0.170: Permission denied (publickey).\n", "auth", /^reposync@127\.0\.0\.170:22 refused the SSH key \/id$/],
  ["key file unusable", 'Load key "/tmp/badkey": error in libcrypto\nreposync@127.0.0.170: Permission denied (publickey).\n', "config", /^the SSH key \/id cannot be used/],
  ["key file readable by others", "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nPermissions 0644 for '/tmp/openkey' are too open.\nIt is required that your private key files are NOT accessible by others.\nThis private key will be ignored.\nLoad key \"/tmp/openkey\": bad permissions\nreposync@127.0.0.170: Permission denied (publickey).\n", "config", /^the SSH key \/id is accessible by group or others/],
  ["refused", "ssh: connect to host 127.0.0.199 port 22: Connection refused\n", "unreachable", /^connection to reposync@127\.0\.0\.170:22 refused \(no SSH server listening\)$/],
  ["unresolvable", "ssh: Could not resolve hostname no-such-host.invalid: Name or service not known\n", "unreachable", /^127\.0\.0\.170 cannot be reached$/],
  ["silent listener", "Connection timed out during banner exchange\n", "timeout", /^no SSH handshake with reposync@127\.0\.0\.170:22 within 5 s$/],
  ["dropped packets", "ssh: connect to host 10.255.255.1 port 22: Connection timed out\n", "timeout", /^no SSH handshake/],
  ["no ssh on this machine", "cannot start ssh: spawn ssh ENOENT", "transfer", /^the OpenSSH client \(ssh\) cannot be started on this machine$/],
  // The same failures as rsync reports them (its own lines around ssh's; exit 255 or 12).
  ["rsync: unknown host key", "Host key verification failed.\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]\nrsync error: unexplained error (code 255) at io.c(232) [sender=3.5.0]", "host-key", /is not in \/kh$/],
  ["rsync: changed host key (exit 12)", "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\nrsync error: error in rsync protocol data stream (code 12) at io.c(232) [sender=3.5.0]", "host-key", /does not match the one pinned/],
  ["rsync: key refused", "reposync@127.0.0.11: Permission denied (publickey).\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]", "auth", /refused the SSH key/],
  ["rsync: refused", "ssh: connect to host 127.0.0.13 port 22: Connection refused\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]", "unreachable", /refused \(no SSH server listening\)$/],
  ["something else", "kex_exchange_identification: read: Connection reset by peer\n", "unreachable", /^SSH connection to reposync@127\.0\.0\.170:22 failed$/],
];

const target = { vm: "vm01", host: "127.0.0.170", port: 22, user: "reposync", path: "/srv/app", keyPath: "/id", knownHostsPath: "/kh", acceptNewHostKeys: false, connectTimeoutS: 5 } as Target;

describe("OpenSSH connection failures (pure, from captured stderr)", () => {
  it("transfer-level failures are not connection failures (rsync's classifier takes them)", () => {
    for (const stderr of ["[sender] io timeout after 30 seconds -- exiting", 'rsync: [receiver] mkstemp "/srv/app/.a.txt.XXXXXX" failed: Permission denied (13)', "Connection to 127.0.0.12 closed by remote host."]) {
      assert.equal(connectionFailure(target, 23, stderr, []), undefined, stderr);
    }
  });

  for (const [name, stderr, kind, reason] of CASES) {
    it(name, () => {
      const e = sshFailure(target, 255, stderr, ["ssh", "127.0.0.170"]);
      assert.equal(e.kind, kind);
      assert.match(e.reason, reason);
      assert.equal(e.vm, "vm01");
      assert.equal(e.exitCode, 255);
      assert.deepEqual(e.command, ["ssh", "127.0.0.170"]);
      assert.ok(e.hint, "every failure says how to fix it");
    });
  }

  it("the fix for a changed key names the known_hosts entry to remove ([host]:port off 22)", () => {
    assert.match(sshFailure(target, 255, CHANGED, []).hint ?? "", /ssh-keygen -R 127\.0\.0\.170 -f \/kh/);
    assert.match(sshFailure({ ...target, port: 2222 }, 255, CHANGED, []).hint ?? "", /ssh-keygen -R '\[127\.0\.0\.170\]:2222' -f \/kh/);
  });

  it("host key refusals are told apart", () => {
    assert.deepEqual([CHANGED, REVOKED, "Host key verification failed.", "Permission denied (publickey)."].map(hostKeyProblem), ["changed", "revoked", "unknown", undefined]);
    // With a given hostKey: both fingerprints named, and no advice to edit repo-sync's private pin file.
    const given = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYZgabCX4gQ+mp4oHkyGjv5pqwCJqxzQg8JJ6SVPq52";
    const err = connectionFailure({ ...target, hostKey: given }, 255, CHANGED, ["ssh"]);
    assert.match(err?.message ?? "", /is not the hostKey given for vm01 \(ssh-ed25519 SHA256:[^)]+\); the VM shows ED25519 SHA256:qwqlLacKOjEoch\/hVJDTGl\/KWmiwXfXMebKoZTzW6Oc; refused/);
    assert.doesNotMatch(err?.stderr ?? "", /Add correct host key|remove with|ssh-keygen -f/);
    assert.match(err?.stderr ?? "", /REMOTE HOST IDENTIFICATION HAS CHANGED/);
  });

  it("a key file that cannot be used is named before any connection is tried (OpenSSH would say only \"Permission denied\")", async () => {
    for (const keyPath of ["/nonexistent/id_ed25519", "/"]) {
      const t = { ...target, host: "127.0.0.254", keyPath };
      await assert.rejects(TargetProbe.open(t), (e: unknown) => isRepoSyncError(e) && e.kind === "config" && /cannot use the SSH key for reposync@127\.0\.0\.254:22: \//.test(e.message));
      await assert.rejects(TargetSession.open(t, 0), (e: unknown) => isRepoSyncError(e) && e.kind === "config");
    }
  });
});

describe("sudo on the VM (stderr of sudo 1.9.13)", () => {
  const t = { vm: "vm01", host: "10.0.0.11", port: 22, user: "deploy", keyPath: "/k", knownHostsPath: "/kh", connectTimeoutS: 10, acceptNewHostKeys: false, path: "/srv/app", sudo: true };
  const cases: Array<[string, string, string, RegExp]> = [
    ["password", "sudo: a password is required\n", "auth", /sudo on vm01 asks deploy for a password.*deploy ALL=\(root\) NOPASSWD: \/bin\/sh, \/usr\/bin\/rsync/s],
    ["not allowed", "Sorry, user deploy is not allowed to execute '/bin/sh -c x' as root on vm01.\nsudo: ...\n", "auth", /does not allow deploy to run repo-sync's commands as root/],
    ["no sudo", "sh: 1: sudo: not found\n", "config", /vm01 has no sudo/],
  ];
  for (const [name, stderr, kind, message] of cases) {
    it(name, () => {
      const e = connectionFailure(t, 1, stderr, ["ssh"]);
      assert.equal(e?.kind, kind);
      assert.match(`${e?.message}`, message);
    });
  }
  it("is not read into a target without sudo", () => assert.equal(connectionFailure({ ...t, sudo: undefined }, 1, "sudo: a password is required\n", ["ssh"]), undefined));
});
