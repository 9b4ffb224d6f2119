/**
 * `repo-sync sync --ref` on the fleet: a tag, an annotated tag, a SHA prefix and an old SHA (a
 * rollback) each land exactly their commit's tree with `.sync_rev` naming that commit; a ref that
 * names nothing or several things, or is revision syntax, or comes with --branch, exits 2 naming the
 * ref and opens no connection to any VM. The config has no source VM at all: the checkout is local.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import type { SyncDoc } from "../../cli/format";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { fleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { json, runCli } from "../support/cli";

const VMS = ["vm01", "vm02"];
/**
 * For the runs that must open no connection: one that joins no kept SSH connection
 * (REPO_SYNC_SSH_PERSIST_S=0), so that any session it opened would be a handshake the VMs count (the
 * syncs before leave each VM's master kept for a minute, and a session on it would not show).
 */
const ONE_RUN = { REPO_SYNC_SSH_PERSIST_S: "0" };

describe("repo-sync sync --ref on the fleet (no source VM in the config)", function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  const commits: Record<string, string> = {};
  const file = (vm: string, p: string) => path.join(fleet.vm(vm).targetPath, p);
  const read = (vm: string, p: string) => fs.readFileSync(file(vm, p), "utf8");
  /** Every VM's files (path -> content), `.sync_rev` included. */
  const snapshot = () => Object.fromEntries(VMS.map((vm) => [vm, fs.existsSync(fleet.vm(vm).targetPath) ? listFiles(fleet.vm(vm).targetPath) : {}]));
  const sync = async (...args: string[]) => {
    const run = await runCli(["sync", "--config", cfg, "--json", ...args]);
    assert.equal(run.code, 0, run.stderr);
    return json<SyncDoc & { ref: string; ref_kind: string }>(run);
  };

  before(async () => {
    fleet = await startFleet({ count: VMS.length, firstOctet: 234, logLevel: "INFO" });
    repo = makeSourceRepo();
    commits.v1 = repo.head();
    repo.git("tag", "v1");
    commits.v2 = repo.commit({ "src/app.py": "print('v2')\n", "docs/v2.md": "# v2\n" }, "v2");
    repo.git("tag", "-a", "v2", "-m", "release 2");
    commits.v3 = repo.commit({ "src/app.py": "print('v3')\n" }, "v3", ["docs/v2.md"]);
    repo.git("branch", "dup", commits.v2);
    repo.git("tag", "dup", commits.v1);
    // No `vms.source`, no `repository.source_vm`: the checkout is on this machine.
    const doc = fleetConfig(fleet, { repoPath: repo.path }) as { vms: Record<string, unknown>; repository: Record<string, unknown> };
    delete doc.vms.source;
    delete doc.repository.source_vm;
    cfg = path.join(fleet.baseDir, "config.yml");
    fs.writeFileSync(cfg, stringify(doc));
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("--ref v1 (a lightweight tag) lands v1's tree; .sync_rev names its commit", async () => {
    const doc = await sync("--ref", "v1");
    assert.deepEqual([doc.commit, doc.ref, doc.ref_kind, doc.branch], [commits.v1, "v1", "tag", null]);
    for (const vm of VMS) {
      assert.equal(read(vm, ".sync_rev"), `${commits.v1}\n`);
      assert.equal(read(vm, "src/app.py"), "print('hello from th_timmy')\n");
    }
  });

  it("--ref v2 (an annotated tag) lands its commit, not the tag object", async () => {
    const doc = await sync("--ref", "v2");
    assert.equal(doc.commit, commits.v2);
    assert.notEqual(repo.git("rev-parse", "v2"), commits.v2);
    for (const vm of VMS) {
      assert.equal(read(vm, ".sync_rev"), `${commits.v2}\n`);
      assert.equal(read(vm, "docs/v2.md"), "# v2\n");
    }
  });

  it("--ref <7-hex prefix> lands that commit; the text summary names it", async () => {
    const prefix = commits.v3.slice(0, 7);
    const run = await runCli(["sync", "--config", cfg, "--ref", prefix]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`all 2 VM\\(s\\) at ${commits.v3.slice(0, 12)} \\(commit ${prefix}\\)`));
    for (const vm of VMS) {
      assert.equal(read(vm, ".sync_rev"), `${commits.v3}\n`);
      assert.equal(fs.existsSync(file(vm, "docs/v2.md")), false, "a file the commit does not hold is gone");
    }
  });

  it("--ref <old full SHA> rolls back to exactly that tree; verify --ref agrees, verify of the branch tip sees the difference", async () => {
    const doc = await sync("--ref", commits.v1);
    assert.deepEqual([doc.commit, doc.ref_kind], [commits.v1, "commit"]);
    for (const vm of VMS) {
      assert.equal(read(vm, ".sync_rev"), `${commits.v1}\n`);
      assert.equal(read(vm, "src/app.py"), "print('hello from th_timmy')\n");
      assert.equal(fs.existsSync(file(vm, "docs/v2.md")), false);
    }
    assert.equal((await runCli(["verify", "--config", cfg, "--ref", "v1"])).code, 0);
    assert.equal((await runCli(["verify", "--config", cfg])).code, 1, "the VMs are behind main's tip");
  });

  const refused: Array<[string[], RegExp]> = [
    [["--ref", "nope"], /ref "nope" names no branch, tag or commit in /],
    [["--ref", "dup"], /ref "dup" is ambiguous in .*: it names the branch dup and the tag dup/],
    [["--ref", "HEAD~1"], /ref "HEAD~1" is revision syntax/],
    [["--ref=--upload-pack=touch /tmp/repo-sync-pwned"], /ref "--upload-pack=touch \/tmp\/repo-sync-pwned" starts with `-`/],
    [["--ref", "v1:src"], /ref "v1:src" contains `:`/],
    [["--ref", "f".repeat(40)], /ref "f{40}" names no commit in /],
    [["--ref", "v1", "--branch", "main"], /both branch "main" and ref "v1" are set/],
  ];
  it("--ref with source_mode: worktree (which pushes the checkout as it is): exit 2, no connection", async () => {
    const worktreeCfg = path.join(fleet.baseDir, "worktree.yml");
    fs.writeFileSync(worktreeCfg, fs.readFileSync(cfg, "utf8").replace("repository:\n", "repository:\n  source_mode: worktree\n"));
    const connections = VMS.map((vm) => fleet.connectionCount(vm));
    const run = await runCli(["sync", "--config", worktreeCfg, "--ref", "v1"], { env: ONE_RUN });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /ref "v1" cannot be deployed with repository\.source_mode: worktree/);
    assert.deepEqual(VMS.map((vm) => fleet.connectionCount(vm)), connections);
  });

  for (const [args, why] of refused) {
    it(`sync ${args.join(" ")}: exit 2 naming the ref, no connection to any VM, nothing changed`, async () => {
      const before = snapshot();
      const connections = VMS.map((vm) => fleet.connectionCount(vm));
      const run = await runCli(["sync", "--config", cfg, "--json", ...args], { env: ONE_RUN });
      assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stderr, why);
      assert.equal(json<{ ok: boolean; error: { kind: string } }>(run).error.kind, "config");
      assert.deepEqual(VMS.map((vm) => fleet.connectionCount(vm)), connections, "no SSH connection was opened");
      assert.deepEqual(snapshot(), before);
      assert.equal(fs.existsSync("/tmp/repo-sync-pwned"), false);
    });
  }
});

/** Files under `dir` (relative path -> content), symlinks as their targets. */
function listFiles(dir: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = path.join(rel, e.name);
    if (e.isDirectory()) Object.assign(out, listFiles(dir, p));
    else out[p] = e.isSymbolicLink() ? `-> ${fs.readlinkSync(path.join(dir, p))}` : fs.readFileSync(path.join(dir, p), "latin1");
  }
  return out;
}
