import * as assert from "node:assert/strict";
import { ConfigError, parseConfigDocument } from "../../lib/config/load";
import type { Config, ConfigProblem } from "../../lib/config/types";

// The source is the machine running repo-sync: a config needs no `vms` entry (and no source_vm) for
// it. Configs written for the original layout (vm04 as the source) keep their push targets.

type Doc = { ssh: Record<string, unknown>; vms: Record<string, unknown>; repository: Record<string, unknown> };

function doc(vms: Record<string, unknown>, repository: Record<string, unknown> = {}): Doc {
  return {
    ssh: { key_path: "/keys/id_ed25519", known_hosts_path: "/keys/known_hosts" },
    vms,
    repository: { main_repo_path: "/home/me/app", vm_repo_paths: { vm01: "/srv/app", vm02: "/srv/app" }, ...repository },
  };
}

function parse(d: Doc, hostsSupplied = false): Config {
  return parseConfigDocument(d, "<inline>", { checkLocalFiles: false, homeDir: "/home/me", hostsSupplied });
}

function problemsOf(d: Doc): ConfigProblem[] {
  try {
    parse(d);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return assert.fail("the config was accepted");
}

const vm01 = { host: "10.0.0.11", ssh_user: "deploy" };
const vm02 = { host: "10.0.0.12", ssh_user: "deploy" };

describe("the source is the machine running repo-sync (no source_vm, no vms entry for it)", () => {
  it("a config without source_vm or a source entry: every enabled VM is a push target", () => {
    const c = parse(doc({ vm01, vm02 }));
    assert.deepEqual(c.targets.map((t) => t.vm), ["vm01", "vm02"]);
    assert.equal(c.repository.sourceVm, undefined);
  });

  it("the same with hosts supplied by a program (the component's case)", () => {
    const c = parse(doc({ vm01: { ssh_user: "root" }, vm02: { ssh_user: "root" } }), true);
    assert.deepEqual(c.targets.map((t) => [t.vm, t.host]), [["vm01", ""], ["vm02", ""]]);
  });

  it("the original layout keeps working: a vms.vm04 with no target path is the source, never a target", () => {
    const c = parse(doc({ vm01, vm02, vm04: { host: "10.0.0.14", ssh_user: "deploy" } }));
    assert.deepEqual(c.targets.map((t) => t.vm), ["vm01", "vm02"]);
    assert.equal(c.repository.sourceVm, "vm04");
    // A vm04 given a target path (and no source_vm) is a VM to push to like any other.
    const d = doc({ vm01, vm04: { host: "10.0.0.14", ssh_user: "deploy" } }, { vm_repo_paths: { vm01: "/srv/app", vm04: "/srv/app" } });
    assert.deepEqual(parse(d).targets.map((t) => t.vm), ["vm01", "vm04"]);
  });

  it("a named source VM needs no host or ssh_user (it is never connected to)", () => {
    const c = parse(doc({ builder: {}, vm01, vm02 }, { source_vm: "builder" }));
    assert.deepEqual(c.targets.map((t) => t.vm), ["vm01", "vm02"]);
    assert.equal(c.repository.sourceVm, "builder");
  });

  it("source_vm naming no VM says so and how to leave it out; a listed VM with problems is not 'not under vms'", () => {
    assert.deepEqual(problemsOf(doc({ vm01, vm02 }, { source_vm: "vm99" })), [
      { key: "repository.source_vm", message: 'names "vm99", which is not under vms (have: vm01, vm02); leave source_vm out when the checkout is on the machine running repo-sync' },
    ]);
    // vm02 lacks ssh_user: that is the one problem named, not "push_targets names a VM not under vms".
    assert.deepEqual(problemsOf(doc({ vm01, vm02: { host: "10.0.0.12" } }, { push_targets: ["vm01", "vm02"] })), [
      { key: "vms.vm02.ssh_user", message: "is missing" },
    ]);
  });
});
