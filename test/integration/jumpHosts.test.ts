/**
 * Jump hosts on a real bastion topology, loopback only: the VMs' sshd run in their own network
 * namespace (their 127.0.0.x are unreachable from here), and a bastion here runs `sshd -i` inside
 * that namespace per connection (tools/fleet/bastion.ts). Sync and status go through it; a VM left
 * without the hop, the bastion down and the bastion's key changed are named errors that touch nothing.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import type { StatusDoc, SyncDoc } from "../../cli/format";
import { Bastion, makeNetns } from "../../tools/fleet/bastion";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { fleetConfig, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { programProject } from "../../tools/pulumiCli";
import { json, runCli } from "../support/cli";

describe("jump hosts: VMs reachable only through a bastion (network namespace, loopback only)", function () {
  this.timeout(180_000);
  const netns = `repo-sync-jump-${process.pid}`;
  let dropNetns: (() => void) | undefined;
  let fleet: Fleet;
  let bastion: Bastion;
  let repo: SourceRepo;
  let cfg: string;
  const BASTION = "127.0.0.44";

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // ip netns and sshd -i need root (CI runs as root)
    dropNetns = makeNetns(netns);
    fleet = await startFleet({ count: 2, firstOctet: 45, netns });
    bastion = new Bastion(fleet, BASTION);
    await bastion.start();
    bastion.pin();
    repo = makeSourceRepo();
    cfg = writeFleetConfig(fleet, path.join(fleet.baseDir, "config.yml"), { repoPath: repo.path, ssh: { jump_hosts: [`${fleet.vms[0].user}@${BASTION}:22`] } });
  });
  after(async () => {
    await bastion?.stop();
    await fleet?.stop();
    dropNetns?.();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("the VMs cannot be reached directly: a VM without the hop fails as unreachable, and gets nothing", async () => {
    const direct = writeFleetConfig(fleet, path.join(fleet.baseDir, "direct.yml"), { repoPath: repo.path });
    const run = await runCli(["sync", "--config", direct, "--json", "vm01"]);
    assert.equal(run.code, 1);
    const [r] = json<SyncDoc>(run).results;
    assert.equal(r.error?.kind, "unreachable", r.error?.message);
    assert.equal(fs.existsSync(path.join(fleet.vm("vm01").targetPath, ".sync_rev")), false);
  });

  it("sync and status go through the bastion (its host key pinned like the VMs')", async () => {
    const run = await runCli(["sync", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    for (const vm of fleet.vms) {
      assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${repo.head()}\n`, vm.id);
      assert.equal(fs.readFileSync(path.join(vm.targetPath, "src/app.py"), "utf8"), "print('hello from th_timmy')\n");
    }
    fs.writeFileSync(path.join(fleet.vm("vm02").targetPath, "src/app.py"), "hand edit\n");
    const status = await runCli(["status", "--config", cfg, "--json"]);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(json<StatusDoc>(status).statuses.map((s) => [s.vm, s.state]), [["vm01", "in-sync"], ["vm02", "drift"]]);
  });

  it("the bastion down: each VM's error names the jump host, nothing changes", async () => {
    await bastion.stop();
    try {
      const next = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
      const run = await runCli(["sync", "--config", cfg, "--json"]);
      assert.equal(run.code, 1);
      for (const r of json<SyncDoc>(run).results) {
        assert.equal(r.error?.kind, "unreachable", r.error?.message);
        assert.match(r.error?.message ?? "", new RegExp(`jump host 1 of 1 on the way to ${r.vm} \\(${fleet.vms[0].user}@127\\.0\\.0\\.44:22\\).*refused`));
      }
      assert.notEqual(fs.readFileSync(path.join(fleet.vm("vm01").targetPath, ".sync_rev"), "utf8"), `${next}\n`);
    } finally {
      await bastion.start();
    }
  });

  it("the bastion's host key changed: refused as a host-key error naming the jump host and the fix", async () => {
    await bastion.stop();
    bastion.newHostKey(); // reinstalled; known_hosts still pins the old key
    await bastion.start();
    const run = await runCli(["sync", "--config", cfg, "--json", "vm01"]);
    assert.equal(run.code, 1);
    const [r] = json<SyncDoc>(run).results;
    assert.equal(r.error?.kind, "host-key", r.error?.message);
    assert.match(r.error?.message ?? "", /jump host 1 of 1 .*127\.0\.0\.44:22.*does not match the one pinned/);
    assert.match(r.error?.message ?? "", /ssh-keygen -R 127\.0\.0\.44 -f /);
    bastion.pin();
    const again = await runCli(["sync", "--config", cfg, "--json", "vm01"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(fs.readFileSync(path.join(fleet.vm("vm01").targetPath, ".sync_rev"), "utf8"), `${repo.head()}\n`);
  });

  it("pulumi up and preview go through the bastion too (the provider's connections)", async () => {
    const next = repo.commit({ "src/app.py": "print('v3')\n" }, "v3");
    const project = await programProject(cfg);
    try {
      await project.ok(["config", "set", "repo-sync:pull", "false"]);
      await project.ok(["up", "--yes", "--skip-preview"]);
      for (const vm of fleet.vms) assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${next}\n`, vm.id);
      const clean = await project.run(["preview", "--expect-no-changes"]);
      assert.equal(clean.code, 0, `${clean.stdout}\n${clean.stderr}`);
      fs.writeFileSync(path.join(fleet.vm("vm01").targetPath, "src/app.py"), "hand edit\n");
      const drift = await project.run(["preview", "--expect-no-changes", "--diff"]);
      assert.notEqual(drift.code, 0);
      assert.match(drift.stdout, /vm01/);
    } finally {
      project.dispose();
    }
  });

  it("ssh.config_path: VMs named by alias, their host, port, user, key, known_hosts and the bastion (ProxyJump) from an OpenSSH config; CLI and pulumi up", async () => {
    const user = fleet.vms[0].user;
    const sshConfig = path.join(fleet.baseDir, "ssh config");
    fs.writeFileSync(sshConfig, [
      "Host bastion",
      `  HostName ${BASTION}`,
      ...fleet.vms.flatMap((vm) => [`Host app-${vm.id}`, `  HostName ${vm.host}`, `  Port ${vm.port}`]),
      "Host app-* bastion",
      `  User ${user}`,
      `  IdentityFile "${fleet.clientKeyPath}"`,
      `  UserKnownHostsFile "${fleet.knownHostsPath}"`,
      "Host app-*",
      "  ProxyJump bastion",
      "",
    ].join("\n"));
    // Only the aliases in the YAML: no user, port, key, known_hosts or hops.
    const doc = fleetConfig(fleet, { repoPath: repo.path }) as { ssh: Record<string, unknown>; vms: Record<string, Record<string, unknown>> };
    doc.ssh = { config_path: sshConfig, connect_timeout_s: 5 };
    for (const vm of fleet.vms) doc.vms[vm.id] = { host: `app-${vm.id}` };
    const aliased = path.join(fleet.baseDir, "aliased.yml");
    fs.writeFileSync(aliased, stringify(doc));

    const next = repo.commit({ "src/app.py": "print('v4')\n" }, "v4");
    const run = await runCli(["sync", "--config", aliased, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    for (const vm of fleet.vms) assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${next}\n`, vm.id);
    const status = await runCli(["status", "--config", aliased, "--json"]);
    // status names where each VM really is and the hop on the way (resolved from the file).
    assert.deepEqual(json<StatusDoc>(status).statuses.map((s) => [s.vm, s.state, s.host, s.via]), fleet.vms.map((vm) => [vm.id, "in-sync", vm.host, `${user}@${BASTION}:22`]));

    // Without the ProxyJump line the VMs are unreachable: the file is what routes through the bastion.
    fs.writeFileSync(sshConfig, fs.readFileSync(sshConfig, "utf8").replace("  ProxyJump bastion", "  ProxyJump none"));
    const direct = await runCli(["status", "--config", aliased, "--json", "vm01"]);
    assert.equal(direct.code, 2);
    assert.equal(json<StatusDoc>(direct).statuses[0].error?.kind, "unreachable");
    fs.writeFileSync(sshConfig, fs.readFileSync(sshConfig, "utf8").replace("  ProxyJump none", "  ProxyJump bastion"));

    const v5 = repo.commit({ "src/app.py": "print('v5')\n" }, "v5");
    const project = await programProject(aliased);
    try {
      await project.ok(["config", "set", "repo-sync:pull", "false"]);
      await project.ok(["up", "--yes", "--skip-preview"]);
      for (const vm of fleet.vms) assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${v5}\n`, vm.id);
      const clean = await project.run(["preview", "--expect-no-changes"]);
      assert.equal(clean.code, 0, `${clean.stdout}\n${clean.stderr}`);
    } finally {
      project.dispose();
    }
  });
});
