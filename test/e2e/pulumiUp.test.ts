import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Fleet, startFleet } from "../fleet/fleet";
import { writeFleetConfig } from "../fleet/fleetConfig";
import { makeSourceRepo, plantSecret, SourceRepo } from "../fleet/sourceRepo";
import { parseEngineJson, parseUpJson, programProject, PulumiProject } from "../support/pulumiCli";

interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { inputs?: Record<string, unknown> };
  newState?: { inputs?: Record<string, unknown> };
}
interface PreviewJson {
  steps: PreviewStep[];
  changeSummary: Record<string, number>;
  diagnostics?: Array<{ message: string; severity: string; urn?: string }>;
}

function syncRev(fleet: Fleet, id: string): string | undefined {
  const p = path.join(fleet.vm(id).targetPath, ".sync_rev");
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined;
}

/** Input keys whose values differ between the old and new state of a step (the preview's diff). */
function changedInputs(step: PreviewStep | undefined): string[] {
  const o = step?.oldState?.inputs ?? {};
  const n = step?.newState?.inputs ?? {};
  return [...new Set([...Object.keys(o), ...Object.keys(n)])].filter((k) => k !== "__provider" && JSON.stringify(o[k]) !== JSON.stringify(n[k])).sort();
}

/** "vm02" -> its step in a preview. */
function stepFor(preview: PreviewJson, vm: string) {
  return preview.steps.find((s) => s.urn.endsWith(`::${vm}`));
}

