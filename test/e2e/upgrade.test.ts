/**
 * Upgrading a stack deployed before the RepoSync component: its RepoSyncTarget resources sat at the
 * top of the stack, named by VM id. The component's children alias those names, so the upgrade is
 * no replacement: a replacement would run the old targets' delete (with removeOnDelete, removing the
 * trees) and sync everything afresh.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { parseUpJson, PROJECT_ROOT, projectFromFixture, PulumiProject } from "../../tools/pulumiCli";

describe("upgrading a stack from top-level targets to the RepoSync component", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let project: PulumiProject;

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: 36 });
    repo = makeSourceRepo();
    project = projectFromFixture(path.join(PROJECT_ROOT, "test", "e2e", "fixtures", "preComponent"));
    Object.assign(project.env, { REPO_SYNC_DIST: path.join(PROJECT_ROOT, "dist") });
    await project.init();
    await project.ok(["config", "set", "repo-sync:configPath", writeFleetConfig(fleet, path.join(fleet.baseDir, "config.yml"), { repoPath: repo.path })]);
    await project.ok(["config", "set", "repo-sync:removeOnDelete", "true"]);
  });
  after(async () => {
    project?.dispose();
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("keeps every target (no create, no delete, no replace) and syncs nothing again", async () => {
    await project.ok(["up", "--yes", "--skip-preview"]);
    const marker = path.join(fleet.vm("vm01").targetPath, ".sync_rev");
    const before = fs.statSync(marker);
    // The same stack, now run by repo-sync's own program (the component with topLevelNames).
    fs.writeFileSync(path.join(project.dir, "Pulumi.yaml"), `name: repo-sync\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: ${path.join(PROJECT_ROOT, "dist", "index.js")}\n`);
    const up = await project.ok(["up", "--yes", "--json"]);
    const changes = parseUpJson(up).events.find((e) => e.summaryEvent)?.summaryEvent?.resourceChanges;
    assert.deepEqual(changes, { create: 1, same: 3 }, "only the component is new; the stack and both targets are the same resources");
    const state = await project.exportState();
    const targets = (state.deployment.resources ?? []).filter((r) => r.type.endsWith("RepoSyncTarget"));
    assert.deepEqual(targets.map((r) => r.urn.split("::").pop()).sort(), ["vm01", "vm02"]);
    assert.ok(targets.every((r) => r.parent?.includes("repo-sync:index:RepoSync")), "now children of the component");
    const after = fs.statSync(marker);
    assert.equal(after.ino, before.ino, "the marker was not rewritten: nothing was synced again");
    assert.equal(fs.readFileSync(marker, "utf8"), `${repo.head()}\n`);
  });
});
