/**
 * Faults: each case breaks something real mid-run, then checks what the targets hold (bytes and
 * markers), what was reported, and that the next run converges. Figures feed the README's table.
 */
import * as assert from "node:assert/strict";
import type { SyncDoc, StatusDoc } from "../../cli/format";
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { FleetConfigOptions, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { loadConfig } from "../../lib/config/load";
import { readProcStat } from "../../lib/process/procStat";
import { TargetSession } from "../../lib/target/session";
import { json, runCli } from "../support/cli";
import { PROJECT_ROOT, programProject } from "../../tools/pulumiCli";


/** Waits until `check` is true (polling), or fails after `ms`. */
async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** rsync --delay-updates stages files in `.~tmp~` (beside them, here in big/) while a transfer is under way. */
const transferring = (dir: string) => fs.existsSync(path.join(dir, ".~tmp~")) || fs.existsSync(path.join(dir, "big", ".~tmp~"));

/** ~`mb` MB of incompressible files, so that a transfer lasts long enough to be interrupted. */
function bigFiles(mb: number, tag: string): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < mb / 2; i++) files[`big/${tag}-${i}.bin`] = randomBytes(2 << 20);
  return files;
}

/**
 * PIDs of live processes whose command line contains `pattern` (only orphans: parent is init), and,
 * with `cwd`, that run in that folder (other test files may run Pulumi at the same time).
 */
function processes(pattern: string, onlyOrphans: boolean, cwd?: string): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const st = readProcStat(pid);
      if (st && cmd.includes(pattern) && (!onlyOrphans || st.ppid === 1) && st.state !== "Z" && (!cwd || fs.readlinkSync(`/proc/${pid}/cwd`) === cwd)) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

function startCli(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(path.join(PROJECT_ROOT, "bin", "repo-sync"), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  return { child, done: new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr }))) };
}

