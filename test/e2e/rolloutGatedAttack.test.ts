/**
 * Attacks on a gated rollout through `pulumi up` (RepoSyncWave gates, lib/sync/waveGate.ts): real
 * engine, sshd fleet of 4 VMs, releases layout, waves [1, 1, "100%"] (vm01 | vm02 | vm03, vm04).
 * Each VM's post-sync hook appends the revision it ran for to a file beside the fleet, so the tests
 * count how often a hook ran for one commit; each VM's health check fails while a flag file exists.
 * - the last wave with a failure within max_failures: the next `up` hooks only what it must;
 * - a failure within max_failures in the first of three waves fails the `up` at its end;
 * - a VM already on the new commit that this run did not switch is named when the gate rolls back;
 * - a prune failing after the switch (inside the target): the VM is switched back all the same.
 * One fleet and one stack.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli } from "../support/cli";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { type RolloutStack, type StackParts, startRolloutStack } from "../support/rolloutStack";

describe("gated rollouts through pulumi up, attacked (hooks per commit, what a rollback names, a failure after the switch)", function () {
  this.timeout(400_000);
  let st: RolloutStack;
  const ids = () => st.ids();
  const dir = (vm: string) => st.dir(vm);
  const served = (vm: string) => st.served(vm);
  const sick = (vm: string, flags = st.flags) => path.join(flags, `sick-${vm}`);
  const hookLog = (vm: string, flags = st.flags) => path.join(flags, `hooks-${vm}`);
  /** How many times vm's hook ran for `commit`. */
  const hookRuns = (vm: string, commit: string) => (fs.existsSync(hookLog(vm)) ? fs.readFileSync(hookLog(vm), "utf8").split("\n").filter((l) => l === commit).length : 0);
  const write = (rollout: Record<string, unknown>, s: StackParts = st) => writeFleetConfig(s.fleet, s.cfg, {
    repoPath: s.repo.path,
    repository: { layout: "releases", keep_releases: 2, rollout: { waves: [1, 1, "100%"], ...rollout } },
    vms: Object.fromEntries(s.fleet.vms.map((v) => [v.id, {
      post_sync_command: `echo "$REPO_SYNC_REVISION" >> ${hookLog(v.id, s.flags)}`,
      health_check: { command: `if [ -e ${sick(v.id, s.flags)} ]; then echo "${v.id} is sick" >&2; exit 3; fi`, retries: 0 },
    }])),
  });

  before(async () => {
    st = await startRolloutStack(4, 218, (s) => write({ on_failure: "rollback", max_failures: 1 }, s));
  });
  after(async () => st?.dispose());

  it("a failure within max_failures in the last wave: once fixed, the next up hooks no VM again for the same commit", async () => {
    const next = st.repo.commit({ "src/app.py": "print('x1')\n" }, "x1");
    fs.writeFileSync(sick("vm04"), "");
    const up = await st.project.run(["up", "--yes", "--skip-preview"]);
    const out = up.stdout + up.stderr;
    assert.notEqual(up.code, 0, out);
    assert.match(out, /rollout of [0-9a-f]{12} done, but 1 VM\(s\) failed within max_failures 1: vm04/);
    assert.deepEqual(ids().map(served), ids().map(() => next));
    assert.deepEqual(ids().map((vm) => hookRuns(vm, next)), [1, 1, 1, 1], "each hook ran once");
    fs.rmSync(sick("vm04"));
    const fixed = await st.project.run(["up", "--yes", "--skip-preview"]);
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
    assert.match(fixed.stdout + fixed.stderr, /vm04: healthy/);
    // vm03 passed its hook and check for this commit at the first up: nothing to run again. vm04's
    // hook passed too (its check failed): the retry checks it, as `<vm>-health` would be run again.
    assert.deepEqual(ids().map((vm) => hookRuns(vm, next)), [1, 1, 1, 1], "no hook ran twice for one commit");
    await st.project.ok(["preview", "--expect-no-changes"]);
  });

  it("a failure within max_failures two waves before the last still fails the up at its end, naming the VM", async () => {
    const next = st.repo.commit({ "src/app.py": "print('x1b')\n" }, "x1b");
    fs.writeFileSync(sick("vm01"), "");
    const up = await st.project.run(["up", "--yes", "--skip-preview"]);
    const out = up.stdout + up.stderr;
    assert.match(out, /wave 1: vm01 \(health: .*within max_failures 1, the rollout goes on/);
    assert.deepEqual(ids().map(served), ids().map(() => next), "every wave ran");
    assert.notEqual(up.code, 0, `vm01 failed: the up must not pass\n${out}`);
    assert.match(out, /rollout of [0-9a-f]{12} done, but 1 VM\(s\) failed within max_failures 1: vm01/);
    // Not fixed yet: the next up checks vm01 again and fails again.
    const again = await st.project.run(["up", "--yes", "--skip-preview"]);
    assert.notEqual(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout + again.stderr, /done, but 1 VM\(s\) failed within max_failures 1: vm01/);
    fs.rmSync(sick("vm01"));
    const fixed = await st.project.run(["up", "--yes", "--skip-preview"]);
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
    assert.match(fixed.stdout + fixed.stderr, /vm01: healthy/);
    assert.deepEqual(ids().map((vm) => hookRuns(vm, next)), [1, 1, 1, 1], "no hook ran twice for one commit");
  });

  it("a VM already on the new commit, that this run did not switch (a CLI sync before it), is named when the gate rolls back", async () => {
    write({ on_failure: "rollback", max_failures: 0 });
    const old = st.repo.head();
    const next = st.repo.commit({ "src/app.py": "print('x2')\n" }, "x2");
    const cli = await runCli(["sync", "vm01", "--config", st.cfg]);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    assert.equal(served("vm01"), next);
    fs.writeFileSync(sick("vm02"), "");
    let up;
    try {
      up = await st.project.run(["up", "--yes", "--skip-preview"]);
    } finally {
      fs.rmSync(sick("vm02"));
    }
    const out = up.stdout + up.stderr;
    assert.notEqual(up.code, 0, out);
    assert.match(out, /rollout stopped at wave 2 of 3 and rolled back: .*vm02 \(health: /);
    assert.match(out, new RegExp(`vm02 serves ${old.slice(0, 12)} again`));
    assert.deepEqual(ids().map(served), [next, old, old, old], "vm01 stays where the CLI put it");
    const lastHook = (vm: string) => fs.readFileSync(hookLog(vm), "utf8").trim().split("\n").pop();
    assert.equal(lastHook("vm02"), old, "vm02's hook ran again in the release it was switched back to");
    // The gate's error says what each VM of the waves that ran serves now: vm01 too (the CLI's
    // rollout names such a VM as already on the new commit).
    assert.match(out, new RegExp(`rollout stopped at wave 2 of 3 and rolled back: .*already on ${next.slice(0, 12)} before this run \\(not switched back\\): vm01;`));
  });

  it("a prune failing after the switch in wave 1 counts as its failure, and the gate switches it back", async () => {
    // Where the last case left them: vm01 on x2 (the CLI's), the others on x1.
    const before = ids().map(served);
    const next = st.repo.commit({ "src/app.py": "print('x3')\n" }, "x3");
    // keep_releases 2: the switch of vm01 to x3 prunes every release but x3 and the one it served.
    const releases = path.join(dir("vm01"), "releases");
    const stuck = fs.readdirSync(releases).filter((r) => r !== served("vm01") && /^[0-9a-f]{40}$/.test(r)).map((r) => path.join(releases, r, "src"));
    assert.ok(stuck.length > 0, "vm01 keeps a release to prune");
    for (const s of stuck) fs.chmodSync(s, 0o555);
    let up;
    try {
      up = await st.project.run(["up", "--yes", "--skip-preview"]);
    } finally {
      for (const s of stuck) fs.chmodSync(s, 0o755);
    }
    const out = up.stdout + up.stderr;
    assert.notEqual(up.code, 0, out);
    assert.match(out, /the wave's gate counts this failure/);
    assert.match(out, /rollout stopped at wave 1 of 3 and rolled back: 1 of 1 VM\(s\) of wave 1 failed, more than max_failures 0: vm01 \(sync: /);
    assert.match(out, new RegExp(`vm01 serves ${before[0].slice(0, 12)} again`));
    assert.deepEqual(ids().map(served), before, "vm01 switched back; waves 2 and 3 untouched");
    assert.ok(fs.existsSync(path.join(releases, next, ".sync_rev")));
    // Fixed: the next up deploys every wave.
    await st.project.ok(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(ids().map(served), ids().map(() => next));
  });
});
