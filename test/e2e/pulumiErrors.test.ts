/**
 * Errors, logs and drift the Pulumi way, through the real engine (issue 22, items 7 and 8): a secret
 * in the commit, a bad setting, a VM down and a changed host key each fail `pulumi up` with one error
 * on the resource they are about (the message and its fix line), no stack trace, no object dump, no
 * "error serializing property"; messages about a VM are shown on that VM's target; each target's
 * `drift` output names what differs, after `pulumi refresh` and after `up`.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, plantSecret, SourceRepo } from "../../tools/fleet/sourceRepo";
import { diagnosticsByResource, syncRev } from "../support/e2e";
import { programProject, PulumiProject, PulumiRun } from "../../tools/pulumiCli";

const FIRST_OCTET = 238;
const COMPONENT = "repo-sync:index:RepoSync (repo-sync)";
const STACK = "pulumi:pulumi:Stack (repo-sync-dev)";
const target = (vm: string) => `pulumi-nodejs:dynamic/repo-sync:RepoSyncTarget (${vm})`;

/** The `error:` entries of a resource's diagnostics (an entry runs until the next `error:`/`warning:`). */
function errorsOf(diag: string | undefined): string[] {
  return (diag ?? "").split(/^(?=error: |warning: )/m).filter((e) => e.startsWith("error: "));
}

