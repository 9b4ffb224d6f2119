/**
 * Kept SSH connections, the parts decided without a VM: how long a master stays, what names its
 * socket (everything that identifies the connection, contents included), the config files read, and
 * the fleet harness's addresses for big fleets.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Target } from "../../lib/config/types";
import { RepoSyncError } from "../../lib/errors";
import { includeArgs } from "../../lib/remote/sshConfigFiles";
import { connectionIdentity, keptConnection, openingElsewhere, persistSeconds, resetKeptConnections, whileOpeningElsewhere } from "../../lib/remote/sshMaster";
import { fleetAddresses } from "../../tools/fleet/fleet";

describe("kept SSH connections (pure parts)", () => {
  let dir: string;
  let base: Target;
  const saved = { cache: process.env.REPO_SYNC_CACHE, persist: process.env.REPO_SYNC_SSH_PERSIST_S };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-master-"));
    for (const k of ["id_a", "id_b"]) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, k)]);
    fs.writeFileSync(path.join(dir, "known_hosts"), "10.1.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n");
    base = { vm: "vm01", host: "10.1.0.11", port: 22, user: "deploy", keyPath: path.join(dir, "id_a"), knownHostsPath: path.join(dir, "known_hosts"), connectTimeoutS: 10, acceptNewHostKeys: false, path: "/srv/app", noUserSshConfig: true };
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const [k, v] of [["REPO_SYNC_CACHE", saved.cache], ["REPO_SYNC_SSH_PERSIST_S", saved.persist]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetKeptConnections();
  });

  it("persist time: 60 s by default, 0 keeps none, anything but 0..3600 whole seconds is a config error naming the variable", () => {
    assert.equal(persistSeconds({}), 60);
    assert.equal(persistSeconds({ REPO_SYNC_SSH_PERSIST_S: "0" }), 0);
    assert.equal(persistSeconds({ REPO_SYNC_SSH_PERSIST_S: "3600" }), 3600);
    for (const bad of ["-1", "3601", "1.5", "60s", " 60", "abc"]) {
      assert.throws(() => persistSeconds({ REPO_SYNC_SSH_PERSIST_S: bad }), (e: unknown) => e instanceof RepoSyncError && e.kind === "config" && /REPO_SYNC_SSH_PERSIST_S/.test(e.message), bad);
    }
  });

  it("the socket's name changes with the user, host, port, key, known_hosts, host key checking, jump hosts and config, and with the key's and known_hosts' contents", () => {
    const id = connectionIdentity(base);
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(connectionIdentity({ ...base }), id, "stable");
    assert.equal(connectionIdentity({ ...base, path: "/srv/other", vm: "vm09" }), id, "what is done on the VM is not the connection");
    const variants: Array<[string, Partial<Target>]> = [
      ["user", { user: "other" }], ["host", { host: "10.1.0.12" }], ["port", { port: 2222 }], ["key path", { keyPath: path.join(dir, "id_b") }],
      ["known_hosts path", { knownHostsPath: path.join(dir, "kh2") }], ["TOFU", { acceptNewHostKeys: true }], ["timeout", { connectTimeoutS: 11 }],
      ["user config read", { noUserSshConfig: false }], ["jump host", { jumpHosts: [{ host: "10.0.0.5", port: 22, user: "jump", keyPath: path.join(dir, "id_b") }] }],
    ];
    const seen = new Set([id]);
    for (const [what, over] of variants) {
      const other = connectionIdentity({ ...base, ...over });
      assert.equal(seen.has(other), false, what);
      seen.add(other);
    }
    assert.notEqual(connectionIdentity(base, "/opt/ssh"), id, "another ssh program");
    // The same paths, other contents: a key rotated in place, a pin changed.
    fs.copyFileSync(path.join(dir, "id_b"), path.join(dir, "id_a"));
    const rotated = connectionIdentity(base);
    assert.notEqual(rotated, id, "key rotated in place");
    fs.appendFileSync(path.join(dir, "known_hosts"), "10.1.0.12 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n");
    assert.notEqual(connectionIdentity(base), rotated, "known_hosts changed");
  });

  it("the socket lives in <cache>/ssh (mode 700) when short enough, else /tmp/repo-sync-<uid>/ssh; none is kept with 0", () => {
    process.env.REPO_SYNC_CACHE = path.join(dir, "cache");
    delete process.env.REPO_SYNC_SSH_PERSIST_S;
    resetKeptConnections();
    const kept = keptConnection(base);
    assert.equal(kept?.persistS, 60);
    assert.equal(path.dirname(kept?.controlPath ?? ""), path.join(dir, "cache", "ssh"));
    assert.equal(fs.statSync(path.join(dir, "cache", "ssh")).mode & 0o777, 0o700);
    process.env.REPO_SYNC_CACHE = path.join(dir, "a-cache-folder-whose-path-is-far-too-long-for-a-unix-socket-name-to-fit");
    resetKeptConnections();
    const long = keptConnection(base);
    assert.equal(path.dirname(long?.controlPath ?? ""), path.join("/tmp", `repo-sync-${process.getuid?.()}`, "ssh"));
    assert.ok((long?.controlPath.length ?? 999) <= 88);
    process.env.REPO_SYNC_SSH_PERSIST_S = "0";
    assert.equal(keptConnection(base), undefined);
  });

  it("a jump hosts' file or a claim left a day ago beside no master is swept; a fresh one, or one beside a socket, stays", () => {
    const cache = path.join(dir, "sweep-cache");
    fs.mkdirSync(path.join(cache, "ssh"), { recursive: true, mode: 0o700 });
    fs.chmodSync(cache, 0o700);
    const file = (n: string, ageH: number) => {
      const p = path.join(cache, "ssh", n);
      fs.writeFileSync(p, "x", { mode: 0o600 });
      const t = (Date.now() - ageH * 3600_000) / 1000;
      fs.utimesSync(p, t, t);
      return p;
    };
    const a = "a".repeat(32), b = "b".repeat(32), c = "c".repeat(32);
    const old = [file(`${a}.jump.conf`, 30), file(`${a}.opening`, 30)];
    const fresh = file(`${b}.jump.conf`, 1);
    const besideMaster = [file(c, 30), file(`${c}.jump.conf`, 30)];
    process.env.REPO_SYNC_CACHE = cache;
    delete process.env.REPO_SYNC_SSH_PERSIST_S;
    resetKeptConnections();
    keptConnection(base);
    for (const p of old) assert.equal(fs.existsSync(p), false, p);
    for (const p of [fresh, ...besideMaster]) assert.equal(fs.existsSync(p), true, p);
  });

  it("a folder others can write is never used for the sockets", () => {
    process.env.REPO_SYNC_CACHE = path.join(dir, "open-cache");
    delete process.env.REPO_SYNC_SSH_PERSIST_S;
    fs.mkdirSync(path.join(dir, "open-cache", "ssh"), { recursive: true, mode: 0o700 });
    fs.chmodSync(path.join(dir, "open-cache", "ssh"), 0o777);
    resetKeptConnections();
    const kept = keptConnection(base);
    assert.notEqual(path.dirname(kept?.controlPath ?? "/open-cache/ssh/x"), path.join(dir, "open-cache", "ssh"));
  });

  it("a master being opened is waited for; a claim its opener left when it died is not, even once its pid names another live process", async () => {
    const socket = path.join(dir, "claimed");
    const claim = `${socket}.opening`;
    const limitMs = 3_000;
    // Another live process of this user: what a dead opener's pid may name by now (pid reuse).
    const other = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      fs.writeFileSync(claim, String(other.pid), { mode: 0o600 });
      assert.equal(openingElsewhere(socket, limitMs), true, "a fresh claim of a live process: being opened");
      // Its opener gives up (kills its ssh) after the limit: a claim far older than that is stale.
      const old = (Date.now() - limitMs - 60_000) / 1000;
      fs.utimesSync(claim, old, old);
      const started = Date.now();
      await whileOpeningElsewhere(socket, limitMs);
      assert.ok(Date.now() - started < 1_000, `waited ${Date.now() - started} ms for a claim its opener left long ago`);
      assert.equal(fs.existsSync(claim), false, "the stale claim is removed");
      // Created, its pid not yet written: being opened, not stale.
      fs.writeFileSync(claim, "", { mode: 0o600 });
      assert.equal(openingElsewhere(socket, limitMs), true, "a claim being written");
      assert.equal(fs.existsSync(claim), true);
    } finally {
      other.kill("SIGKILL");
      fs.rmSync(claim, { force: true });
    }
  });

  it("reads the words of an Include line as ssh does", () => {
    assert.deepEqual(includeArgs("Include config.d/*"), ["config.d/*"]);
    assert.deepEqual(includeArgs("  include=~/.ssh/a \"/etc/with space/b\" # note"), ["~/.ssh/a", "/etc/with space/b"]);
    assert.equal(includeArgs("Host include"), undefined);
  });

  it("fleet addresses: 127.0.0.x from an octet as before; from a given address on, past .254 into the next block", () => {
    assert.deepEqual(fleetAddresses(2), ["127.0.0.11", "127.0.0.12"]);
    assert.deepEqual(fleetAddresses(2, { firstOctet: 250 }), ["127.0.0.250", "127.0.0.251"]);
    assert.throws(() => fleetAddresses(10, { firstOctet: 250 }), /runs past 127\.0\.0\.254/);
    const big = fleetAddresses(128, { firstAddress: "127.0.1.2" });
    assert.equal(big.length, 128);
    assert.equal(new Set(big).size, 128);
    assert.deepEqual([big[0], big[127]], ["127.0.1.2", "127.0.1.129"]);
    assert.deepEqual(fleetAddresses(3, { firstAddress: "127.0.1.253" }), ["127.0.1.253", "127.0.1.254", "127.0.2.1"]);
    assert.throws(() => fleetAddresses(1, { firstAddress: "10.0.0.1" }), /loopback/);
    assert.throws(() => fleetAddresses(1, { firstAddress: "127.0.1.2", firstOctet: 3 }), /not both/);
  });
});
