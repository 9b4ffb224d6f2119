/**
 * Rollouts on a 6-VM loopback fleet (releases layout), through the real CLI: waves [1, 2, "100%"],
 * a health check failing on one VM of the second wave, `on_failure: rollback` puts the first two
 * waves back on the old release (a reader on every VM never sees a mixed tree) and never touches the
 * third (bytes and sshd's connection log unchanged); `stop` leaves the switched VMs on the new commit
 * and names them; `bake_s` spaces the waves; `repo-sync history` tells each VM's story. One fleet for
 * the file, started once.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { HistoryDoc, SyncDoc } from "../../cli/format";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { json, runCli } from "../support/cli";
import { snapshot, version, whileReading } from "../support/mixedTree";

/**
 * A run that joins no kept SSH connection (REPO_SYNC_SSH_PERSIST_S=0): every session it opens is a
 * handshake the VM counts, so "never connected to" means what it says (the before hook's sync leaves
 * every VM's master kept for a minute, and a session on one would not show in the count).
 */
const ONE_RUN = { REPO_SYNC_SSH_PERSIST_S: "0" };

describe("rollouts: waves, health checks, automatic rollback, audit trail (CLI)", function () {
  this.timeout(300_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  const ids = () => fleet.vms.map((v) => v.id);
  const dir = (vm: string) => fleet.vm(vm).targetPath;
  const served = (vm: string) => fs.readlinkSync(path.join(dir(vm), "current")).slice("releases/".length);
  const attempts = (vm: string) => path.join(fleet.vm(vm).root, "attempts");
  /** The health check every VM runs: the served release, its revision and the environment agree. */
  const CHECK = `[ "$REPO_SYNC_REVISION" = "$(cat .sync_rev)" ] && [ "$(pwd -P)" = "$(cd "$REPO_SYNC_RELEASE" && pwd -P)" ] && test -f src/app.py`;
  const write = (repository: Record<string, unknown> = {}, vms: Record<string, Record<string, unknown>> = {}) =>
    writeFleetConfig(fleet, cfg, { repoPath: repo.path, repository: { layout: "releases", keep_releases: 3, parallelism: 4, health_check: { command: CHECK, timeout_s: 20, retries: 0 }, ...repository }, vms });
  /** vm03's own check: sick (it counts its attempts outside the tree, on stderr says why). */
  const sickVm03 = () => ({ vm03: { health_check: { command: `echo attempt >> ${JSON.stringify(attempts("vm03"))}; echo "vm03 is sick" >&2; exit 3`, retries: 1, interval_s: 1 } } });
  const history = async () => {
    const run = await runCli(["history", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    return Object.fromEntries(json<HistoryDoc>(run).vms.map((h) => [h.vm, h.entries]));
  };

  before(async () => {
    fleet = await startFleet({ count: 6, firstOctet: 200, logLevel: "INFO" });
    repo = makeSourceRepo();
    repo.commit(version("v0"), "mix v0");
    cfg = path.join(fleet.baseDir, "config.yml");
    write({ health_check: null });
    const run = await runCli(["sync", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, run.stderr);
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("rollback: a health check failing in wave 2 puts waves 1 and 2 back on the old release, wave 3 is never touched, no reader sees a mixed tree, the history tells it", async () => {
    const old = repo.head();
    const next = repo.commit({ ...version("v1"), "src/app.py": "print('v1')\n" }, "mix v1");
    write({ rollout: { waves: [1, 2, "100%"], on_failure: "rollback" } }, sickVm03());
    const wave3 = ["vm04", "vm05", "vm06"];
    const before = Object.fromEntries(wave3.map((vm) => [vm, snapshot(dir(vm))]));
    const connections = Object.fromEntries(wave3.map((vm) => [vm, fleet.connectionCount(vm)]));
    // A reader on every VM, like a service: one version at a time, always (whileReading asserts it).
    const run = await whileReading(fleet, ids(), () => runCli(["sync", "--config", cfg, "--json"], { env: ONE_RUN }));
    assert.equal(run.code, 1, run.stderr);
    const doc = json<SyncDoc>(run);
    assert.equal(doc.ok, false);
    assert.deepEqual(doc.rollout?.waves, [["vm01"], ["vm02", "vm03"], wave3]);
    assert.equal(doc.rollout?.stopped_at_wave, 2);
    assert.deepEqual(doc.rollout?.rolled_back.slice().sort(), ["vm01", "vm02", "vm03"]);
    assert.deepEqual(doc.rollout?.untouched, wave3);
    assert.deepEqual(doc.rollout?.left_on_new, []);
    const byVm = Object.fromEntries(doc.results.map((r) => [r.vm, r]));
    assert.deepEqual(ids().map((vm) => [vm, byVm[vm].action, byVm[vm].wave]), [["vm01", "rolled-back", 1], ["vm02", "rolled-back", 2], ["vm03", "rolled-back", 2], ["vm04", "skipped", 3], ["vm05", "skipped", 3], ["vm06", "skipped", 3]]);
    assert.equal(byVm.vm03.error?.kind, "health");
    assert.match(byVm.vm03.error?.message ?? "", /^vm03: health check failed after 2 attempts: the command exited with 3 \(in .*\/releases\/[0-9a-f]{40}, REPO_SYNC_REVISION=/);
    assert.match(byVm.vm03.error?.message ?? "", /vm03 is sick/);
    assert.deepEqual([byVm.vm01.health?.ok, byVm.vm02.health?.ok, byVm.vm03.health?.attempts], [true, true, 2]);
    assert.equal(fs.readFileSync(attempts("vm03"), "utf8"), "attempt\nattempt\n", "retries: 1 is two attempts");
    // What each VM serves now.
    for (const vm of ids()) assert.equal(served(vm), old, `${vm} serves the old release`);
    for (const vm of ["vm01", "vm02", "vm03"]) assert.ok(fs.existsSync(path.join(dir(vm), "releases", next, ".sync_rev")), `${vm} keeps the new release (complete) beside`);
    // Wave 3: not a byte changed, not even a connection.
    for (const vm of wave3) {
      assert.deepEqual(snapshot(dir(vm)), before[vm], `${vm}'s tree and markers are unchanged`);
      assert.equal(fleet.connectionCount(vm), connections[vm], `${vm} was never connected to`);
    }
    // The human summary names where it stopped and what each VM holds.
    const text = await runCli(["history", "vm03", "--config", cfg]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /health-check +[0-9a-f]{12} .* failed: exit 3, after 2 attempts$/m);
    const h = await history();
    const story = (vm: string) => h[vm].slice(1).map((e) => [e.event, e.commit, e.previous, e.result]);
    assert.deepEqual(story("vm01"), [["deploy", next, old, "ok"], ["rollback", old, next, "ok"]]);
    assert.deepEqual(story("vm02"), [["deploy", next, old, "ok"], ["rollback", old, next, "ok"]]);
    assert.deepEqual(story("vm03"), [["deploy", next, old, "ok"], ["health-check", next, null, "failed"], ["rollback", old, next, "ok"]]);
    for (const vm of wave3) assert.deepEqual(story(vm), []);
    assert.match(h.vm01[2].detail ?? "", /^rollout of [0-9a-f]{12}: wave 2 failed$/);
    assert.match(h.vm01[2].by, /^[^@\s]+@\S+$/);
  });

  it("rollback after an interrupted run: a VM already on the new commit is named (this run has nothing of its own to undo)", async () => {
    const old = served("vm01");
    const next = repo.commit({ ...version("v1b"), "src/app.py": "print('v1b')\n" }, "mix v1b");
    write({ rollout: { waves: [1, 2, "100%"], on_failure: "rollback" } }, sickVm03());
    // What an earlier run, killed after switching vm02, left: vm02 on the new commit.
    const first = await runCli(["sync", "vm02", "--config", cfg, "--json"]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(served("vm02"), next);
    const run = await runCli(["sync", "--config", cfg, "--json"]);
    assert.equal(run.code, 1, run.stderr);
    const doc = json<SyncDoc>(run);
    assert.deepEqual(doc.rollout?.rolled_back.slice().sort(), ["vm01", "vm03"]);
    assert.deepEqual(doc.rollout?.already_on_new, ["vm02"]);
    assert.deepEqual(doc.rollout?.left_on_new, []);
    assert.deepEqual(ids().map(served).slice(0, 3), [old, next, old]);
    const text = await runCli(["sync", "--config", cfg]);
    assert.match(text.stdout, new RegExp(`already on ${next.slice(0, 12)} before this run \\(an earlier run switched them; not switched back: \`repo-sync rollback vm02\` does\\): vm02`));
    // Back to one commit everywhere for the next cases.
    write({ rollout: null, health_check: null });
    assert.equal((await runCli(["sync", "--config", cfg, "--ref", old])).code, 0);
  });

  it("stop: the VMs switched so far stay on the new commit and are named; later waves are not touched", async () => {
    const old = served("vm04");
    const next = repo.commit({ ...version("v2"), "src/app.py": "print('v2')\n" }, "mix v2");
    write({ rollout: { waves: [1, 2, "100%"], on_failure: "stop" } }, sickVm03());
    const run = await runCli(["sync", "--config", cfg]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, new RegExp(`^rollout stopped after wave 2 of 3: 1 of 2 VM\\(s\\) of wave 2 failed \\(vm03\\), more than max_failures 0; left on ${next.slice(0, 12)} \\(on_failure: stop\\): vm01, vm02, vm03; not touched: vm04, vm05, vm06$`, "m"));
    assert.match(run.stdout, /^vm03  FAILED  vm03: health check failed/m);
    assert.deepEqual(ids().map(served), [next, next, next, old, old, old]);
  });

  it("max_failures: failures within the limit let the rollout go on, and fail the run at its end", async () => {
    const next = repo.commit({ ...version("v3") }, "mix v3");
    write({ rollout: { waves: [3, "100%"], max_failures: "34%", on_failure: "rollback" } }, sickVm03());
    const doc = json<SyncDoc>(await runCli(["sync", "--config", cfg, "--json"]));
    assert.equal(doc.ok, false);
    assert.equal(doc.rollout?.stopped_at_wave, null, "1 of 3 is not more than 34% (1.02)");
    assert.deepEqual(doc.results.map((r) => r.action), ["synced", "synced", "failed", "synced", "synced", "synced"]);
    assert.deepEqual(ids().map(served), Array(6).fill(next), "vm03 failed its check after the switch: it serves the new commit");
  });

  it("bake_s: the next wave starts only after the bake", async () => {
    fs.rmSync(attempts("vm03"), { force: true });
    repo.commit({ ...version("v4") }, "mix v4");
    write({ rollout: { waves: [2, "100%"], bake_s: 3 } });
    const started = Date.now();
    const doc = json<SyncDoc>(await runCli(["sync", "--config", cfg, "--json"]));
    assert.equal(doc.ok, true, JSON.stringify(doc.results.map((r) => r.error?.message)));
    const h = await history();
    const deployed = (vm: string) => Date.parse(h[vm][h[vm].length - 1].time);
    const wave1 = Math.max(deployed("vm01"), deployed("vm02"));
    const wave2 = Math.min(...["vm03", "vm04", "vm05", "vm06"].map(deployed));
    assert.ok(wave2 - wave1 >= 3000, `wave 2 began ${wave2 - wave1} ms after wave 1's switches`);
    assert.ok(wave2 - wave1 < 30_000, `wave 2 began ${wave2 - wave1} ms after wave 1's switches`);
    assert.ok(Date.now() - started >= 3000);
  });

  it("a health check that outlives timeout_s fails as timed out; without a rollout the other VMs are not held back", async () => {
    repo.commit({ ...version("v5") }, "mix v5");
    write({}, { vm06: { health_check: { command: "sleep 30", timeout_s: 1, retries: 0 } } });
    const started = Date.now();
    const run = await runCli(["sync", "vm05", "vm06", "--config", cfg, "--json"]);
    assert.equal(run.code, 1, run.stderr);
    const [vm05, vm06] = json<SyncDoc>(run).results;
    assert.equal(vm05.action, "synced");
    assert.equal(vm06.error?.kind, "health");
    assert.match(vm06.error?.message ?? "", /health check failed after 1 attempt: the command did not finish within 1 s/);
    assert.ok(Date.now() - started < 25_000, `took ${Date.now() - started} ms`);
  });

  it("bad rollout settings are named by key and exit 2 before any VM is touched", async () => {
    const before = fleet.connectionCount("vm01");
    write({ layout: "in_place", rollout: { waves: [0, "150%", "x", 2.5], max_failures: "-1", on_failure: "rollback" }, health_check: { timeout_s: 5 } });
    const run = await runCli(["sync", "--config", cfg], { env: ONE_RUN });
    assert.equal(run.code, 2, run.stderr);
    for (const line of [
      /repository\.rollout\.waves\[0\]: must be a whole number of VMs from 1 or a whole percentage from 1% to 100%, got 0/,
      /repository\.rollout\.waves\[1\]: .*got "150%"/,
      /repository\.rollout\.waves\[2\]: .*got "x"/,
      /repository\.rollout\.waves\[3\]: .*got 2\.5/,
      /repository\.rollout\.max_failures: must be a whole number of VMs from 0 or a whole percentage from 0% to 100%, got "-1"/,
      /repository\.rollout\.on_failure: rollback needs repository\.layout: releases/,
      /repository\.health_check\.command: is missing/,
    ]) assert.match(run.stderr, line);
    assert.equal(fleet.connectionCount("vm01"), before);
  });
});
