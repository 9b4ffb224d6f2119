import * as assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { StatusDoc, SyncDoc } from "../../cli/format";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { programProject } from "../../tools/pulumiCli";
import { MAX_MASTER_AGE_S } from "../../lib/remote/sshMaster";
import { json, runCli } from "../support/cli";

/** Fleet octets of this file: 104-105. */
const FIRST_OCTET = 104;

/** The kept masters (control sockets) in a cache folder. */
function sockets(cache: string): string[] {
  const dir = path.join(cache, "ssh");
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => fs.lstatSync(path.join(dir, f)).isSocket()) : [];
}

/** `ssh -O check` on a socket: true while a master answers there. */
function masterAnswers(socket: string): boolean {
  return spawnSync("ssh", ["-o", `ControlPath=${socket}`, "-O", "check", "x"], { stdio: "ignore" }).status === 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe("kept SSH connections (ControlPersist): the next command within the persist time pays no handshake", function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let work: string;
  let cache: string;
  let cfg: string;
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ REPO_SYNC_CACHE: cache, REPO_SYNC_SSH_PERSIST_S: "30", ...extra });
  const accepted = () => fleet.vms.map((v) => fleet.connectionCount(v.id));
  const since = (before: number[]) => accepted().map((n, i) => n - before[i]);

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: FIRST_OCTET, logLevel: "INFO" });
    repo = makeSourceRepo();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-kept-"));
    cache = path.join(work, "cache");
    cfg = writeFleetConfig(fleet, path.join(work, "config.yml"), { repoPath: repo.path });
  });
  after(async () => {
    await fleet?.stop(); // the masters end with their server's connections
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("status then sync: one accepted connection per VM for both commands, the sync's sessions and rsync on the kept master", async () => {
    const before = accepted();
    const status = await runCli(["status", "--config", cfg, "--json"], { env: env() });
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(since(before), [1, 1]);
    assert.equal(sockets(cache).length, 2, "one kept master per VM");
    for (const s of sockets(cache)) assert.equal(masterAnswers(path.join(cache, "ssh", s)), true);
    const sync = await runCli(["sync", "--config", cfg, "--json"], { env: env() });
    assert.equal(sync.code, 0, sync.stderr);
    assert.deepEqual(json<SyncDoc>(sync).results.map((r) => r.action), ["synced", "synced"]);
    for (const vm of fleet.vms) assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${repo.head()}\n`);
    assert.deepEqual(since(before), [1, 1], "the sync opened no new connection: its lock session and rsync rode the kept masters");
    // The lock of that sync ended with it: a second run takes it at once.
    const again = await runCli(["sync", "--config", cfg, "--json"], { env: env() });
    assert.deepEqual(json<SyncDoc>(again).results.map((r) => r.action), ["unchanged", "unchanged"]);
  });

  it("pulumi preview then pulumi up of a new commit: one accepted connection per VM for both commands", async () => {
    const cache2 = path.join(work, "pulumi-cache");
    const project = await programProject(cfg);
    try {
      const penv = env({ REPO_SYNC_CACHE: cache2 });
      await project.ok(["config", "set", "repo-sync:pull", "false"]);
      const next = repo.commit({ "src/app.py": "print('kept')\n" }, "kept");
      const before = accepted();
      const preview = await project.run(["preview", "--diff"], { env: penv });
      assert.equal(preview.code, 0, preview.stderr);
      assert.match(preview.stdout, /2 to update|~ 2 to update|2 updated|update/);
      await project.ok(["up", "--yes"], { env: penv });
      for (const vm of fleet.vms) assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${next}\n`);
      // The program opens each VM's master while it prepares the source; the preview's probes, the up's
      // own preview, its probes, the lock sessions and rsync all ride it.
      assert.deepEqual(since(before), [1, 1]);
    } finally {
      project.dispose();
    }
  });

  it("the sockets' folder is private: mode 700, this user's; the sockets too", () => {
    const dir = path.join(cache, "ssh");
    const st = fs.lstatSync(dir);
    assert.equal(st.isDirectory(), true);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.uid, process.getuid?.());
    for (const s of sockets(cache)) assert.equal(fs.lstatSync(path.join(dir, s)).uid, process.getuid?.());
  });

  it("another key, login or host key pin never joins a kept master", async () => {
    // Another key the VMs accept too: its own connections.
    const key2 = path.join(work, "id_other");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key2]);
    fs.appendFileSync(path.join(fleet.baseDir, "etc", "authorized_keys"), fs.readFileSync(`${key2}.pub`));
    const cfg2 = writeFleetConfig(fleet, path.join(work, "config-key2.yml"), { repoPath: repo.path, ssh: { key_path: key2 } });
    let before = accepted();
    const other = await runCli(["status", "--config", cfg2, "--json"], { env: env() });
    assert.equal(other.code, 0, other.stderr);
    assert.deepEqual(since(before), [1, 1], "another key: a handshake of its own");
    assert.equal(sockets(cache).length, 4);
    // That key file replaced in place by a key the VMs do not accept: not carried by the master the old one opened.
    fs.rmSync(key2);
    fs.rmSync(`${key2}.pub`);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key2]);
    const rotated = await runCli(["status", "--config", cfg2, "--json"], { env: env() });
    assert.deepEqual(json<StatusDoc>(rotated).statuses.map((s) => s.error?.kind), ["auth", "auth"], rotated.stdout);

    // Another login (one sshd refuses): refused on its own connection, not carried by the kept one.
    const cfgUser = writeFleetConfig(fleet, path.join(work, "config-user.yml"), { repoPath: repo.path, vms: { vm01: { ssh_user: "nobody" }, vm02: { ssh_user: "nobody" } } });
    const user = await runCli(["status", "--config", cfgUser, "--json"], { env: env() });
    assert.deepEqual(json<StatusDoc>(user).statuses.map((s) => s.error?.kind), ["auth", "auth"], user.stdout);

    // The same known_hosts file, its pin for vm01 changed: a new handshake, which refuses the VM.
    const known = fs.readFileSync(fleet.knownHostsPath, "utf8");
    const otherKey = path.join(work, "other_host");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    const wrongPin = fs.readFileSync(`${otherKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    fs.writeFileSync(fleet.knownHostsPath, known.replace(fleet.vm("vm01").hostPublicKey, wrongPin));
    try {
      const pinned = await runCli(["status", "--config", cfg, "--json"], { env: env() });
      const byVm = json<StatusDoc>(pinned).statuses;
      assert.equal(byVm.find((s) => s.vm === "vm01")?.error?.kind, "host-key", pinned.stdout);
      // vm02's pin changed too (the file is one): its own new handshake succeeds.
      assert.equal(byVm.find((s) => s.vm === "vm02")?.state, "in-sync");
      // A VM given its own host key (vms.<id>.host_key) is pinned by that key alone: a wrong one is refused too.
      fs.writeFileSync(fleet.knownHostsPath, known);
      const cfgGiven = writeFleetConfig(fleet, path.join(work, "config-given.yml"), { repoPath: repo.path, vms: { vm01: { host_key: wrongPin } } });
      before = accepted();
      const given = await runCli(["status", "--config", cfgGiven, "--json"], { env: env() });
      assert.equal(json<StatusDoc>(given).statuses.find((s) => s.vm === "vm01")?.error?.kind, "host-key", given.stdout);
    } finally {
      fs.writeFileSync(fleet.knownHostsPath, known);
    }
  });

  it("a stale socket, a planted file or another user's socket at a master's path is removed, never joined", async () => {
    const dir = path.join(cache, "ssh");
    // End every master, then leave at their paths: a stale socket (its listener gone), a plain file.
    const [a, b] = sockets(cache).slice(0, 2).map((s) => path.join(dir, s));
    for (const s of sockets(cache)) spawnSync("ssh", ["-o", `ControlPath=${path.join(dir, s)}`, "-O", "exit", "x"], { stdio: "ignore" });
    execFileSync("python3", ["-c", "import socket,sys\nfor p in sys.argv[1:]:\n s=socket.socket(socket.AF_UNIX); s.bind(p)", a]);
    fs.writeFileSync(b, "not a socket\n");
    const before = accepted();
    const status = await runCli(["status", "--config", cfg, "--json"], { env: env() });
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(json<StatusDoc>(status).statuses.map((s) => s.state), ["in-sync", "in-sync"]);
    assert.deepEqual(since(before), [1, 1]);
    // A listener of another user at a master's path (only root could put it in this folder): removed, never joined.
    const [c] = sockets(cache).map((s) => path.join(dir, s)).filter((p) => masterAnswers(p));
    spawnSync("ssh", ["-o", `ControlPath=${c}`, "-O", "exit", "x"], { stdio: "ignore" });
    const joined = path.join(work, "joined");
    const listener = spawn("python3", ["-c", "import socket,sys,os\ns=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chown(sys.argv[1], 65534, 65534); s.listen(4); print('up', flush=True)\nwhile True:\n  s.accept(); open(sys.argv[2], 'a').write('joined\\n')", c, joined], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise((resolve) => listener.stdout.once("data", resolve));
      const again = accepted();
      const run = await runCli(["status", "--config", cfg, "--json"], { env: env() });
      assert.deepEqual(json<StatusDoc>(run).statuses.map((s) => s.state), ["in-sync", "in-sync"]);
      assert.deepEqual(since(again).reduce((x, y) => x + y), 1, "the VM whose path held the listener got a connection of its own");
      assert.equal(fs.existsSync(joined), false, "nothing connected to the other user's socket");
      assert.equal(fs.lstatSync(c).uid, process.getuid?.(), "a master of this user listens there now");
    } finally {
      listener.kill("SIGKILL");
    }
  });

  it("a master opened longer ago than the age cap is retired, busy or not: the next command makes a new connection", async () => {
    // A cache of its own: only this case's masters are in it.
    const own = { ...env(), REPO_SYNC_CACHE: path.join(work, "aged-cache") };
    const warm = await runCli(["status", "--config", cfg, "--json"], { env: own });
    assert.equal(warm.code, 0, warm.stderr);
    const kept = sockets(own.REPO_SYNC_CACHE).map((s) => path.join(own.REPO_SYNC_CACHE, "ssh", s));
    assert.equal(kept.length, 2);
    const joined = accepted();
    await runCli(["status", "--config", cfg, "--json"], { env: own });
    assert.deepEqual(since(joined), [0, 0], "young masters are joined");
    // As if opened 11 minutes ago (a socket's mtime is when its master bound it).
    const old = new Date(Date.now() - (MAX_MASTER_AGE_S + 60) * 1000);
    for (const s of kept) fs.utimesSync(s, old, old);
    const before = accepted();
    const run = await runCli(["status", "--config", cfg, "--json"], { env: own });
    assert.deepEqual(json<StatusDoc>(run).statuses.map((x) => x.state), ["in-sync", "in-sync"]);
    assert.deepEqual(since(before), [1, 1], "a new handshake per VM");
    for (const s of kept) assert.ok(Date.now() - fs.lstatSync(s).mtimeMs < 60_000, "a new master listens at the path");
    for (const s of kept) spawnSync("ssh", ["-o", `ControlPath=${s}`, "-O", "exit", "x"], { stdio: "ignore" });
  });

  it("a kept master exits on its own after the persist time", async () => {
    const short = path.join(work, "short-cache");
    const status = await runCli(["status", "--config", cfg, "--json"], { env: { ...env(), REPO_SYNC_CACHE: short, REPO_SYNC_SSH_PERSIST_S: "2" } });
    assert.equal(status.code, 0, status.stderr);
    const kept = sockets(short).map((s) => path.join(short, "ssh", s));
    assert.equal(kept.length, 2);
    for (const s of kept) assert.equal(masterAnswers(s), true);
    await sleep(4_000);
    for (const s of kept) {
      assert.equal(masterAnswers(s), false, "the master is gone");
      assert.equal(fs.existsSync(s), false, "and its socket with it");
    }
  });
});
