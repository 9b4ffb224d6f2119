import * as assert from "node:assert/strict";
import { formatStatusTable, statusJson, statusWord } from "../../cli/format";
import { defaultOf } from "../../lib/config/schema";
import { ConfigError } from "../../lib/config/load";
import { isRepoSyncError, RepoSyncError } from "../../lib/errors";
import { SecretsFoundError } from "../../lib/sync/prepareSource";
import { describeState, describeStatus, RepoStatus, stateOf } from "../../lib/sync/status";
import { decideDiff, normalizeInputs, toTarget, validateInputs } from "../../providers/inputs";

const A = "a".repeat(40);
const B = "b".repeat(40);
const base = { vm: "vm02", host: "10.0.0.12", path: "/srv/app", expected: A };
const refused = new RepoSyncError("unreachable", "connection to reposync@10.0.0.12:22 refused (no SSH server listening)", { vm: "vm02" });

/** status -> [kind, sentence, status word, table cell] */
const CASES: Array<[string, RepoStatus, string, string, string, string]> = [
  ["in sync", { ...base, actual: A, inSync: true, marker: "valid" }, "in-sync", "in sync at aaaaaaaaaaaa", "in-sync", "in-sync"],
  ["another revision", { ...base, actual: B, inSync: false, marker: "valid" }, "revision", "revision bbbbbbbbbbbb (expected aaaaaaaaaaaa)", "drift", "drift: revision bbbbbbbbbbbb (expected aaaaaaaaaaaa)"],
  ["no marker", { ...base, inSync: false, marker: "absent" }, "revision", "revision none (expected aaaaaaaaaaaa)", "drift", "drift: revision none (expected aaaaaaaaaaaa)"],
  ["a planted symlink marker", { ...base, inSync: false, marker: "symlink" }, "revision", "revision none (.sync_rev is a symlink) (expected aaaaaaaaaaaa)", "drift", "drift: revision none (.sync_rev is a symlink) (expected aaaaaaaaaaaa)"],
  ["tree drift", { ...base, actual: A, inSync: false, marker: "valid", drift: { modified: ["src/app.py"], added: [], deleted: [] } }, "drift", "tree drift: 1 modified, 0 added, 0 deleted (first: src/app.py)", "drift", "drift: tree drift: 1 modified, 0 added, 0 deleted (first: src/app.py)"],
  ["unreachable", { ...base, inSync: false, error: refused }, "error", "error: connection to reposync@10.0.0.12:22 refused (no SSH server listening)", "error", "error: connection to reposync@10.0.0.12:22 refused (no SSH server listening)"],
];

describe("the target state model (pure): one model, rendered in one place", () => {
  for (const [name, status, kind, sentence, word, cell] of CASES) {
    it(name, () => {
      const st = stateOf(status);
      assert.equal(st.kind, kind);
      assert.equal(describeState(st), sentence);
      assert.equal(describeStatus(status), `vm02 ${sentence}`);
      assert.equal(statusWord(status), word);
      assert.match(formatStatusTable([status]).split("\n")[1], new RegExp(`  ${cell.replace(/[().]/g, "\\$&")}$`));
      assert.equal(statusJson(A, [status]).statuses[0].detail, sentence);
    });
  }
});

describe("the provider's diff decision (pure)", () => {
  const olds = { vm: "vm02", host: "h", port: 22, path: "/srv/app", commit: A, revision: A };
  const cases: Array<[string, Record<string, unknown>, boolean, string[]]> = [
    ["in sync at the commit: no change", { ...olds, observedState: "in-sync" }, false, []],
    ["a tree drift: update", { ...olds, observedState: "drift" }, true, []],
    ["a VM that could not be probed: update (so --expect-no-changes fails)", { ...olds, observedState: "error" }, true, []],
    ["live state unknown (preview with unknown inputs): update, never a silent no-change", { ...olds }, true, []],
    ["a new commit: update", { ...olds, commit: B, observedState: "in-sync" }, true, []],
    ["the target moved: replace", { ...olds, path: "/srv/other", observedState: "in-sync" }, true, ["path"]],
    ["the text of `observed` alone decides nothing", { ...olds, observed: "in sync at aaaaaaaaaaaa", observedState: "drift" }, true, []],
  ];
  for (const [name, news, changes, replaces] of cases) {
    it(name, () => {
      const d = decideDiff(olds, news);
      assert.equal(d.changes, changes);
      assert.deepEqual(d.replaces, replaces);
    });
  }
});

