/**
 * A Pulumi wave gate's switch back and the post-sync hook it runs again in the old release
 * (lib/sync/waveGate.ts), on two loopback VMs (releases layout), through passWave itself: every VM
 * is switched back before any hook runs (a slow or hung hook holds no other VM on the commit). The switch
 * back lets go of the VM's lock before the hook's session takes it again; what may happen in between
 * is played by the logger, which hears the switch while the lock is still held: the key file taken
 * away (the hook's session cannot open), or `current` moved to another release (what another run
 * waiting on the lock would do as soon as it got it).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../lib/config/load";
import type { Config } from "../../lib/config/types";
import type { Logger } from "../../lib/log";
import { passWave, type WaveGateSpec } from "../../lib/sync/waveGate";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { runCli } from "../support/cli";

describe("wave gate: the hook after a switch back (two VMs, passWave)", function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  let config: Config;
  let old: string;
  let next: string;
  const dir = (vm = "vm01") => fleet.vm(vm).targetPath;
  const hookLog = () => path.join(fleet.vm("vm01").root, "hooks");
  const served = (vm = "vm01") => fs.readlinkSync(path.join(dir(vm), "current")).split("/").pop();
  const hooked = () => (fs.existsSync(hookLog()) ? fs.readFileSync(hookLog(), "utf8").trim().split("\n") : []);

  const HOOK = `printf '%s %s\\n' "$REPO_SYNC_REVISION" "$(pwd -P)" >> "$LOG"`;
  /**
   * The gate of a one-wave rollout that switched the VMs (vm01 alone by default) from `old` to `next`
   * and whose check fails; `hook` runs with LOG set to the hook log.
   */
  const spec = (vms = ["vm01"], hook = HOOK, parallelism = 2): WaveGateSpec => ({
    wave: 1, waves: 1, commit: next, run: "run-1",
    rollout: { waves: [{ count: vms.length }], maxFailures: { count: 0 }, bakeS: 0, onFailure: "rollback" },
    members: config.targets.filter((t) => vms.includes(t.vm)).map((target) => ({
      target, wave: 1,
      hook: `LOG=${JSON.stringify(hookLog())}; ${hook}`,
      check: { command: "exit 3", timeoutS: 10, retries: 0, intervalS: 0 },
      outcome: { run: "run-1", commit: next, switched: true, from: old },
    })),
    earlierFailures: [], passed: {}, hooked: {}, source: config.repository, lockTimeoutS: 10, parallelism,
  });
  /** A logger that runs `onSwitchBack` when the switch back is logged (the VM's lock still held). */
  const logger = (onSwitchBack: () => void): Logger => ({
    info: (m) => {
      if (m.includes(`current ${next.slice(0, 12)} -> ${old.slice(0, 12)}`)) onSwitchBack();
    },
    warn: () => undefined,
    alert: () => undefined,
  });

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: 248 });
    repo = makeSourceRepo();
    cfg = path.join(fleet.baseDir, "config.yml");
    writeFleetConfig(fleet, cfg, { repoPath: repo.path, repository: { layout: "releases", keep_releases: 3 } });
    config = loadConfig(cfg);
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // vm01 serves `next`, `old` kept: as a gate finds it after its wave's switch.
    for (const n of ["a", "b"]) {
      repo.commit({ "src/app.py": `print('${n}${Date.now()}')\n` }, n);
      const run = await runCli(["sync", "--config", cfg]);
      assert.equal(run.code, 0, run.stderr);
    }
    [old, next] = [repo.git("rev-parse", "HEAD~1"), repo.head()];
    assert.deepEqual([served("vm01"), served("vm02")], [next, next]);
    fs.rmSync(hookLog(), { force: true });
  });

  it("a VM switched back is named as switched back when its hook's session cannot open (was: 'still serves' the new commit)", async () => {
    const key = fleet.clientKeyPath;
    try {
      const r = await passWave(spec(), logger(() => fs.renameSync(key, `${key}.away`)));
      assert.equal(served(), old, "switched back");
      const msg = r.error?.message ?? "";
      assert.match(msg, new RegExp(`Now: vm01 serves ${old.slice(0, 12)} again \\(but its post-sync hook failed there: cannot use the SSH key`), msg);
      assert.doesNotMatch(msg, /still serves/, msg);
      assert.deepEqual(r.passed, {});
    } finally {
      if (fs.existsSync(`${key}.away`)) fs.renameSync(`${key}.away`, key);
    }
  });

  it("the hook is not run in the old release when another run moved `current` since the switch back; the error says what it serves", async () => {
    const moveToNext = () => {
      // What another run would do once it got the lock: point `current` at its release.
      const tmp = path.join(dir(), "current.other");
      fs.symlinkSync(`releases/${next}`, tmp);
      fs.renameSync(tmp, path.join(dir(), "current"));
    };
    const r = await passWave(spec(), logger(moveToNext));
    assert.equal(served(), next);
    const releases = fs.realpathSync(path.join(dir(), "releases"));
    assert.deepEqual(hooked(), [`${next} ${releases}/${next}`], "only the forward hook ran: none in the old release, which is not served");
    assert.match(r.error?.message ?? "", new RegExp(`vm01 was switched back to ${old.slice(0, 12)} but serves ${next.slice(0, 12)} now \\(another run moved it since; its post-sync hook was not run`));
  });

  it("every VM is switched back before the first hook runs again (one at a time: a hung hook would hold the rest on the commit)", async () => {
    // Each hook says, with its revision, what the other VM serves when it runs.
    const other = (vm: string) => path.join(dir(vm === "vm01" ? "vm02" : "vm01"), "current");
    const hook = `case "$PWD" in *vm01*) O=${JSON.stringify(other("vm01"))} ;; *) O=${JSON.stringify(other("vm02"))} ;; esac; ` +
      `printf '%s %s\\n' "$REPO_SYNC_REVISION" "$(readlink "$O")" >> "$LOG"`;
    const r = await passWave(spec(["vm01", "vm02"], hook, 1), logger(() => undefined));
    assert.deepEqual([served("vm01"), served("vm02")], [old, old], r.error?.message);
    const after = hooked().filter((l) => l.startsWith(old));
    assert.deepEqual(after, [`${old} releases/${old}`, `${old} releases/${old}`], "each hook in the old release saw the other VM switched back already");
  });
});
