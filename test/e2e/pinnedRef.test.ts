/**
 * Pinning what is deployed through Pulumi: `repo-sync:ref` set to a tag, then to an older SHA (a
 * rollback), through the real engine; the preview names the commit each target will get and the
 * ref it came from. The config has no source VM: the checkout is on the machine running Pulumi.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { fleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { programProject, PulumiProject } from "../../tools/pulumiCli";
import { syncRev } from "../support/e2e";

describe("repo-sync:ref through the real pulumi CLI: a tag, then an older SHA", function () {
  this.timeout(180_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let project: PulumiProject;
  let c1: string;
  let c2: string;
  const read = (vm: string, p: string) => fs.readFileSync(path.join(fleet.vm(vm).targetPath, p), "utf8");

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: 236 });
    repo = makeSourceRepo();
    c1 = repo.head();
    c2 = repo.commit({ "src/app.py": "print('v2')\n", "docs/v2.md": "# v2\n" }, "v2");
    repo.git("tag", "-a", "v2", "-m", "release 2");
    repo.commit({ "src/app.py": "print('v3')\n" }, "v3: the branch tip, never deployed here");
    const doc = fleetConfig(fleet, { repoPath: repo.path }) as { vms: Record<string, unknown>; repository: Record<string, unknown> };
    delete doc.vms.source;
    delete doc.repository.source_vm;
    const cfg = path.join(fleet.baseDir, "config.yml");
    fs.writeFileSync(cfg, stringify(doc));
    project = await programProject(cfg);
    await project.ok(["config", "set", "repo-sync:pull", "false"]);
  });
  after(async () => {
    project?.dispose();
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("ref: v2 (an annotated tag) deploys its commit; ref: <older SHA> rolls back, and its preview names that commit", async () => {
    await project.ok(["config", "set", "repo-sync:ref", "v2"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    for (const vm of ["vm01", "vm02"]) {
      assert.equal(syncRev(fleet, vm), `${c2}\n`, vm);
      assert.equal(read(vm, "src/app.py"), "print('v2')\n");
    }
    assert.deepEqual(Object.entries(await project.outputs()).filter(([k]) => k !== "targets"), [["branch", ""], ["ref", "v2"], ["refKind", "tag"], ["revision", c2]]);

    await project.ok(["config", "set", "repo-sync:ref", c1]);
    const preview = await project.ok(["preview"]);
    for (const vm of ["vm01", "vm02"]) {
      assert.match(preview.stdout, new RegExp(`${vm}: revision ${c2.slice(0, 12)} \\(expected ${c1.slice(0, 12)}\\); up deploys ${c1.slice(0, 12)} \\(commit ${c1.slice(0, 12)}\\)`));
    }
    await project.ok(["up", "--yes", "--skip-preview"]);
    for (const vm of ["vm01", "vm02"]) {
      assert.equal(syncRev(fleet, vm), `${c1}\n`, vm);
      assert.equal(read(vm, "src/app.py"), "print('hello from th_timmy')\n");
      assert.equal(fs.existsSync(path.join(fleet.vm(vm).targetPath, "docs/v2.md")), false, "the rollback removed what the old commit does not hold");
    }
    assert.equal((await project.outputs()).revision, c1);
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0, "the pinned commit is the desired state: nothing to do");
  });

  it("branch and ref both set: preview fails naming both, and no VM changes", async () => {
    await project.ok(["config", "set", "repo-sync:branch", "main"]);
    const r = await project.run(["preview"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, new RegExp(`both branch "main" and ref "${c1}" are set; set one of them`));
    assert.match(r.stdout + r.stderr, /fix: ref takes a branch too: `pulumi config rm repo-sync:branch` to deploy the ref/);
    await project.ok(["config", "rm", "repo-sync:branch"]);
    for (const vm of ["vm01", "vm02"]) assert.equal(syncRev(fleet, vm), `${c1}\n`);
  });
});
