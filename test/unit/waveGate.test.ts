/**
 * The pure parts of a Pulumi rollout's wave gates: which VMs a gate hooks and checks (this run's
 * switches, and whatever has not passed it for the same commit, hook and check), which VMs a rollback
 * undoes (only this run's switches, in this wave and before), and when a gate runs again (its diff:
 * never for the run id alone).
 */
import * as assert from "node:assert/strict";
import type { SourceSettings, Target } from "../../lib/config/types";
import { quietLogger } from "../../lib/log";
import { type DeployOutcome, hookKey, passKey, passWave, switchedThisRun, toCheck, toHook, type WaveMember } from "../../lib/sync/waveGate";
import { comparedWave, diff } from "../../providers/waveRuntime";

const C = "c".repeat(40);
const OLD = "a".repeat(40);
const RUN = "run-2";
const target = (vm: string): Target => ({ vm, host: "127.0.0.9", port: 22, user: "deploy", keyPath: "/k", knownHostsPath: "/kh", connectTimeoutS: 5, acceptNewHostKeys: false, path: `/srv/${vm}` });
const member = (vm: string, wave: number, outcome?: DeployOutcome, extra: Partial<WaveMember> = {}): WaveMember => ({ target: target(vm), wave, ...(outcome ? { outcome } : {}), ...extra });
const switched = (run = RUN, commit = C): DeployOutcome => ({ run, commit, switched: true, from: OLD });
const vms = (ms: WaveMember[]) => ms.map((m) => m.target.vm);

