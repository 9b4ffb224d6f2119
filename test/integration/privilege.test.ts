/**
 * Deploying into a directory the login user does not own: rsync and repo-sync's target script run
 * through `sudo -n` (a sudoers rule on the VM), what lands is owned by a service user with the modes
 * asked for, and a sudo that wants a password is a named error that changes nothing.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { StatusDoc, SyncDoc } from "../../cli/format";
import { ensureUser, Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { programProject } from "../../tools/pulumiCli";
import { json, runCli } from "../support/cli";

const SERVICE_USER = "rs-svc";

describe("privilege on the target: sudo -n, a root-owned target, a service user's files", function () {
  this.timeout(180_000);
  const sudoers = `/etc/sudoers.d/repo-sync-test-${process.pid}`;
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  const rule = (user: string, nopasswd: boolean) => {
    fs.writeFileSync(sudoers, `${user} ALL=(root) ${nopasswd ? "NOPASSWD: " : ""}/bin/sh, /usr/bin/rsync\n`, { mode: 0o440 });
    execFileSync("visudo", ["-cf", sudoers]);
  };
  const uidOf = (u: string) => Number(execFileSync("id", ["-u", u], { encoding: "utf8" }).trim());

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // sudoers and chown need root (CI runs as root)
    fleet = await startFleet({ count: 2, firstOctet: 48 });
    ensureUser(SERVICE_USER);
    repo = makeSourceRepo();
    // The targets' parent belongs to root: the login user cannot create or write the target itself.
    for (const vm of fleet.vms) {
      fs.mkdirSync(path.dirname(vm.targetPath), { recursive: true });
      execFileSync("chown", ["root:root", path.dirname(vm.targetPath)]);
      fs.chmodSync(path.dirname(vm.targetPath), 0o755);
    }
    cfg = writeFleetConfig(fleet, path.join(fleet.baseDir, "config.yml"), {
      repoPath: repo.path,
      repository: { sudo: true, owner: SERVICE_USER, group: SERVICE_USER, chmod: "D2775,F664" },
    });
  });
  after(async () => {
    fs.rmSync(sudoers, { force: true });
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("without sudo the login user cannot deploy there (the premise)", async () => {
    const plain = writeFleetConfig(fleet, path.join(fleet.baseDir, "plain.yml"), { repoPath: repo.path });
    const run = await runCli(["sync", "--config", plain, "--json", "vm01"]);
    assert.equal(run.code, 1);
    assert.equal(fs.existsSync(fleet.vm("vm01").targetPath), false);
  });

  it("with a NOPASSWD rule: the tree lands owned by the service user, with the modes asked for; status agrees", async () => {
    rule(fleet.vms[0].user, true);
    const run = await runCli(["sync", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const svc = uidOf(SERVICE_USER);
    for (const vm of fleet.vms) {
      assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${repo.head()}\n`);
      const file = fs.statSync(path.join(vm.targetPath, "src/app.py"));
      const dir = fs.statSync(path.join(vm.targetPath, "src"));
      assert.deepEqual([file.uid, file.gid, (file.mode & 0o7777).toString(8)], [svc, file.gid, "664"]);
      assert.equal(file.gid, Number(execFileSync("id", ["-g", SERVICE_USER], { encoding: "utf8" }).trim()));
      assert.deepEqual([dir.uid, (dir.mode & 0o7777).toString(8)], [svc, "2775"]);
    }
    const status = await runCli(["status", "--config", cfg, "--json"]);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(json<StatusDoc>(status).statuses.map((s) => s.state), ["in-sync", "in-sync"]);
    // A file handed to another owner on the VM is drift (ownership is part of what was asked for).
    execFileSync("chown", ["root:root", path.join(fleet.vm("vm02").targetPath, "src/app.py")]);
    const drift = await runCli(["status", "--config", cfg, "--json"]);
    assert.deepEqual(json<StatusDoc>(drift).statuses.map((s) => s.state), ["in-sync", "drift"]);
  });

  it("sudo asking for a password: a named error with the sudoers fix, and nothing changes", async () => {
    rule(fleet.vms[0].user, false);
    try {
      const before = fs.readFileSync(path.join(fleet.vm("vm01").targetPath, ".sync_rev"), "utf8");
      repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
      const run = await runCli(["sync", "--config", cfg, "--json", "vm01"]);
      assert.equal(run.code, 1);
      const [r] = json<SyncDoc>(run).results;
      assert.equal(r.error?.kind, "auth", r.error?.message);
      assert.match(r.error?.message ?? "", /sudo on vm01 asks reposync for a password/);
      assert.match(r.error?.message ?? "", /NOPASSWD: \/bin\/sh, \/usr\/bin\/rsync/);
      assert.equal(fs.readFileSync(path.join(fleet.vm("vm01").targetPath, ".sync_rev"), "utf8"), before);
    } finally {
      rule(fleet.vms[0].user, true);
    }
  });

  it("an owner or group the VM does not have: a named config error before anything changes on the VM", async () => {
    const target = fleet.vm("vm01").targetPath;
    const before = { rev: fs.readFileSync(path.join(target, ".sync_rev"), "utf8"), app: fs.readFileSync(path.join(target, "src/app.py"), "utf8") };
    repo.commit({ "src/app.py": "print('owner?')\n" }, "owner check");
    for (const [key, value, reason] of [["owner", "rs-nosuch-user", "repository.owner names a user this VM does not have"], ["group", "rs-nosuch-group", "repository.group names a group this VM does not have"]]) {
      const bad = writeFleetConfig(fleet, path.join(fleet.baseDir, `bad-${key}.yml`), { repoPath: repo.path, repository: { sudo: true, [key]: value } });
      const run = await runCli(["sync", "--config", bad, "--json", "vm01"]);
      assert.equal(run.code, 1);
      const [r] = json<SyncDoc>(run).results;
      assert.equal(r.error?.kind, "config", r.error?.message);
      assert.match(r.error?.message ?? "", new RegExp(`^vm01: ${reason}; nothing was changed`));
      assert.deepEqual({ rev: fs.readFileSync(path.join(target, ".sync_rev"), "utf8"), app: fs.readFileSync(path.join(target, "src/app.py"), "utf8") }, before, key);
    }
  });

  it("pulumi up deploys the same way (the provider's session and rsync through sudo, --chown, --chmod)", async () => {
    const next = repo.commit({ "src/app.py": "print('v3')\n" }, "v3");
    const project = await programProject(cfg);
    try {
      await project.ok(["config", "set", "repo-sync:pull", "false"]);
      await project.ok(["up", "--yes", "--skip-preview"]);
      for (const vm of fleet.vms) {
        assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${next}\n`);
        const file = fs.statSync(path.join(vm.targetPath, "src/app.py"));
        assert.deepEqual([file.uid, (file.mode & 0o7777).toString(8)], [uidOf(SERVICE_USER), "664"]);
      }
      const clean = await project.run(["preview", "--expect-no-changes"]);
      assert.equal(clean.code, 0, `${clean.stdout}\n${clean.stderr}`);
      // A long push says how far it is (every 5 s) among the stack's diagnostics.
      const limited = writeFleetConfig(fleet, path.join(fleet.baseDir, "limited.yml"), {
        repoPath: repo.path,
        repository: { sudo: true, owner: SERVICE_USER, group: SERVICE_USER, chmod: "D2775,F664", bwlimit_kbps: 256 },
      });
      await project.ok(["config", "set", "repo-sync:configPath", limited]);
      repo.commit({ "data/big.txt": `${Array.from({ length: 32_768 }, () => crypto.randomBytes(32).toString("hex")).join("\n")}\n` }, "2 MiB");
      const up = await project.ok(["up", "--yes", "--skip-preview"]);
      assert.match(up.stdout, /(?:repo-sync: )?vm0[12]: transferring \d+% \S+ ETA \d+:\d\d:\d\d/);
    } finally {
      project.dispose();
    }
  });
});