describe("errors keep their class and are recognized by brand", () => {
  it("subclasses keep their names and count as RepoSyncError, also when made by another copy of the module", () => {
    const config = new ConfigError("/c.yml", [{ key: "vms", message: "is missing" }]);
    const secrets = new SecretsFoundError("a".repeat(40), []);
    assert.deepEqual([config.name, secrets.name, refused.name], ["ConfigError", "SecretsFoundError", "RepoSyncError"]);
    assert.deepEqual([config, secrets, refused].map(isRepoSyncError), [true, true, true]);
    // A look-alike without the brand (e.g. an Error someone named the same) is not one of ours.
    const fake = Object.assign(new Error("x"), { name: "RepoSyncError", kind: "config" });
    assert.equal(isRepoSyncError(fake), false);
    // The provider loads lib/ again through require(): instanceof fails across copies, the brand does not.
    const path = require.resolve("../../lib/errors");
    const saved = require.cache[path];
    delete require.cache[path];
    try {
      const other = require("../../lib/errors") as typeof import("../../lib/errors");
      assert.notEqual(other.RepoSyncError, RepoSyncError);
      assert.equal(isRepoSyncError(new other.RepoSyncError("transfer", "x")), true);
      assert.equal(new other.RepoSyncError("transfer", "x") instanceof RepoSyncError, false);
    } finally {
      if (saved) require.cache[path] = saved;
    }
  });
});

describe("one set of defaults for the YAML config and the resource inputs", () => {
  it("a target's inputs default and range-check like the config", () => {
    const i = normalizeInputs({ vm: "vm01", host: "10.0.0.11", user: "deploy", keyPath: "/k", knownHostsPath: "/kh", path: "/srv/app", repoPath: "/repo", commit: A });
    assert.deepEqual([i.port, i.connectTimeoutS, i.lockTimeoutS, i.ioTimeoutS, i.branch], [defaultOf("vm", "ssh_port"), defaultOf("ssh", "connect_timeout_s"), defaultOf("repository", "lock_timeout_s"), defaultOf("repository", "io_timeout_s"), "main"]);
    assert.deepEqual(validateInputs(i), []);
    const bad = validateInputs({ ...i, port: 0, connectTimeoutS: 601, lockTimeoutS: -1, ioTimeoutS: 1.5, vm: "-x" });
    assert.deepEqual(bad.map((f) => f.property).sort(), ["connectTimeoutS", "ioTimeoutS", "lockTimeoutS", "port", "vm"]);
    assert.match(bad.find((f) => f.property === "ioTimeoutS")?.reason ?? "", /1\.5 is not a whole number from 5 to 3600/);
  });

  it("bwlimitKbps: carried to the target only when set, range-checked like the config, not desired state", () => {
    const raw = { vm: "vm01", host: "10.0.0.11", user: "deploy", keyPath: "/k", knownHostsPath: "/kh", path: "/srv/app", repoPath: "/repo", commit: A };
    assert.equal("bwlimitKbps" in normalizeInputs(raw), false);
    const limited = normalizeInputs({ ...raw, bwlimitKbps: 256 });
    assert.equal(toTarget(limited).bwlimitKbps, 256);
    assert.deepEqual(validateInputs({ ...limited, bwlimitKbps: 0 }).map((f) => f.reason), ["vm01: 0 is not a whole number of KiB/s from 1 to 10000000"]);
    // Changing only the limit plans no update of an in-sync target.
    const olds = { ...raw, revision: A, observedState: "in-sync" };
    assert.equal(decideDiff(olds, { ...raw, bwlimitKbps: 64, observedState: "in-sync" }).changes, false);
  });
});