describe("RepoSyncTarget through the real pulumi CLI on the fleet", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let project: PulumiProject;

  before(async () => {
    fleet = await startFleet({ count: 3, firstOctet: 21 });
    repo = makeSourceRepo();
    const cfg = writeFleetConfig(fleet, path.join(fleet.baseDir, "config.yml"), { repoPath: repo.path });
    project = await programProject(cfg);
  });
  after(async () => {
    project?.dispose();
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("`pulumi up` lands the commit and .sync_rev on 3 VMs", async () => {
    const up = await project.ok(["up", "--yes", "--json"]);
    const summary = parseUpJson(up).events.find((e) => e.summaryEvent)?.summaryEvent;
    assert.equal(summary?.result, "succeeded");
    assert.equal(summary?.resourceChanges.create, 4); // stack + 3 targets
    for (const vm of fleet.vms) {
      assert.equal(syncRev(fleet, vm.id), `${repo.head()}\n`);
      assert.equal(fs.readFileSync(path.join(vm.targetPath, "src/app.py"), "utf8"), "print('hello from th_timmy')\n");
    }
    const outputs = await project.outputs();
    assert.equal(outputs.revision, repo.head());
    const targets = outputs.targets as Record<string, { revision: string; host: string }>;
    assert.deepEqual(Object.keys(targets).sort(), ["vm01", "vm02", "vm03"]);
    assert.equal(targets.vm02.revision, repo.head());
    assert.equal(targets.vm02.host, "127.0.0.22");
    // The key path is in state; the key itself never is.
    const state = JSON.stringify(await project.exportState());
    assert.doesNotMatch(state, /PRIVATE KEY/);
    const keyBody = fs.readFileSync(fleet.clientKeyPath, "utf8").split("\n")[1];
    assert.equal(state.includes(keyBody), false);
  });

  it("a second run plans no changes (--expect-no-changes exits 0)", async () => {
    const pre = await project.run(["preview", "--expect-no-changes", "--json"]);
    assert.equal(pre.code, 0, pre.stdout + pre.stderr);
    const up = await project.ok(["up", "--yes", "--json"]);
    const summary = parseUpJson(up).events.find((e) => e.summaryEvent)?.summaryEvent;
    assert.deepEqual(summary?.resourceChanges, { same: 4 });
  });

  it("a new commit: preview shows 3 updates with the revision change, up converges", async () => {
    const next = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    const preview = parseEngineJson<PreviewJson>(await project.ok(["preview", "--json"]));
    for (const vm of ["vm01", "vm02", "vm03"]) {
      const step = stepFor(preview, vm);
      assert.equal(step?.op, "update", vm);
      assert.deepEqual(changedInputs(step), ["commit", "observed"], vm);
      assert.match(String(step?.newState?.inputs?.observed), /^revision [0-9a-f]{12} \(expected [0-9a-f]{12}\)$/);
    }
    await project.ok(["up", "--yes"]);
    for (const vm of fleet.vms) {
      assert.equal(syncRev(fleet, vm.id), `${next}\n`);
      assert.equal(fs.readFileSync(path.join(vm.targetPath, "src/app.py"), "utf8"), "print('v2')\n");
    }
  });

  it("a file edited on vm02: preview names vm02 and the drift, the gate fails, up repairs", async () => {
    const edited = path.join(fleet.vm("vm02").targetPath, "src/app.py");
    fs.writeFileSync(edited, "print('edited by hand')\n");
    const gate = await project.run(["preview", "--expect-no-changes"]);
    assert.notEqual(gate.code, 0);
    assert.match(gate.stdout, /vm02/);
    const diffRun = await project.ok(["preview", "--diff"]);
    assert.match(diffRun.stdout, /tree drift: 1 modified, 0 added, 0 deleted \(first: src\/app\.py\)/);
    const preview = parseEngineJson<PreviewJson>(await project.ok(["preview", "--json"]));
    assert.equal(stepFor(preview, "vm02")?.op, "update");
    assert.deepEqual(changedInputs(stepFor(preview, "vm02")), ["observed"]);
    // Unchanged targets are "same" steps (which --json may leave out): never an update.
    assert.notEqual(stepFor(preview, "vm01")?.op ?? "same", "update");
    assert.notEqual(stepFor(preview, "vm03")?.op ?? "same", "update");
    assert.deepEqual(preview.changeSummary, { same: 3, update: 1 });
    await project.ok(["up", "--yes"]);
    assert.equal(fs.readFileSync(edited, "utf8"), "print('v2')\n");
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
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
      assert.match(deep.stdout, /tree drift: 1 modified, 0 added, 0 deleted \(first: src\/app\.py\)/);
    } finally {
      await project.ok(["config", "rm", "repo-sync:checksum"]);
    }
    await project.ok(["config", "set", "repo-sync:force", "tampering-1"]);
    await project.ok(["up", "--yes"]);
    assert.equal(fs.readFileSync(p, "utf8"), original, "the forced run compared contents and repaired the file");
  });

  it(".sync_rev edited on vm01: preview names the revision mismatch, up repairs", async () => {
    const marker = path.join(fleet.vm("vm01").targetPath, ".sync_rev");
    fs.writeFileSync(marker, "0".repeat(40) + "\n");
    const diffRun = await project.run(["preview", "--diff", "--expect-no-changes"]);
    assert.notEqual(diffRun.code, 0);
    assert.match(diffRun.stdout, /vm01/);
    assert.match(diffRun.stdout, /revision 000000000000 \(expected [0-9a-f]{12}\)/);
    await project.ok(["up", "--yes"]);
    assert.equal(fs.readFileSync(marker, "utf8"), `${repo.head()}\n`);
  });

  it("a VM down: preview and up name it, the others still converge", async () => {
    const next = repo.commit({ "src/app.py": "print('v3')\n" }, "v3");
    await fleet.killVm("vm02");
    try {
      const preview = parseEngineJson<PreviewJson>(await project.ok(["preview", "--json"]));
      const vm02 = stepFor(preview, "vm02");
      assert.equal(vm02?.op, "update");
      assert.match(String(vm02?.newState?.inputs?.observed), /^error: connection to reposync@127\.0\.0\.22:22 refused/);
      const gate = await project.run(["preview", "--expect-no-changes"]);
      assert.notEqual(gate.code, 0);
      assert.match(gate.stdout, /repo-sync: error: vm02: connection to reposync@127\.0\.0\.22:22 refused/);

      const up = await project.run(["up", "--yes", "--continue-on-error"]);
      assert.notEqual(up.code, 0, "the run fails while a VM is down");
      assert.match(up.stdout, /RepoSyncTarget \(vm02\):\n\s+error: vm02: connection to reposync@127\.0\.0\.22:22 refused/);
      assert.equal(syncRev(fleet, "vm01"), `${next}\n`);
      assert.equal(syncRev(fleet, "vm03"), `${next}\n`);
      assert.notEqual(syncRev(fleet, "vm02"), `${next}\n`);
    } finally {
      await fleet.startVm("vm02");
    }
    await project.ok(["up", "--yes"]);
    assert.equal(syncRev(fleet, "vm02"), `${next}\n`);
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
  });

  it("`pulumi refresh` reads the live .sync_rev", async () => {
    fs.rmSync(path.join(fleet.vm("vm03").targetPath, ".sync_rev"));
    await project.ok(["refresh", "--yes"]);
    const state = await project.exportState();
    const vm03 = state.deployment.resources?.find((r) => r.urn.endsWith("::vm03"));
    assert.equal(vm03?.outputs?.revision, "");
    await project.ok(["up", "--yes"]);
    assert.equal(syncRev(fleet, "vm03"), `${repo.head()}\n`);
  });

  it("a planted secret: up fails with the findings and no VM changes", async () => {
    const before = repo.head();
    plantSecret(repo);
    const up = await project.run(["up", "--yes"]);
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
    await project.ok(["up", "--yes"]);
    for (const vm of fleet.vms) assert.equal(syncRev(fleet, vm.id), `${repo.head()}\n`);
    assert.equal(fs.existsSync(path.join(fleet.vm("vm01").targetPath, "left-over.txt")), false);
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
    await project.ok(["destroy", "--yes"]);
  });
});
