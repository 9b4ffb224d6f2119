/**
 * Rollouts through `pulumi preview` and `pulumi up` (real engine, real pulumi-resource-command plugin)
 * on a 3-VM fleet, `on_failure: stop` (the first failure stops, nothing is switched back: no wave gate
 * needed, rolloutGated.test.ts has those): the preview names the waves, each wave's targets wait for
 * the previous wave's health checks (resources `<vm>-health`), a failed check fails its VM by name and leaves the later
 * wave untouched, and the next up retries it and goes on. One fleet and one stack for the file.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readHistory } from "../../lib/target/session";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { fleetConfig, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { programProject, PulumiProject } from "../../tools/pulumiCli";
import type { Target } from "../../lib/config/types";

describe("rollouts through pulumi preview and pulumi up (waves gated by health checks)", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let project: PulumiProject;
  let flags: string;
  const sick = () => path.join(flags, "sick-vm01");
  const served = (vm: string) => fs.readlinkSync(path.join(fleet.vm(vm).targetPath, "current")).slice("releases/".length);
  /** When each VM last switched, from its audit trail (read over SSH, as `repo-sync history` does). */
  const lastDeploy = async (vm: string): Promise<number> => {
    const doc = fleetConfig(fleet, { repoPath: repo.path }) as { ssh: { key_path: string; known_hosts_path: string } };
    const v = fleet.vm(vm);
    const t: Target = { vm, host: v.host, port: v.port, user: v.user, keyPath: doc.ssh.key_path, knownHostsPath: doc.ssh.known_hosts_path, connectTimeoutS: 5, acceptNewHostKeys: false, path: v.targetPath };
    const deploys = (await readHistory(t)).entries.filter((e) => e.event === "deploy");
    return Date.parse(deploys[deploys.length - 1].time);
  };

  before(async function () {
    if (spawnSync("sh", ["-c", "command -v pulumi-resource-command"]).status !== 0) throw new Error("pulumi-resource-command is not on PATH: run ./run.sh setup");
    fleet = await startFleet({ count: 3, firstOctet: 207 });
    repo = makeSourceRepo();
    flags = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-rollout-"));
    fs.chmodSync(flags, 0o777);
    const cfg = writeFleetConfig(fleet, path.join(fleet.baseDir, "config.yml"), {
      repoPath: repo.path,
      repository: {
        layout: "releases",
        rollout: { waves: [1, "100%"], on_failure: "stop", bake_s: 3 },
        health_check: { command: `[ "$REPO_SYNC_REVISION" = "$(cat .sync_rev)" ] && [ "$(pwd -P)" = "$(cd "$REPO_SYNC_RELEASE" && pwd -P)" ]`, retries: 0 },
      },
      // vm01's check takes 2 s: without the gate the second wave would switch before it ends.
      vms: { vm01: { health_check: { command: `sleep 2; if [ -e ${sick()} ]; then echo "vm01 is sick" >&2; exit 4; fi`, retries: 1, interval_s: 1 } } },
    });
    project = await programProject(cfg);
  });
  after(async () => {
    project?.dispose();
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
    if (flags) fs.rmSync(flags, { recursive: true, force: true });
  });

  it("preview names the waves; up runs wave 2 only after wave 1's health check", async () => {
    const preview = await project.ok(["preview"]);
    assert.match(preview.stdout, /rollout: wave 1: vm01 \| wave 2: vm02, vm03 \(each wave waits for the previous wave's health checks\)/);
    assert.doesNotMatch(preview.stdout, /RepoSyncWave/, "on_failure: stop with max_failures 0 needs no gate");
    assert.match(preview.stdout, /vm01-health/);
    assert.match(preview.stdout, /command:local:Command\s+\S*bake-1/);
    await project.ok(["up", "--yes", "--skip-preview"]);
    const head = repo.head();
    for (const vm of ["vm01", "vm02", "vm03"]) assert.equal(served(vm), head, vm);
    const first = await lastDeploy("vm01");
    for (const vm of ["vm02", "vm03"]) {
      const gap = (await lastDeploy(vm)) - first;
      // vm01's check (2 s), then the bake (3 s).
      assert.ok(gap >= 5000, `${vm} switched ${gap} ms after vm01: before vm01's health check and the bake ended`);
    }
  });

  it("a failed check fails its VM by name; the next wave is not touched; the next up retries it and goes on", async () => {
    const old = repo.head();
    fs.writeFileSync(sick(), "");
    const next = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    const up = await project.run(["up", "--yes", "--skip-preview"]);
    assert.notEqual(up.code, 0);
    assert.match(up.stdout + up.stderr, /vm01-health/);
    assert.match(up.stdout + up.stderr, /vm01 is sick/);
    assert.match(up.stdout + up.stderr, /health check failed after 2 attempt\(s\): exit 4/);
    assert.deepEqual(["vm01", "vm02", "vm03"].map(served), [next, old, old], "vm01 switched (on_failure: stop leaves it), the second wave not touched");
    fs.rmSync(sick());
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(["vm01", "vm02", "vm03"].map(served), [next, next, next]);
  });
});
