import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { changedInputs, PreviewJson, stepFor, syncRev } from "../support/e2e";
import { parseEngineJson, parseUpJson, programProject, PulumiProject } from "../../tools/pulumiCli";

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
    assert.equal(summary?.resourceChanges.create, 5); // stack + the RepoSync component + 3 targets
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
    const exported = await project.exportState();
    const state = JSON.stringify(exported);
    assert.doesNotMatch(state, /PRIVATE KEY/);
    const keyBody = fs.readFileSync(fleet.clientKeyPath, "utf8").split("\n")[1];
    // The targets are children of the component, named by VM id (the names stacks had before it).
    const resources = exported.deployment.resources ?? [];
    const component = resources.find((r) => r.type === "repo-sync:index:RepoSync");
    assert.ok(component, "the RepoSync component is in state");
    const children = resources.filter((r) => r.parent === component.urn);
    assert.deepEqual(children.map((r) => [r.urn.split("::").pop(), r.type]).sort(), ["vm01", "vm02", "vm03"].map((vm) => [vm, "pulumi-nodejs:dynamic/repo-sync:RepoSyncTarget"]));
    assert.equal(state.includes(keyBody), false);
  });

  it("a second run plans no changes (--expect-no-changes exits 0)", async () => {
    const pre = await project.run(["preview", "--expect-no-changes", "--json"]);
    assert.equal(pre.code, 0, pre.stdout + pre.stderr);
    const up = await project.ok(["up", "--yes", "--json"]);
    const summary = parseUpJson(up).events.find((e) => e.summaryEvent)?.summaryEvent;
    assert.deepEqual(summary?.resourceChanges, { same: 5 });
  });

  it("a new commit: preview shows 3 updates with the revision change, up converges", async () => {
    const next = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    const preview = parseEngineJson<PreviewJson>(await project.ok(["preview", "--json"]));
    for (const vm of ["vm01", "vm02", "vm03"]) {
      const step = stepFor(preview, vm);
      assert.equal(step?.op, "update", vm);
      assert.deepEqual(changedInputs(step), ["commit", "observed", "observedState"], vm);
      assert.match(String(step?.newState?.inputs?.observed), /^revision [0-9a-f]{12} \(expected [0-9a-f]{12}\)$/);
      assert.equal(step?.newState?.inputs?.observedState, "revision");
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
    assert.match(diffRun.stdout, /tree drift: 1 modified, 0 added, 0 deleted \(modified: src\/app\.py\)/);
    const preview = parseEngineJson<PreviewJson>(await project.ok(["preview", "--json"]));
    assert.equal(stepFor(preview, "vm02")?.op, "update");
    assert.deepEqual(changedInputs(stepFor(preview, "vm02")), ["observed", "observedState"]);
    assert.equal(stepFor(preview, "vm02")?.newState?.inputs?.observedState, "drift");
    // Unchanged targets are "same" steps (which --json may leave out): never an update.
    assert.notEqual(stepFor(preview, "vm01")?.op ?? "same", "update");
    assert.notEqual(stepFor(preview, "vm03")?.op ?? "same", "update");
    assert.deepEqual(preview.changeSummary, { same: 4, update: 1 });
    await project.ok(["up", "--yes"]);
    assert.equal(fs.readFileSync(edited, "utf8"), "print('v2')\n");
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
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

});