/** A failed run as the user sees it: non-zero exit, and nothing of a crash in the output. */
function assertCleanFailure(run: PulumiRun): void {
  const out = run.stdout + run.stderr;
  assert.notEqual(run.code, 0, out);
  assert.doesNotMatch(out, /^[ \t]+at .*:\d+:\d+\)?$/m, "no stack trace");
  assert.doesNotMatch(out, /error serializing property/);
  assert.doesNotMatch(out, /\x1b\[|\[Symbol\(|kind: '|unhandled exception/, "no object dump");
}

describe("pulumi up: clean errors on the right resource, logs on the VM's target, the drift output", function () {
  this.timeout(240_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let project: PulumiProject;
  let config: string;

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: FIRST_OCTET });
    repo = makeSourceRepo();
    // vm02 has a post-sync hook: when its sync fails, the hook's own failure is one clean line too.
    config = writeFleetConfig(fleet, path.join(fleet.baseDir, "config.yml"), { repoPath: repo.path, vms: { vm02: { post_sync_command: "true" } } });
    project = await programProject(config);
  });
  after(async () => {
    project?.dispose();
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("a bad setting: one error on the component, with the key and the fix line", async () => {
    const bad = writeFleetConfig(fleet, path.join(fleet.baseDir, "bad.yml"), { repoPath: repo.path, repository: { lock_timeout_s: -3 } });
    await project.ok(["config", "set", "repo-sync:configPath", bad]);
    try {
      const up = await project.run(["up", "--yes"]);
      assertCleanFailure(up);
      const errors = errorsOf(diagnosticsByResource(up.stdout)[COMPONENT]);
      assert.equal(errors.length, 1, up.stdout);
      assert.match(errors[0], /^error: invalid configuration in .*bad\.yml \(1 problem\):\n {2}- repository\.lock_timeout_s: .*\n {2}fix: \S/);
    } finally {
      await project.ok(["config", "set", "repo-sync:configPath", config]);
    }
  });

  it("a secret in the commit: one error on the component with the findings and the fix; no VM changes", async () => {
    const clean = repo.head();
    plantSecret(repo);
    try {
      const up = await project.run(["up", "--yes"]);
      assertCleanFailure(up);
      const errors = errorsOf(diagnosticsByResource(up.stdout)[COMPONENT]);
      assert.equal(errors.length, 1, up.stdout);
      assert.match(errors[0], /^error: secret scan \(gitleaks\) found 2 secrets in commit [0-9a-f]{12}; nothing was pushed to any VM:\n[\s\S]*config\/deploy\.env:3:aws-access-token[\s\S]*\n {2}fix: remove the secret from the repository/);
      for (const vm of fleet.vms) assert.equal(syncRev(fleet, vm.id), undefined);
      // Said once: no JSON alert under the stack, no ALERT warning beside the error.
      assert.equal(up.stdout.split("config/deploy.env:3").length - 1, 1, up.stdout);
      assert.doesNotMatch(up.stdout + up.stderr, /secrets_found/);
    } finally {
      repo.git("reset", "-q", "--hard", clean);
    }
  });

  it("drift: preview names each kind on vm02's target; `refresh` sets its `drift` output; `up` repairs it to none", async () => {
    await project.ok(["up", "--yes", "--skip-preview"]);
    const dir = fleet.vm("vm02").targetPath;
    fs.writeFileSync(path.join(dir, "src/app.py"), "edited by hand\n");
    fs.writeFileSync(path.join(dir, "notes.txt"), "made on the VM\n");
    fs.rmSync(path.join(dir, "README.md"));
    const line = "vm02: tree drift: 1 modified, 1 added, 1 deleted (modified: src/app.py; added: notes.txt; deleted: README.md)";
    const preview = await project.ok(["preview"]);
    const diag = diagnosticsByResource(preview.stdout);
    // The line goes on with the commit `up` would deploy (and what named it).
    assert.equal(diag[target("vm02")]?.replace(/; up deploys [0-9a-f]{12} \(branch main\)\n$/, "\n"), `${line}\n`, preview.stdout);
    assert.equal(diag[target("vm01")], undefined, "nothing is said about vm01");
    assert.doesNotMatch(diag[STACK] ?? "", /vm0/, "no VM line is left under the stack");

    await project.ok(["refresh", "--yes", "--run-program"]);
    const none = { compared: true, counts: { modified: 0, added: 0, deleted: 0 }, modified: [], added: [], deleted: [], more: 0 };
    const drifted = { compared: true, counts: { modified: 1, added: 1, deleted: 1 }, modified: ["src/app.py"], added: ["notes.txt"], deleted: ["README.md"], more: 0 };
    const state = await project.exportState();
    const outputsOf = (vm: string) => state.deployment.resources?.find((r) => r.urn.endsWith(`RepoSyncTarget::${vm}`))?.outputs;
    assert.deepEqual(outputsOf("vm02")?.drift, drifted);
    assert.deepEqual(outputsOf("vm01")?.drift, none);
    type Vms = Record<string, { drift: unknown }>;
    assert.deepEqual(((await project.outputs()).targets as Vms).vm02.drift, drifted, "the component's per-VM output");

    const up = await project.ok(["up", "--yes", "--skip-preview"]);
    assert.match(diagnosticsByResource(up.stdout)[target("vm02")] ?? "", /^vm02: repaired [0-9a-f]{12} \(2 files/m);
    assert.deepEqual(((await project.outputs()).targets as Vms).vm02.drift, none);
    assert.equal(fs.existsSync(path.join(dir, "notes.txt")), false);
  });

  it("a VM down: one error on its target, with the fix line; its hook's one line on the component; the other VM converges", async () => {
    const next = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    await fleet.stopVm("vm02");
    try {
      const up = await project.run(["up", "--yes", "--continue-on-error"]);
      assertCleanFailure(up);
      const diag = diagnosticsByResource(up.stdout);
      const errors = errorsOf(diag[target("vm02")]);
      assert.equal(errors.length, 1, up.stdout);
      assert.match(errors[0], new RegExp(`^error: vm02: connection to reposync@127\\.0\\.0\\.${FIRST_OCTET + 1}:22 refused[^\\n]*\\n[\\s\\S]*\\n {2}fix: check that the VM is up`));
      assert.deepEqual(errorsOf(diag[target("vm01")]), []);
      assert.doesNotMatch(diag[STACK] ?? "", /vm0/, "nothing about a VM under the stack");
      assert.deepEqual(errorsOf(diag[COMPONENT]), ["error: vm02: the post-sync hook did not run: the sync failed\n  fix: fix the sync's error; the next `pulumi up` syncs and runs the hook\n"]);
      assert.equal(syncRev(fleet, "vm01"), `${next}\n`);
    } finally {
      await fleet.startVm("vm02");
    }
  });

  it("a changed host key: one error on that VM's target naming the pin and the fix; nothing lands there", async () => {
    const before = syncRev(fleet, "vm02");
    await fleet.replaceHostKey("vm02");
    const up = await project.run(["up", "--yes"]);
    assertCleanFailure(up);
    const diag = diagnosticsByResource(up.stdout);
    const errors = errorsOf(diag[target("vm02")]);
    assert.equal(errors.length, 1, up.stdout);
    assert.doesNotMatch(diag[STACK] ?? "", /vm0/, "nothing about a VM under the stack");
    assert.match(errors[0], /^error: vm02: the host key of reposync@\S+ does not match the one pinned in \S+known_hosts[^\n]*\n[\s\S]*\n {2}fix: if the VM was reinstalled, verify its new fingerprint/);
    assert.equal(syncRev(fleet, "vm02"), before);
  });
});
