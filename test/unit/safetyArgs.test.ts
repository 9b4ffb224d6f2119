import * as assert from "node:assert/strict";
import { invalidSshFilePathReason, unsafeTargetPathReason } from "../../lib/config/safety";
import type { Target } from "../../lib/config/types";
import { rsyncPushArgs, rsyncRemoteShell, sshFileOption } from "../../lib/transfer/rsyncArgs";

const target = (over: Partial<Target> = {}): Target => ({
  vm: "vm01", host: "10.0.0.11", port: 22, user: "deploy", keyPath: "/home/me/.ssh/id_ed25519", knownHostsPath: "/home/me/.ssh/known_hosts",
  connectTimeoutS: 10, acceptNewHostKeys: false, path: "/srv/app/current", ...over,
});
const spec = { sourceDir: "/cache/tree", excludes: ["node_modules"], excludeDotGit: false, ioTimeoutS: 60 };

describe("path safety and rsync/ssh argv (pure)", () => {
  const refusedPaths: Array<[string, RegExp]> = [
    ["/srv/x/app[1]", /wildcard/], ["/srv/x/app*", /wildcard/], ["/srv/x/app?", /wildcard/], ["/srv/x/{a,b}", /wildcard/], ["/srv/x/a]b", /wildcard/],
    ["/srv/x/$HOME", /\$/], ["/srv/x/a'b", /quote/], ["/srv/x/a\\b", /backslash/], ["/srv/x/a\nb", /control/],
    ["/srv", /system directory/], ["/srv/x/../y", /\.\./], ["relative/path", /relative/], ["~/app", /~/], ["/srv/-rf", /starting with `-`/],
  ];
  for (const [p, why] of refusedPaths) it(`refuses target path ${JSON.stringify(p)}`, () => assert.match(unsafeTargetPathReason(p) ?? "", why));
  for (const p of ["/srv/my app", "/srv/x/a;b&c|d", "/srv/x/pct%d=1,@+:x", "/srv/x/ünï <>", "/opt/app/semi (1)#!"]) {
    it(`accepts target path ${JSON.stringify(p)} (passed literally)`, () => assert.equal(unsafeTargetPathReason(p), undefined));
  }

  it("ssh file options are quoted and %-escaped; what ssh would mangle is refused", () => {
    assert.equal(sshFileOption("UserKnownHostsFile", "/a dir/known hosts %h"), 'UserKnownHostsFile="/a dir/known hosts %%h"');
    for (const bad of ['/a"b', "/a'b", "/a\\b", "/a/${HOME}/k", "/a\tb"]) {
      assert.ok(invalidSshFilePathReason(bad), bad);
      assert.throws(() => sshFileOption("IdentityFile", bad), /IdentityFile path/);
    }
  });

  it("rsync's -e value keeps a spaced option value as one word", () => {
    const e = rsyncRemoteShell(target({ knownHostsPath: "/k h/known_hosts", keyPath: "/k h/id" }));
    assert.ok(e.includes(`-o 'UserKnownHostsFile="/k h/known_hosts"'`), e);
    assert.ok(e.includes(`-o 'IdentityFile="/k h/id"'`), e);
  });

  it("push argv: own names excluded, checksum on request, and an unsafe path refused at the last step", () => {
    const args = rsyncPushArgs(target(), { ...spec, checksum: true, maxDelete: 5 });
    for (const a of ["--exclude=/.sync_rev", "--exclude=/.sync_rev.*", "--exclude=/.repo-sync.*", "--checksum", "--max-delete=5", "--protect-args"]) assert.ok(args.includes(a), a);
    assert.equal(args.at(-1), "10.0.0.11:/srv/app/current/");
    assert.equal(rsyncPushArgs(target(), spec).includes("--checksum"), false);
    assert.throws(() => rsyncPushArgs(target({ path: "/srv/x/app[1]" }), spec), /wildcard/);
  });

  it("push argv: --info=progress2 only for a push that asks for progress", () => {
    assert.equal(rsyncPushArgs(target(), { ...spec, progress: true }).includes("--info=progress2"), true);
    assert.equal(rsyncPushArgs(target(), { ...spec, progress: true }, true).includes("--info=progress2"), false);
    assert.equal(rsyncPushArgs(target(), spec).includes("--info=progress2"), false);
    // Both at once (the CLI on a terminal, the provider): neither displaces the other.
    const both = rsyncPushArgs(target({ bwlimitKbps: 256 }), { ...spec, progress: true });
    assert.deepEqual([both.includes("--info=progress2"), both.includes("--bwlimit=256")], [true, true]);
  });

  it("push argv: --bwlimit for a real transfer of a limited VM, never for a dry run (it moves no file data)", () => {
    assert.equal(rsyncPushArgs(target({ bwlimitKbps: 512 }), spec).includes("--bwlimit=512"), true);
    assert.equal(rsyncPushArgs(target({ bwlimitKbps: 512 }), spec, true).some((a) => a.startsWith("--bwlimit")), false);
    assert.equal(rsyncPushArgs(target(), spec).some((a) => a.startsWith("--bwlimit")), false);
  });

  it("push argv: sudo -n rsync on the VM, ownership and modes only when asked for", () => {
    const plain = rsyncPushArgs(target(), spec);
    assert.deepEqual([plain.includes("--no-owner"), plain.includes("--no-group"), plain.some((a) => /^--(chown|chmod|rsync-path)/.test(a))], [true, true, false]);
    const owned = rsyncPushArgs(target({ sudo: true }), { ...spec, owner: "svc", group: "www-data", chmod: "D2775,F664" });
    for (const a of ["--owner", "--group", "--chown=svc:www-data", "--chmod=D2775,F664", "--rsync-path=sudo -n rsync"]) assert.ok(owned.includes(a), a);
    const groupOnly = rsyncPushArgs(target({ rsyncPath: "/opt/rsync/bin/rsync" }), { ...spec, group: "www-data" });
    for (const a of ["--no-owner", "--group", "--chown=:www-data", "--rsync-path=/opt/rsync/bin/rsync"]) assert.ok(groupOnly.includes(a), a);
    assert.throws(() => rsyncPushArgs(target({ rsyncPath: "/usr/bin/rsync; rm -rf /" }), spec), /rsync path/);
  });

  it("push argv: --delay-updates unless told there is nothing to keep; over a shared connection when given one", () => {
    assert.equal(rsyncPushArgs(target(), spec).includes("--delay-updates"), true);
    assert.equal(rsyncPushArgs(target(), { ...spec, delayUpdates: false }).includes("--delay-updates"), false);
    const shell = (a: string[]) => a[a.indexOf("-e") + 1];
    assert.match(shell(rsyncPushArgs(target(), spec)), /-o ControlMaster=no -o ControlPath=none /);
    assert.match(shell(rsyncPushArgs(target(), spec, false, "/tmp/repo-sync-ssh-x/m")), /-o ControlMaster=no -o 'ControlPath="\/tmp\/repo-sync-ssh-x\/m"' /);
  });
});
