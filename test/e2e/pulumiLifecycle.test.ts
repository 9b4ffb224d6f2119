/**
 * The rest of a RepoSyncTarget's life through the real pulumi CLI (split from pulumiUp.test.ts so
 * that the two run side by side): tampering only a checksum sees, a VM down, refresh, a planted
 * secret, destroy and up again.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, plantSecret, SourceRepo } from "../../tools/fleet/sourceRepo";
import { PreviewJson, stepFor, syncRev } from "../support/e2e";
import { parseEngineJson, programProject, PulumiProject, StackState } from "../../tools/pulumiCli";

describe("RepoSyncTarget through the real pulumi CLI: drift only a checksum sees, outages, refresh, secrets, destroy", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let project: PulumiProject;

  before(async () => {
    fleet = await startFleet({ count: 3, firstOctet: 26 });
    repo = makeSourceRepo();
    repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    const cfg = writeFleetConfig(fleet, path.join(fleet.baseDir, "config.yml"), { repoPath: repo.path });
    project = await programProject(cfg);
    await project.ok(["up", "--yes", "--skip-preview"]);
  });
  after(async () => {
    project?.dispose();
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("tampering that keeps size and mtime: only a checksum preview sees it, and a new `force` value repairs it", async () => {
    const p = path.join(fleet.vm("vm03").targetPath, "src/app.py");
    const before = fs.statSync(p);
    const original = fs.readFileSync(p, "utf8");
    fs.writeFileSync(p, original.replace("v2", "v3"));
    fs.utimesSync(p, before.atime, before.mtime);
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0, "size + mtime match: the quick check cannot see it");
    await project.ok(["config", "set", "repo-sync:checksum", "true"]);
    try {
      const deep = await project.run(["preview", "--diff", "--expect-no-changes"]);
      assert.notEqual(deep.code, 0);
      assert.match(deep.stdout, /tree drift: 1 modified, 0 added, 0 deleted \(modified: src\/app\.py\)/);
    } finally {
      await project.ok(["config", "rm", "repo-sync:checksum"]);
    }
    await project.ok(["config", "set", "repo-sync:force", "tampering-1"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.equal(fs.readFileSync(p, "utf8"), original, "the forced run compared contents and repaired the file");
  });

  it("a VM down: preview and up name it, the others still converge", async () => {
    const next = repo.commit({ "src/app.py": "print('v3')\n" }, "v3");
    await fleet.killVm("vm02");
    try {
      const preview = parseEngineJson<PreviewJson>(await project.ok(["preview", "--json"]));
      const vm02 = stepFor(preview, "vm02");
      assert.equal(vm02?.op, "update");
      assert.match(String(vm02?.newState?.inputs?.observed), /^error: connection to reposync@127\.0\.0\.27:22 refused/);
      assert.equal(vm02?.newState?.inputs?.observedState, "error");
      const gate = await project.run(["preview", "--expect-no-changes"]);
      assert.notEqual(gate.code, 0);
      assert.match(gate.stdout, /RepoSyncTarget \(vm02\):\n\s+warning: vm02: connection to reposync@127\.0\.0\.27:22 refused/);

      const up = await project.run(["up", "--yes", "--continue-on-error"]);
      assert.notEqual(up.code, 0, "the run fails while a VM is down");
      assert.match(up.stdout, /RepoSyncTarget \(vm02\):\n(?: {4}.*\n)*? {4}error: vm02: connection to reposync@127\.0\.0\.27:22 refused/);
      assert.equal(syncRev(fleet, "vm01"), `${next}\n`);
      assert.equal(syncRev(fleet, "vm03"), `${next}\n`);
      assert.notEqual(syncRev(fleet, "vm02"), `${next}\n`);
    } finally {
      await fleet.startVm("vm02");
    }
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.equal(syncRev(fleet, "vm02"), `${next}\n`);
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
  });

  it("`observed` in state says what the last sync left; `pulumi refresh` of a converged fleet changes nothing, and records what it saw", async () => {
    const head = repo.head();
    const target = (state: StackState, vm: string) => state.deployment.resources?.find((r) => r.urn.endsWith(`::${vm}`));
    const observed = (state: StackState, vm: string, side: "inputs" | "outputs") => [target(state, vm)?.[side]?.observed, target(state, vm)?.[side]?.observedState];
    const converged = await project.exportState();
    for (const vm of ["vm01", "vm02", "vm03"]) {
      // vm02 was last synced while vm03 was not touched: all three are in sync at the head.
      assert.deepEqual(observed(converged, vm, "outputs"), [`in sync at ${head.slice(0, 12)}`, "in-sync"], vm);
      // The inputs too: the next preview's diff shows them as the old value.
      assert.deepEqual(observed(converged, vm, "inputs"), [`in sync at ${head.slice(0, 12)}`, "in-sync"], vm);
    }
    const refresh = await project.run(["refresh", "--yes", "--expect-no-changes"]);
    assert.equal(refresh.code, 0, `a converged fleet: nothing changed\n${refresh.stdout}\n${refresh.stderr}`);
    assert.deepEqual(target(await project.exportState(), "vm02")?.outputs, target(converged, "vm02")?.outputs, "read gave back exactly the state");

    fs.writeFileSync(path.join(fleet.vm("vm02").targetPath, "notes.txt"), "made on the VM\n");
    fs.rmSync(path.join(fleet.vm("vm03").targetPath, ".sync_rev"));
    const drifted = await project.run(["refresh", "--yes", "--expect-no-changes"]);
    assert.notEqual(drifted.code, 0, "drift is a change");
    assert.match(drifted.stdout, /2 updated/);
    const state = await project.exportState();
    assert.deepEqual(observed(state, "vm02", "outputs"), ["tree drift: 0 modified, 1 added, 0 deleted (added: notes.txt)", "drift"]);
    assert.deepEqual(observed(state, "vm03", "outputs"), [`revision none (expected ${head.slice(0, 12)})`, "revision"]);
    assert.equal(target(state, "vm03")?.outputs?.revision, "");
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.equal(syncRev(fleet, "vm03"), `${head}\n`);
    assert.equal(fs.existsSync(path.join(fleet.vm("vm02").targetPath, "notes.txt")), false);
    const after = await project.exportState();
    for (const vm of ["vm02", "vm03"]) assert.deepEqual(observed(after, vm, "inputs"), [`in sync at ${head.slice(0, 12)}`, "in-sync"], vm);
  });

  it("a planted secret: up fails with the findings and no VM changes", async () => {
    const before = repo.head();
    plantSecret(repo);
    const up = await project.run(["up", "--yes", "--skip-preview"]);
    assert.notEqual(up.code, 0);
    assert.match(up.stdout + up.stderr, /secret scan \(gitleaks\) found 2 secrets/);
    assert.match(up.stdout + up.stderr, /config\/deploy\.env:3:aws-access-token/);
    assert.doesNotMatch(up.stdout + up.stderr, /x9Kq2LmP7vRt4WzN|AKIAZ7QW/, "the secret itself never appears");
    for (const vm of fleet.vms) {
      assert.equal(syncRev(fleet, vm.id), `${before}\n`);
      assert.equal(fs.existsSync(path.join(vm.targetPath, "config/deploy.env")), false);
    }
    repo.git("reset", "-q", "--hard", before);
  });

  it("`pulumi destroy` leaves the trees without a marker; a later `pulumi up` takes them back without adopt_existing", async () => {
    await project.ok(["destroy", "--yes"]);
    for (const vm of fleet.vms) {
      assert.equal(fs.existsSync(path.join(vm.targetPath, "src/app.py")), true);
      assert.equal(syncRev(fleet, vm.id), undefined);
      // The flag stays: it is how a tree repo-sync left behind is recognized (README: destroy).
      assert.equal(fs.existsSync(path.join(vm.targetPath, ".repo-sync.managed")), true);
    }
    fs.writeFileSync(path.join(fleet.vm("vm01").targetPath, "left-over.txt"), "made after the destroy\n");
    await project.ok(["up", "--yes", "--skip-preview"]);
    for (const vm of fleet.vms) assert.equal(syncRev(fleet, vm.id), `${repo.head()}\n`);
    assert.equal(fs.existsSync(path.join(fleet.vm("vm01").targetPath, "left-over.txt")), false);
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
    await project.ok(["destroy", "--yes"]);
  });
});