describe("faults: nothing lost, nothing misreported, the next run converges", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  const writeCfg = (opts: Partial<FleetConfigOptions> = {}) => writeFleetConfig(fleet, cfg, { repoPath: repo.path, ...opts });
  const marker = (vm: string) => {
    const p = path.join(fleet.vm(vm).targetPath, ".sync_rev");
    return fs.existsSync(p) ? fs.readFileSync(p, "utf8").trim() : undefined;
  };
  /** Every VM holding a marker holds exactly that commit's tree (rsync dry run finds no difference). */
  async function noMarkerLies(): Promise<void> {
    for (const vm of fleet.vms) {
      const m = marker(vm.id);
      if (!m) continue;
      // Compare the target with the tree of the commit its marker names.
      repo.git("branch", "-f", "marker-check", m);
      const st = json<StatusDoc>(await runCli(["status", vm.id, "--branch", "marker-check", "--config", cfg, "--json"]));
      assert.equal(st.statuses[0].in_sync, true, `${vm.id}: .sync_rev says ${m} but the tree differs: ${JSON.stringify(st.statuses[0])}`);
    }
  }

  before(async () => {
    fleet = await startFleet({ count: 3, firstOctet: 101 });
    repo = makeSourceRepo();
    cfg = path.join(fleet.baseDir, "config.yml");
    writeCfg({ repository: { io_timeout_s: 10 } });
    assert.equal((await runCli(["sync", "--config", cfg])).code, 0);
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("sshd of one VM killed mid-transfer: that VM's error names it, its marker never claims the new commit, the others finish, the next run completes it", async () => {
    const old = repo.head();
    const next = repo.commit(bigFiles(60, "a"), "big a");
    const run = startCli(["sync", "--config", cfg, "--json"]);
    await waitFor(() => transferring(fleet.vm("vm02").targetPath), 60_000, "vm02's transfer to start");
    await fleet.killVm("vm02");
    const r = await run.done;
    assert.equal(r.code, 1, r.stderr);
    const doc = json<SyncDoc>(r);
    const vm02 = doc.results.find((x) => x.vm === "vm02");
    assert.equal(vm02?.action, "failed");
    assert.match(vm02?.error?.message ?? "", /^vm02: /);
    assert.ok(marker("vm02") === undefined || marker("vm02") === old, `vm02 marker: ${marker("vm02")}`);
    assert.equal(marker("vm01"), next);
    assert.equal(marker("vm03"), next);
    await fleet.startVm("vm02");
    assert.equal((await runCli(["sync", "--config", cfg])).code, 0);
    assert.equal(marker("vm02"), next);
    await noMarkerLies();
  });

  it("`pulumi up` killed with SIGKILL mid-transfer: no marker lies, and the next up converges", async () => {
    const project = await programProject(cfg);
    try {
      await project.ok(["up", "--yes", "--skip-preview"]);
      // A few MB at a low rate: the transfer is surely under way when the engine dies (no need for bulk).
      const next = repo.commit(bigFiles(6, "b"), "big b");
      writeCfg({ repository: { io_timeout_s: 10, bwlimit_kbps: 1024 } });
      const child = spawn("pulumi", ["up", "--yes", "--non-interactive"], { cwd: project.dir, env: project.env, stdio: "ignore" });
      await waitFor(() => fleet.vms.some((vm) => transferring(vm.targetPath)), 90_000, "a transfer to start");
      child.kill("SIGKILL");
      writeCfg({ repository: { io_timeout_s: 10 } });
      await new Promise((r) => child.on("close", r));
      // The orphaned provider notices that the engine is gone and exits, dropping its sessions.
      await waitFor(() => processes("cmd/dynamic-provider", false, project.dir).length === 0, 15_000, "the orphaned provider to exit");
      await noMarkerLies();
      // The DIY backend keeps the killed run's lock; `pulumi cancel` removes it (documented in the README).
      await project.run(["cancel", "--yes"]);
      const up = await project.run(["up", "--yes", "--skip-preview"]);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      for (const vm of fleet.vms) assert.equal(marker(vm.id), next, vm.id);
      assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
    } finally {
      // pulumi's own orphan (the language host) does not exit by itself.
      for (const pid of processes("pulumi-language-nodejs", true, project.dir)) process.kill(pid, "SIGKILL");
      project.dispose();
    }
  });

  it("a VM that refuses connections, and one that accepts but never answers: bounded, reported, the others converge", async () => {
    const silent = net.createServer(() => undefined); // accepts, never sends a banner
    await new Promise<void>((r) => silent.listen(22, "127.0.0.109", r));
    const kh = fs.readFileSync(fleet.knownHostsPath, "utf8");
    fs.appendFileSync(fleet.knownHostsPath, `127.0.0.108 ${fleet.vm("vm01").hostPublicKey}\n127.0.0.109 ${fleet.vm("vm01").hostPublicKey}\n`);
    const doc = (await import("yaml")).parse(fs.readFileSync(cfg, "utf8")) as { vms: Record<string, unknown>; repository: { vm_repo_paths: Record<string, string> }; ssh: Record<string, unknown> };
    doc.vms.vm08 = { host: "127.0.0.108", ssh_user: fleet.vm("vm01").user };
    doc.vms.vm09 = { host: "127.0.0.109", ssh_user: fleet.vm("vm01").user };
    doc.repository.vm_repo_paths.vm08 = "/srv/nowhere/app";
    doc.repository.vm_repo_paths.vm09 = "/srv/nowhere/app9"; // vm08 and vm09 borrow one host key: one machine to the overlap check
    doc.ssh.connect_timeout_s = 2;
    const hostile = path.join(fleet.baseDir, "hostile.yml");
    fs.writeFileSync(hostile, (await import("yaml")).stringify(doc));
    try {
      const next = repo.commit({ "src/app.py": "print('v-hang')\n" }, "v-hang");
      const started = Date.now();
      const r = await runCli(["sync", "--config", hostile, "--json"]);
      const took = Date.now() - started;
      assert.equal(r.code, 1);
      const res = json<SyncDoc>(r).results;
      assert.equal(res.find((x) => x.vm === "vm08")?.error?.kind, "unreachable");
      assert.equal(res.find((x) => x.vm === "vm09")?.error?.kind, "timeout");
      assert.match(res.find((x) => x.vm === "vm09")?.error?.message ?? "", /^vm09: no SSH handshake with reposync@127\.0\.0\.109:22 within 2 s/);
      assert.ok(took < 30_000, `bounded: took ${took} ms`);
      for (const vm of fleet.vms) assert.equal(marker(vm.id), next, vm.id);
    } finally {
      silent.close();
      fs.writeFileSync(fleet.knownHostsPath, kh);
    }
  });

  it("target permission errors: a read-only directory and a path that is a file give clear errors and no marker", async () => {
    const ro = path.join(fleet.vm("vm01").root, "readonly");
    fs.mkdirSync(ro, { recursive: true, mode: 0o755 }); // owned by root: the VM user cannot write
    const file = path.join(fleet.vm("vm02").root, "afile");
    fs.writeFileSync(file, "not a directory\n");
    writeCfg({ repository: { vm_repo_paths: { vm01: ro, vm02: file, vm03: fleet.vm("vm03").targetPath } } });
    try {
      const r = await runCli(["sync", "--config", cfg, "--json"]);
      assert.equal(r.code, 1);
      const res = json<SyncDoc>(r).results;
      assert.equal(res[0].error?.kind, "target-io");
      assert.match(res[0].error?.message ?? "", /^vm01: the target directory is not writable \(permission denied or read-only file system\)/);
      assert.equal(res[1].error?.kind, "target-io");
      assert.match(res[1].error?.message ?? "", /^vm02: the target path exists and is not a directory/);
      assert.deepEqual(fs.readdirSync(ro), []);
      assert.equal(fs.readFileSync(file, "utf8"), "not a directory\n");
      assert.equal(res[2].action === "synced" || res[2].action === "unchanged", true);
    } finally {
      writeCfg({ repository: { io_timeout_s: 10 } });
    }
  });

  it("two runs at once on the same VM: one waits for the other's lock (or fails clearly), never a mixed tree", async () => {
    const next = repo.commit(bigFiles(40, "c"), "big c");
    const first = startCli(["sync", "vm01", "--config", cfg, "--json"]);
    await waitFor(() => transferring(fleet.vm("vm01").targetPath), 60_000, "the first transfer");
    const second = await runCli(["sync", "vm01", "--config", cfg, "--json"]);
    const a = json<SyncDoc>(await first.done).results[0];
    const b = json<SyncDoc>(second).results[0];
    assert.equal(a.action, "synced");
    assert.equal(b.action, "unchanged", "the second run waited, then found the target converged");
    assert.equal(marker("vm01"), next);

    // A run that holds the lock (here: a session opened through the library) and one that may not wait.
    writeCfg({ repository: { io_timeout_s: 10, lock_timeout_s: 0 } });
    const t = loadConfig(cfg).targets[0];
    const session = await TargetSession.open(t, 5);
    try {
      const refused = await runCli(["sync", "vm01", "--config", cfg, "--json"]);
      const r = json<SyncDoc>(refused).results[0];
      assert.equal(r.error?.kind, "locked");
      assert.match(r.error?.message ?? "", /^vm01: another repo-sync run holds the lock on this target/);
    } finally {
      await session.close();
      writeCfg({ repository: { io_timeout_s: 10 } });
    }
    assert.equal(marker("vm01"), next, "the refused run changed nothing");
    await noMarkerLies();
  });

  it("a new commit landing mid-sync: the pushed tree and .sync_rev agree", async () => {
    const pushed = repo.commit({ ...bigFiles(40, "e"), "src/app.py": "print('pushed')\n" }, "big e");
    const run = startCli(["sync", "vm03", "--config", cfg, "--json"]);
    await waitFor(() => transferring(fleet.vm("vm03").targetPath), 60_000, "the transfer");
    repo.commit({ "src/app.py": "print('landed mid-sync')\n" }, "mid-sync");
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(marker("vm03"), pushed);
    assert.equal(fs.readFileSync(path.join(fleet.vm("vm03").targetPath, "src/app.py"), "utf8"), "print('pushed')\n");
    await noMarkerLies();
  });
});
