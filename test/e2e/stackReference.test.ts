import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { fleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { programProject, PROJECT_ROOT, projectFromFixture, PulumiProject } from "../../tools/pulumiCli";

describe("composing with the stack that created the VMs (StackReference)", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let vmsStack: PulumiProject;
  let project: PulumiProject;

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: 141 });
    repo = makeSourceRepo();
  });
  after(async () => {
    project?.dispose();
    vmsStack?.dispose();
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("takes the hosts from the other stack's `vms` output and converges them", async () => {
    vmsStack = projectFromFixture(path.join(PROJECT_ROOT, "examples", "vms-stack"));
    await vmsStack.init();
    for (const vm of fleet.vms) await vmsStack.ok(["config", "set", "--path", `vms.${vm.id}.host`, vm.host]);
    await vmsStack.ok(["up", "--yes", "--skip-preview"]);

    // The YAML names the VMs, users and paths, but no hosts.
    const doc = fleetConfig(fleet, { repoPath: repo.path }) as { vms: Record<string, Record<string, unknown>> };
    for (const vm of fleet.vms) delete doc.vms[vm.id].host;
    const cfg = path.join(fleet.baseDir, "config.yml");
    fs.writeFileSync(cfg, stringify(doc));

    project = await programProject(cfg, "dev", vmsStack.backendDir);
    await project.ok(["config", "set", "repo-sync:vmsStack", "organization/vms/dev"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    for (const vm of fleet.vms) {
      assert.equal(fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8"), `${repo.head()}\n`);
    }
    const targets = (await project.outputs()).targets as Record<string, { host: string }>;
    assert.equal(targets.vm02.host, "127.0.0.142");
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
  });

  it("a VM the other stack does not export is a clear error", async () => {
    await vmsStack.ok(["config", "rm", "--path", "vms.vm02"]);
    await vmsStack.ok(["up", "--yes", "--skip-preview"]);
    const r = await project.run(["preview"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /stack organization\/vms\/dev does not export vms\.vm02\.host \(it exports: vm01\)/);
  });
});
