/**
 * Pinning what is deployed through Pulumi: `repo-sync:ref` set to a tag, then to an older SHA (a
 * rollback), through the real engine; the preview names the commit each target will get and the
 * ref it came from. The config has no source VM: the checkout is on the machine running Pulumi.
 * Then the branch, and what `pull` does: a preview leaves the checkout as it is, and `up` deploys
 * the commit its preview named.
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

describe("repo-sync:ref through the real pulumi CLI: a tag, then an older SHA, then the branch and `pull`", function () {
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

  it("the branch: no pull by default and no warning without a remote; `pull: true` fetches origin's tip, deploys it, and leaves the checkout as it is", async () => {
    await project.ok(["config", "rm", "repo-sync:ref"]);
    const tip = repo.head();
    const noRemote = await project.ok(["preview"]);
    assert.match(noRemote.stdout, new RegExp(`up deploys ${tip.slice(0, 12)} \\(branch main\\)`));
    assert.doesNotMatch(noRemote.stdout + noRemote.stderr, /no remote|from origin/, "a repository without a remote is not worth a warning");

    // The checkout gets an origin that is one commit ahead of it.
    const origin = path.join(fleet.baseDir, "origin.git");
    repo.git("clone", "-q", "--bare", repo.path, origin);
    repo.git("remote", "add", "origin", origin);
    const upstream = new SourceRepo(path.join(fleet.baseDir, "upstream"));
    repo.git("clone", "-q", origin, upstream.path);
    upstream.git("config", "user.email", "test@repo-sync.invalid");
    upstream.git("config", "user.name", "repo-sync test");
    const ahead = upstream.commit({ "src/app.py": "print('from origin')\n" }, "pushed to origin");
    upstream.git("push", "-q", origin, "main");
    const checkout = () => ({
      head: repo.git("rev-parse", "HEAD"),
      status: repo.git("status", "--porcelain", "--untracked-files=all"),
      branches: repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
      index: fs.readFileSync(path.join(repo.path, ".git", "index")).toString("base64"),
    });
    const before = checkout();

    const local = await project.ok(["preview"]);
    assert.match(local.stdout, new RegExp(`up deploys ${tip.slice(0, 12)} \\(branch main\\)`), "no pull by default: the checkout's branch");
    await project.ok(["config", "set", "repo-sync:pull", "true"]);
    const fetched = await project.ok(["preview"]);
    for (const vm of ["vm01", "vm02"]) assert.match(fetched.stdout, new RegExp(`${vm}: revision ${c1.slice(0, 12)} \\(expected ${ahead.slice(0, 12)}\\); up deploys ${ahead.slice(0, 12)} \\(branch main\\)`));
    assert.deepEqual(checkout(), before, "the preview changed nothing of the checkout: HEAD, index, work tree, branches");
    assert.equal(repo.git("rev-parse", "refs/remotes/origin/main"), ahead, "only the remote-tracking ref moved");

    await project.ok(["up", "--yes"]);
    for (const vm of ["vm01", "vm02"]) {
      assert.equal(syncRev(fleet, vm), `${ahead}\n`, `${vm} holds the commit the preview named`);
      assert.equal(read(vm, "src/app.py"), "print('from origin')\n");
    }
    assert.deepEqual(checkout(), before, "nor did up");
    await project.ok(["config", "rm", "repo-sync:pull"]);
  });
});
