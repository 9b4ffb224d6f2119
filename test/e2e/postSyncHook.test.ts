/**
 * `vms.<id>.post_sync_command` through @pulumi/command's remote.Command and the real
 * pulumi-resource-command plugin (built by ./run.sh setup), on the fleet: once per new revision, not on a
 * no-change up nor on a drift repair nor on a new key, a failure named by VM while the others
 * converge, retried by the next up; its preview shows a run exactly when `up` makes one.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { parseEngineJson, parseUpJson, programProject, PulumiProject } from "../../tools/pulumiCli";
import { hookSteps, PreviewJson, syncRev } from "../support/e2e";

/** True when the engine can load the plugin (on PATH, as ./run.sh setup puts it). */
function commandPluginAvailable(): boolean {
  return spawnSync("sh", ["-c", "command -v pulumi-resource-command"]).status === 0;
}

describe("post-sync hooks through @pulumi/command remote.Command (real plugin, real engine)", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let project: PulumiProject;
  let logs: string;
  const log = (vm: string) => (fs.existsSync(path.join(logs, `${vm}.log`)) ? fs.readFileSync(path.join(logs, `${vm}.log`), "utf8").trim().split("\n") : []);
  const block = () => path.join(logs, "block-vm02");
  let settings: Parameters<typeof writeFleetConfig>[2];
  let cfg: string;
  const preview = async () => parseEngineJson<PreviewJson>(await project.ok(["preview", "--json"]));

  before(async function () {
    if (!commandPluginAvailable()) {
      // ./run.sh setup builds it from ../shared/vendor when `pulumi plugin install` cannot download it.
      throw new Error("pulumi-resource-command is not on PATH: run ./run.sh setup (see its warning for what is missing)");
    }
    fleet = await startFleet({ count: 2, firstOctet: 131 });
    repo = makeSourceRepo();
    // The hooks write where the tests can read, outside the synced trees (rsync --delete owns those).
    logs = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-hooks-"));
    fs.chmodSync(logs, 0o777);
    const hook = (vm: string) => `echo "$REPO_SYNC_REVISION $(cat src/app.py)" >> ${logs}/${vm}.log`;
    settings = {
      repoPath: repo.path,
      // What a hook makes in the target (build output) is the VM's own: excluded, so that it is neither
      // drift nor deleted by the next sync (README, Post-sync hooks).
      repository: { rsync_excludes: [".git", "__pycache__", ".vscode", "/build/"] },
      vms: {
        vm01: { post_sync_command: `${hook("vm01")} && mkdir -p build && echo "$REPO_SYNC_REVISION" > build/stamp` },
        vm02: { post_sync_command: `if [ -e ${block()} ]; then echo "vm02 refuses: ${block()} exists" >&2; exit 7; fi; ${hook("vm02")}` },
      },
    };
    cfg = writeFleetConfig(fleet, path.join(fleet.baseDir, "config.yml"), settings);
    project = await programProject(cfg);
  });
  after(async () => {
    project?.dispose();
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
    if (logs) fs.rmSync(logs, { recursive: true, force: true });
  });

  it("runs once per VM after its tree landed, in the target directory, told the revision", async () => {
    await project.ok(["up", "--yes", "--skip-preview"]);
    const head = repo.head();
    for (const vm of ["vm01", "vm02"]) {
      assert.equal(syncRev(fleet, vm), `${head}\n`);
      assert.deepEqual(log(vm), [`${head} print('hello from th_timmy')`], vm);
    }
    assert.equal(fs.readFileSync(path.join(fleet.vm("vm01").targetPath, "build/stamp"), "utf8"), `${head}\n`, "the hook wrote its build output in the target");
    // remote.Command keeps its connection's key in state: as a secret, encrypted, never in plain text.
    const keyBody = fs.readFileSync(fleet.clientKeyPath, "utf8").split("\n")[1];
    const stored = (await project.ok(["stack", "export"])).stdout;
    assert.equal(stored.includes(keyBody), false, "no plain-text key in state");
    assert.match(stored, /"ciphertext"/);
  });

  it("does not run on a no-change up, nor on a drift repair (same revision)", async () => {
    const up = await project.ok(["up", "--yes", "--json"]);
    // The hook's build/ is excluded: no drift, nothing to repair.
    assert.deepEqual(parseUpJson(up).events.find((e) => e.summaryEvent)?.summaryEvent?.resourceChanges, { same: 6 }); // stack, component, 2 targets, 2 hooks
    fs.writeFileSync(path.join(fleet.vm("vm01").targetPath, "src/app.py"), "hand edit\n");
    // The preview tells what up does: vm01's target is updated, no hook is replaced or updated.
    const repair = await preview();
    assert.deepEqual(hookSteps(repair), []);
    assert.deepEqual(repair.changeSummary, { same: 5, update: 1 });
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.equal(fs.readFileSync(path.join(fleet.vm("vm01").targetPath, "src/app.py"), "utf8"), "print('hello from th_timmy')\n", "repaired");
    assert.equal(log("vm01").length, 1, "the hook did not run again for the same revision");
    assert.equal(log("vm02").length, 1);
  });

  it("the key moved to another path: the targets are updated, no hook step; a new key: the hooks' connection is updated, no hook runs", async () => {
    const moved = path.join(fleet.baseDir, "keys", "moved_id_ed25519");
    fs.mkdirSync(path.dirname(moved), { recursive: true });
    fs.copyFileSync(fleet.clientKeyPath, moved);
    fs.chmodSync(moved, 0o600);
    writeFleetConfig(fleet, cfg, { ...settings, ssh: { key_path: moved } });
    const keyPath = await preview();
    assert.deepEqual(hookSteps(keyPath), []);
    assert.deepEqual(keyPath.changeSummary, { same: 4, update: 2 });
    await project.ok(["up", "--yes", "--skip-preview"]);

    // A new key (authorized on the VMs): remote.Command updates its connection; its update command
    // is a no-op, so no service restarts for a key rotation.
    const rotated = path.join(fleet.baseDir, "keys", "rotated_id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rotated", "-f", rotated]);
    fs.appendFileSync(path.join(fleet.baseDir, "etc", "authorized_keys"), fs.readFileSync(`${rotated}.pub`));
    settings = { ...settings, ssh: { key_path: rotated } };
    writeFleetConfig(fleet, cfg, settings);
    assert.deepEqual(hookSteps(await preview()), ["vm01-post-sync update", "vm02-post-sync update"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.equal(log("vm01").length, 1, "no hook ran for a new key");
    assert.equal(log("vm02").length, 1);
    assert.equal((await project.run(["preview", "--expect-no-changes"])).code, 0);
  });

  it("a failing hook fails its VM by name; the tree landed, the other VM converges; the next up retries it", async () => {
    fs.writeFileSync(block(), "");
    const next = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    // A new commit: one hook run per VM with a hook, known in the preview.
    assert.deepEqual(hookSteps(await preview()), ["vm01-post-sync replace", "vm02-post-sync replace"]);
    const up = await project.run(["up", "--yes", "--continue-on-error"]);
    assert.notEqual(up.code, 0);
    assert.match(up.stdout + up.stderr, /vm02-post-sync/);
    assert.match(up.stdout + up.stderr, /vm02 refuses/);
    assert.deepEqual(log("vm01").slice(-1), [`${next} print('v2')`]);
    assert.equal(fs.readFileSync(path.join(fleet.vm("vm01").targetPath, "build/stamp"), "utf8"), `${next}\n`, "kept by the sync, rewritten by the hook");
    assert.equal(syncRev(fleet, "vm02"), `${next}\n`, "the tree did land: .sync_rev says what vm02 holds");
    assert.equal(log("vm02").length, 1, "no line from the failed run");

    fs.rmSync(block());
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(log("vm02").slice(-1), [`${next} print('v2')`], "retried by the next up");
    assert.equal(log("vm01").length, 2, "vm01's hook is not run again");
  });

  it("vm01's tree moved to another path: its target and its hook are replaced, and the hook runs there", async () => {
    const moved = path.join(fleet.vm("vm01").root, "app-moved");
    writeFleetConfig(fleet, cfg, { ...settings, repository: { ...settings.repository, vm_repo_paths: { vm01: moved, vm02: fleet.vm("vm02").targetPath } } });
    assert.deepEqual(hookSteps(await preview()), ["vm01-post-sync replace"]);
    await project.ok(["up", "--yes", "--skip-preview"]);
    assert.equal(fs.readFileSync(path.join(moved, "build/stamp"), "utf8"), `${repo.head()}\n`, "the hook ran in the new place");
    assert.equal(log("vm01").length, 3);
    assert.equal(log("vm02").length, 2);
  });
});
