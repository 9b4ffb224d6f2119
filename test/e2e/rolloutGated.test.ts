/**
 * A rollout that can roll back or go on past failures, through `pulumi preview` and `pulumi up` (real
 * engine, sshd fleet of 6 VMs, releases layout): waves [1, 2, "100%"] gated by RepoSyncWave resources.
 * The preview shows the gates; a health check failing on one VM of the second wave makes its gate
 * switch the first two waves back (a reader on every VM never sees a mixed tree), the third wave is
 * never touched, the history on each VM tells it; a failed sync is counted the same way; failures
 * within `max_failures` let the rollout go on and fail the up at its end. One fleet and one stack.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Target } from "../../lib/config/types";
import type { HistoryEntry } from "../../lib/target/history";
import { readHistory } from "../../lib/target/session";
import { fleetConfig, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { snapshot, version, whileReading } from "../support/mixedTree";
import { type RolloutStack, type StackParts, startRolloutStack } from "../support/rolloutStack";

describe("gated rollouts through pulumi preview and pulumi up (rollback, max_failures)", function () {
  this.timeout(400_000);
  let st: RolloutStack;
  const wave3 = ["vm04", "vm05", "vm06"];
  const ids = () => st.ids();
  const dir = (vm: string) => st.dir(vm);
  const served = (vm: string) => st.served(vm);
  const sick = (flags = st.flags) => path.join(flags, "sick-vm03");
  const hookLog = (flags = st.flags) => path.join(flags, "hook-vm04");
  const hookRuns = (commit: string) => fs.readFileSync(hookLog(), "utf8").split("\n").filter((l) => l === commit).length;
  const CHECK = `[ "$REPO_SYNC_REVISION" = "$(cat .sync_rev)" ] && test -f src/app.py`;
  const write = (rollout: Record<string, unknown>, s: StackParts = st) => writeFleetConfig(s.fleet, s.cfg, {
    repoPath: s.repo.path,
    repository: { layout: "releases", keep_releases: 3, rollout: { waves: [1, 2, "100%"], ...rollout }, health_check: { command: CHECK, retries: 0 } },
    vms: {
      vm03: { health_check: { command: `if [ -e ${sick(s.flags)} ]; then echo "vm03 is sick" >&2; exit 3; fi`, retries: 0 } },
      // The gate runs it (no vm04-post-sync resource): each run of it is a line.
      vm04: { post_sync_command: `echo "$REPO_SYNC_REVISION" >> ${hookLog(s.flags)}` },
    },
  });
  /** Each VM's trail since `since` (ISO time), read over SSH as `repo-sync history` does. */
  const trail = async (vm: string, since: string): Promise<HistoryEntry[]> => {
    const doc = fleetConfig(st.fleet, { repoPath: st.repo.path }) as { ssh: { key_path: string; known_hosts_path: string } };
    const v = st.fleet.vm(vm);
    const t: Target = { vm, host: v.host, port: v.port, user: v.user, keyPath: doc.ssh.key_path, knownHostsPath: doc.ssh.known_hosts_path, connectTimeoutS: 5, acceptNewHostKeys: false, path: v.targetPath };
    return (await readHistory(t)).entries.filter((e: HistoryEntry) => e.time >= since);
  };
  const story = async (vm: string, since: string): Promise<string[][]> => (await trail(vm, since)).map((e) => [e.event, e.commit, e.previous ?? "", e.result]);
  const deployedAt = async (vm: string, since: string): Promise<number> => Date.parse((await trail(vm, since)).filter((e) => e.event === "deploy")[0].time);

  before(async () => {
    st = await startRolloutStack(6, 210, (s) => write({ on_failure: "rollback" }, s), version("v0"));
  });
  after(async () => st?.dispose());

  it("preview shows the waves and their gates; a failed check in wave 2 switches waves 1 and 2 back, wave 3 is never touched, no reader sees a mixed tree, the history tells it", async () => {
    const old = st.repo.head();
    const next = st.repo.commit({ ...version("v1"), "src/app.py": "print('v1')\n" }, "mix v1");
    fs.writeFileSync(sick(), "");
    const preview = await st.project.ok(["preview"]);
    assert.match(preview.stdout, /rollout: wave 1: vm01 \| wave 2: vm02, vm03 \| wave 3: vm04, vm05, vm06 \(each wave waits for the previous wave's gate, repo-sync-wave-N, .*switching back every VM this run switched\)/);
    assert.doesNotMatch(preview.stdout, /CLI only/);
    for (const n of [1, 2, 3]) assert.match(preview.stdout, new RegExp(`~\\s+pulumi-nodejs:dynamic/repo-sync:RepoSyncWave\\s+repo-sync-wave-${n}\\s+update`));
    assert.doesNotMatch(preview.stdout, /-health\b/, "the gate runs the checks: no per-VM health resource");
    const since = new Date().toISOString();
    const before = Object.fromEntries(wave3.map((vm) => [vm, snapshot(dir(vm))]));
    // A reader on every VM, like a service: one version at a time, always (whileReading asserts it).
    const up = await whileReading(st.fleet, ids(), () => st.project.run(["up", "--yes", "--skip-preview"]));
    const out = up.stdout + up.stderr;
    assert.notEqual(up.code, 0, out);
    assert.match(out, /rollout stopped at wave 2 of 3 and rolled back: 1 of 2 VM\(s\) of wave 2 failed, more than max_failures 0: vm03 \(health: health check failed after 1 attempt: the command exited with 3/);
    for (const vm of ["vm01", "vm02", "vm03"]) assert.match(out, new RegExp(`${vm} serves ${old.slice(0, 12)} again`));
    assert.match(out, /the waves after wave 2 were not started/);
    assert.match(out, /vm03 is sick/);
    for (const vm of ids()) assert.equal(served(vm), old, `${vm} serves the old release`);
    for (const vm of ["vm01", "vm02", "vm03"]) assert.ok(fs.existsSync(path.join(dir(vm), "releases", next, ".sync_rev")), `${vm} keeps the new release beside`);
    for (const vm of wave3) assert.deepEqual(snapshot(dir(vm)), before[vm], `${vm}'s tree and markers are unchanged`);
    const deployed = ["deploy", next, old, "ok"];
    const back = ["rollback", old, next, "ok"];
    assert.deepEqual(await story("vm01", since), [deployed, back]);
    assert.deepEqual(await story("vm02", since), [deployed, back]);
    assert.deepEqual(await story("vm03", since), [deployed, ["health-check", next, "", "failed"], back]);
    for (const vm of wave3) assert.deepEqual(await story(vm, since), []);
    assert.equal(hookRuns(next), 0, "wave 3's hook never ran for the rolled-back commit");

    // Fixed: the next up deploys the waves again (the preview sees waves 1 and 2 off the commit).
    fs.rmSync(sick());
    const again = await st.project.ok(["preview"]);
    for (const vm of ["vm01", "vm02", "vm03"]) assert.match(again.stdout, new RegExp(`~\\s+pulumi-nodejs:dynamic/repo-sync:RepoSyncTarget\\s+${vm}\\s+update`));
    await st.project.ok(["up", "--yes", "--skip-preview"]);
    for (const vm of ids()) assert.equal(served(vm), next, vm);
    const noChange = await st.project.ok(["preview", "--expect-no-changes"]);
    assert.doesNotMatch(noChange.stdout, /RepoSyncWave.*update/);
  });

  it("a failed sync in wave 2 counts like a failed check: wave 1 is switched back, wave 3 untouched", async () => {
    const old = st.repo.head();
    const next = st.repo.commit({ ...version("v2"), "src/app.py": "print('v2')\n" }, "mix v2");
    const releases = path.join(dir("vm02"), "releases");
    const before = Object.fromEntries(wave3.map((vm) => [vm, snapshot(dir(vm))]));
    fs.chmodSync(releases, 0o555);
    let up;
    try {
      up = await st.project.run(["up", "--yes", "--skip-preview"]);
    } finally {
      fs.chmodSync(releases, 0o755);
    }
    const out = up.stdout + up.stderr;
    assert.notEqual(up.code, 0, out);
    assert.match(out, /rollout stopped at wave 2 of 3 and rolled back: 1 of 2 VM\(s\) of wave 2 failed, more than max_failures 0: vm02 \(sync: /);
    assert.match(out, /the wave's gate counts this failure/);
    assert.deepEqual(ids().map(served), [old, old, old, old, old, old]);
    for (const vm of wave3) assert.deepEqual(snapshot(dir(vm)), before[vm], `${vm} untouched`);
    await st.project.ok(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(ids().map(served), [next, next, next, next, next, next]);
  });

  it("max_failures: a failure within the limit lets the rollout go on after the bake; the up fails at its end naming the VM, which stays as it failed", async () => {
    write({ on_failure: "rollback", max_failures: 1, bake_s: 2 });
    const since = new Date().toISOString();
    const next = st.repo.commit({ ...version("v3"), "src/app.py": "print('v3')\n" }, "mix v3");
    fs.writeFileSync(sick(), "");
    const up = await st.project.run(["up", "--yes", "--skip-preview"]);
    const out = up.stdout + up.stderr;
    assert.notEqual(up.code, 0, out);
    assert.match(out, /wave 2: vm03 \(health: .*within max_failures 1, the rollout goes on/);
    assert.match(out, /rollout of [0-9a-f]{12} done, but 1 VM\(s\) failed within max_failures 1: vm03/);
    assert.deepEqual(ids().map(served), [next, next, next, next, next, next], "every wave ran; vm03 stays as it failed");
    const gap = (await deployedAt("vm04", since)) - (await deployedAt("vm02", since));
    assert.ok(gap >= 2000, `wave 3 switched ${gap} ms after wave 2: the gate's bake_s (2 s) was not waited`);
    assert.equal(hookRuns(next), 1, "vm04's hook ran once, by the last gate");
    fs.rmSync(sick());
    // The gate that saw vm03 fail checks it again, and the run passes.
    const fixed = await st.project.run(["up", "--yes", "--skip-preview"]);
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
    assert.match(fixed.stdout + fixed.stderr, /vm03: healthy/);
    assert.equal(hookRuns(next), 1, "the failed last gate kept what passed: vm04's hook did not run again");
    assert.doesNotMatch(fixed.stdout + fixed.stderr, /vm0[456]: healthy/, "nor were the third wave's checks run again");
  });

  it("a stack whose last gate failed refreshes and destroys cleanly (the gate's kept state carries its provider)", async () => {
    st.repo.commit({ ...version("v4") }, "mix v4");
    fs.writeFileSync(sick(), "");
    const up = await st.project.run(["up", "--yes", "--skip-preview"]);
    assert.notEqual(up.code, 0);
    assert.match(up.stdout + up.stderr, /failed within max_failures 1: vm03/);
    await st.project.ok(["refresh", "--yes", "--skip-preview"]);
    await st.project.ok(["destroy", "--yes", "--skip-preview"]);
    for (const vm of ids()) assert.ok(fs.existsSync(path.join(dir(vm), "current")), `${vm}'s tree stays (removeOnDelete is off)`);
  });
});