describe("wave gates (pure): what a gate checks, what a rollback undoes, when a gate runs", () => {
  it("checks this run's switches and what has not passed it for this commit, hook and check; not a failed sync", () => {
    const members = [
      member("vm01", 1, switched()),
      member("vm02", 2, switched()),
      member("vm03", 2, { run: RUN, commit: C, switched: false, failure: "rsync failed" }),
      member("vm04", 2, switched("run-1")),
      member("vm05", 2, switched("run-1")),
      member("vm06", 2, switched("run-1"), { hook: "systemctl restart app" }),
    ];
    // vm05 passed for C with the same (no) hook and check; vm06 passed before its hook was added.
    const passed = { vm05: passKey({}, C), vm06: passKey({}, C) };
    assert.deepEqual(vms(toCheck({ wave: 2, commit: C, run: RUN, members, passed })), ["vm02", "vm04", "vm06"]);
    // A new commit: everything in the wave that did not fail its sync.
    assert.deepEqual(vms(toCheck({ wave: 2, commit: "d".repeat(40), run: RUN, members, passed })), ["vm02", "vm04", "vm05", "vm06"]);
  });

  it("hooks a VM after this run's switch, or when its hook has not passed for this commit and hook; a retry of a failed check does not hook again", () => {
    const hook = { hook: "systemctl restart app" };
    const hooked = { vm01: hookKey(hook, C), vm02: hookKey(hook, C), vm03: hookKey({ hook: "old hook" }, C) };
    const spec = { commit: C, run: RUN, hooked };
    assert.equal(toHook(member("vm01", 1, switched(), hook), spec), true, "switched by this run");
    assert.equal(toHook(member("vm02", 1, switched("run-1"), hook), spec), false, "hook passed for C at an earlier up");
    assert.equal(toHook(member("vm03", 1, switched("run-1"), hook), spec), true, "the hook changed");
    assert.equal(toHook(member("vm02", 1, switched("run-1"), hook), { ...spec, commit: "d".repeat(40) }), true, "another commit");
    assert.equal(toHook(member("vm04", 1, switched("run-1"), hook), spec), true, "never hooked by this gate");
    assert.equal(toHook(member("vm02", 1, switched("run-1")), spec), false, "no hook");
  });

  it("a hook runs after this run's switch, or when it has not passed for this commit; a new gate hooks what was switched to the commit or reported now, not a VM with no outcome", () => {
    const hook = { hook: "systemctl restart app" };
    const first = { commit: C, run: RUN };
    assert.equal(toHook(member("vm02", 1, switched(), hook), first), true, "switched in this run");
    assert.equal(toHook(member("vm01", 1, switched("run-1"), hook), first), true, "switched by a run whose gate never finished");
    assert.equal(toHook(member("vm03", 1, { run: RUN, commit: C, switched: false }, hook), first), true, "a new target over a VM already on the commit (CLI)");
    assert.equal(toHook(member("vm04", 1, undefined, hook), first), false, "a stack that just turned to a gated rollout");
    assert.equal(toHook(member("vm05", 1, switched("run-1", "e".repeat(40)), hook), first), false, "switched to another commit");
    const onIt = member("vm01", 1, switched("run-1"), hook);
    assert.equal(toHook(onIt, { ...first, hooked: {} }), true, "a gate that ran before and did not hook it");
    assert.equal(toHook(onIt, { ...first, hooked: { vm01: hookKey(onIt, C) } }), false);
    assert.equal(toHook(member("vm06", 1, switched("run-1")), { ...first, hooked: {} }), false, "no hook");
  });

  it("a rollback undoes only what this run switched to this commit, in this wave and the ones before", () => {
    const members = [
      member("vm01", 1, switched()),
      member("vm02", 2, switched("run-1")),
      member("vm03", 2, { run: RUN, commit: C, switched: true, from: OLD, failure: "history not written" }),
      member("vm04", 2, { run: RUN, commit: C, switched: false }),
      member("vm05", 2),
      member("vm06", 3, switched()),
      member("vm07", 1, switched(RUN, "e".repeat(40))),
    ];
    assert.deepEqual(vms(switchedThisRun({ wave: 2, commit: C, run: RUN, members })), ["vm01", "vm03"]);
  });

  it("a stop names a first release it cannot switch back once, and what it serves (no VM reached: a failed sync, no earlier release)", async () => {
    const first: DeployOutcome = { run: RUN, commit: C, switched: true, failure: "vm01: the oldest release was not pruned" };
    const spec = {
      wave: 1, waves: 2, commit: C, run: RUN, rollout: { waves: [], maxFailures: { count: 0 }, bakeS: 0, onFailure: "rollback" as const },
      members: [member("vm01", 1, first)], earlierFailures: [], passed: {},
      source: {} as SourceSettings, lockTimeoutS: 5, parallelism: 2,
    };
    const r = await passWave(spec, quietLogger);
    assert.match(r.error?.message ?? "", /Now: vm01 still serves cccccccccccc \(not switched back: this run made its first release/);
    assert.doesNotMatch(r.error?.message ?? "", /not switched back: not switched back/);
    assert.deepEqual([r.failed, r.passed], [["vm01"], {}]);
  });

  it("a gate runs again when the commit, a member's outcome or hook changes, or VMs failed at its last pass; not for the run id", async () => {
    const raw = (over: Record<string, unknown> = {}, outcome: DeployOutcome = switched("run-1")) => ({
      wave: 1, waves: 2, commit: C, run: "run-1", rollout: { maxFailures: { count: 0 }, bakeS: 0, onFailure: "rollback" },
      members: [{ target: { vm: "vm01", host: "h", path: "/srv/a" }, wave: 1, outcome }], earlierFailures: [], lockTimeoutS: 30, parallelism: 4, ...over,
    });
    const changes = async (olds: Record<string, unknown>, news: Record<string, unknown>) => (await diff("wave-1", olds, news)).changes;
    assert.equal(await changes(raw(), raw({ run: "run-2", logUrn: "urn:pulumi:x" })), false);
    assert.equal(comparedWave(raw()), comparedWave(raw({ run: "run-3" })));
    assert.equal(await changes(raw(), raw({ commit: "d".repeat(40) })), true);
    assert.equal(await changes(raw(), raw({}, switched("run-2"))), true);
    assert.equal(await changes(raw(), raw({ members: [{ target: { vm: "vm01", host: "h", path: "/srv/a" }, wave: 1, hook: "x", outcome: switched("run-1") }] })), true);
    assert.equal(await changes({ ...raw(), failed: ["vm01"] }, raw()), true);
    assert.equal(await changes({ ...raw(), failed: [] }, raw()), false);
    // The last gate, while an earlier wave's VM failed: it must fail the up again.
    assert.equal(await changes({ ...raw({ wave: 2, earlierFailures: ["vm01"] }), failed: [] }, raw({ wave: 2, earlierFailures: ["vm01"] })), true);
    assert.equal(await changes({ ...raw({ wave: 1, earlierFailures: ["vm00"] }), failed: [] }, raw({ wave: 1, earlierFailures: ["vm00"] })), false, "not the last gate");
    assert.equal(await changes(raw(), raw({ commit: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" })), true, "unknown in a preview");
  });
});
