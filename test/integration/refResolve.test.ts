/**
 * `ref` resolution against real git repositories (no VM): tags (lightweight, annotated, nested) peel
 * to their commit, a prefix names one commit, and every ref that names nothing, several things or
 * something that is not a commit is a config error naming the ref. A tag or a commit is never pulled.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isRepoSyncError } from "../../lib/errors";
import { lookUpRef, resolveSource } from "../../lib/source/git";
import { resolveRef } from "../../lib/source/ref";
import { makeNonRepoDir, makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";

/** Asserts that `p` rejects with a `config` error whose message matches every pattern. */
async function refused(p: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isRepoSyncError(err), String(err));
    assert.equal(err.kind, "config", err.message);
    for (const re of patterns) assert.match(err.message, re);
    return true;
  });
}

/** A repo with `n` commits made in one git fast-import (enough for two to share a 4-hex prefix). */
function manyCommits(n: number): SourceRepo {
  const repo = makeSourceRepo({ "a.txt": "a\n" });
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const msg = `c${i}\n`;
    lines.push("commit refs/heads/many", `committer t <t@t.invalid> ${1_700_000_000 + i} +0000`, `data ${Buffer.byteLength(msg)}`, msg.trimEnd(), "");
  }
  execFileSync("git", ["fast-import", "--quiet"], { cwd: repo.path, input: lines.join("\n") + "\n" });
  return repo;
}

describe("ref resolution in a real repository", function () {
  this.timeout(60_000);
  let repo: SourceRepo;
  let c1: string;
  let c2: string;
  let c3: string;
  let tree: string;
  let blob: string;

  before(() => {
    repo = makeSourceRepo();
    c1 = repo.head();
    repo.git("tag", "v1");
    c2 = repo.commit({ "src/app.py": "print('v2')\n" }, "v2");
    repo.git("tag", "-a", "v2", "-m", "release 2");
    repo.git("tag", "-a", "v2-signed-again", "-m", "a tag of a tag", "v2");
    c3 = repo.commit({ "src/app.py": "print('v3')\n" }, "v3");
    tree = repo.git("rev-parse", "HEAD^{tree}");
    blob = repo.git("rev-parse", "HEAD:src/app.py");
    repo.git("tag", "tree-tag", tree);
    repo.git("tag", "-a", "blob-tag", "-m", "a blob", blob);
    repo.git("branch", "dup", c2);
    repo.git("tag", "dup", c1);
    repo.git("branch", "release/1.2", c2);
  });
  after(() => fs.rmSync(repo.path, { recursive: true, force: true }));

  it("a lightweight tag, an annotated tag and a tag of a tag name their commit", async () => {
    assert.deepEqual(await resolveRef(repo.path, "v1"), { kind: "tag", name: "v1", commit: c1 });
    assert.deepEqual(await resolveRef(repo.path, "v2"), { kind: "tag", name: "v2", commit: c2 });
    assert.notEqual(repo.git("rev-parse", "v2"), c2, "the annotated tag's own object is not the commit");
    assert.deepEqual(await resolveRef(repo.path, "v2-signed-again"), { kind: "tag", name: "v2-signed-again", commit: c2 });
    assert.deepEqual(await resolveRef(repo.path, "refs/tags/v2"), { kind: "tag", name: "v2", commit: c2 });
  });

  it("a branch, a full SHA and a unique prefix name their commit", async () => {
    assert.deepEqual(await resolveRef(repo.path, "main"), { kind: "branch", name: "main", commit: c3 });
    assert.deepEqual(await resolveRef(repo.path, "release/1.2"), { kind: "branch", name: "release/1.2", commit: c2 });
    assert.deepEqual(await resolveRef(repo.path, "refs/heads/dup"), { kind: "branch", name: "dup", commit: c2 });
    assert.deepEqual(await resolveRef(repo.path, c1), { kind: "commit", name: c1, commit: c1 });
    assert.deepEqual(await resolveRef(repo.path, c3.slice(0, 7)), { kind: "commit", name: c3.slice(0, 7), commit: c3 });
  });

  it("refuses what names nothing, or no commit", async () => {
    await refused(resolveRef(repo.path, "nope"), /^ref "nope" names no branch, tag or commit in /, /git fetch --tags/);
    await refused(resolveRef(repo.path, "refs/tags/nope"), /^ref "refs\/tags\/nope" names no tag in /);
    await refused(resolveRef(repo.path, "f".repeat(40)), /^ref "f{40}" names no commit in /);
    await refused(resolveRef(repo.path, tree), new RegExp(`^ref "${tree}" names a tree, not a commit`));
    await refused(resolveRef(repo.path, blob.slice(0, 10)), new RegExp(`^ref "${blob.slice(0, 10)}" names a blob \\(${blob}\\), not a commit`));
    await refused(resolveRef(repo.path, "tree-tag"), /^ref "tree-tag" names the tag tree-tag, which points at a tree, not a commit/);
    await refused(resolveRef(repo.path, "blob-tag"), /^ref "blob-tag" names the tag blob-tag, which points at a blob, not a commit/);
  });

  it("refuses a name that is a branch and a tag, naming both and how to write each", async () => {
    await refused(resolveRef(repo.path, "dup"), /^ref "dup" is ambiguous in .*: it names the branch dup and the tag dup/, /write refs\/heads\/dup or refs\/tags\/dup/);
  });

  it("refuses a prefix of two commits, and a branch name that is also a commit prefix", async () => {
    const many = manyCommits(1500);
    try {
      const shas = many.git("rev-list", "--all").split("\n");
      const byPrefix = new Map<string, string>();
      const shared = shas.find((s) => byPrefix.has(s.slice(0, 4)) || !byPrefix.set(s.slice(0, 4), s));
      assert.ok(shared, "1500 commits hold two with one 4-hex prefix");
      const prefix = shared.slice(0, 4);
      await refused(resolveRef(many.path, prefix), new RegExp(`^ref "${prefix}" is ambiguous in .*: it names the commit [0-9a-f]{40} and the commit [0-9a-f]{40}`), /more hex digits/);
      // A branch whose name is hex and also a commit's prefix.
      const commit = shas[0];
      const name = commit.slice(0, 8);
      many.git("branch", name, "many");
      await refused(resolveRef(many.path, name), new RegExp(`it names the branch ${name} and the commit ${commit}`), new RegExp(`write refs/heads/${name}`));
      assert.equal((await resolveRef(many.path, `refs/heads/${name}`)).kind, "branch");
    } finally {
      fs.rmSync(many.path, { recursive: true, force: true });
    }
  });

  it("refuses revision syntax and option-like refs before git runs", async () => {
    for (const [ref, why] of [["HEAD~1", /revision syntax/], ["main@{1}", /reflog/], ["v1..v2", /range/], ["v1:src", /`:`/], ["--upload-pack=x", /option/], ["a b", /space/]] as const) {
      await refused(resolveRef(repo.path, ref), new RegExp(`^ref ${JSON.stringify(ref).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} `), why);
    }
    // The same checks on a folder that is not a repository: the ref is named, not the folder's state.
    const dir = makeNonRepoDir();
    try {
      await refused(resolveRef(dir, "HEAD~1"), /revision syntax/);
      await assert.rejects(lookUpRef(dir, "v1"), /could not get commit hash \(not a git repo or invalid state\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a tag or a commit is never pulled; a branch ref still is; a fetch moves only origin/<branch>", async () => {
    const origin = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-origin-"));
    const clone = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-clone-"));
    try {
      execFileSync("git", ["clone", "-q", "--bare", repo.path, origin]);
      execFileSync("git", ["clone", "-q", origin, clone]);
      // origin moves on: a pull of main would fetch it.
      const upstream = new SourceRepo(fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-up-")));
      execFileSync("git", ["clone", "-q", origin, upstream.path]);
      upstream.git("-c", "user.email=t@t.invalid", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "upstream");
      upstream.git("push", "-q", "origin", "main");
      const ahead = upstream.head();
      fs.rmSync(upstream.path, { recursive: true, force: true });
      const local = () => execFileSync("git", ["-C", clone, "rev-parse", "refs/heads/main"], { encoding: "utf8" }).trim();

      for (const ref of ["v1", c2.slice(0, 9)]) {
        const s = await resolveSource({ repoPath: clone, branch: "main", ref, pull: true });
        assert.equal(s.pulled, false, ref);
        assert.deepEqual([s.commit, s.branch, s.warnings], [ref === "v1" ? c1 : c2, "", []], ref);
        assert.equal(local(), c3, "main was not pulled");
      }
      // What the Pulumi program does: fetch into origin/main, deploy that, touch nothing else.
      const head = () => execFileSync("git", ["-C", clone, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
      const fetched = await resolveSource({ repoPath: clone, branch: "main", pull: true, fetchOnly: true });
      assert.deepEqual([fetched.pulled, fetched.commit, fetched.warnings], [true, ahead, []]);
      assert.deepEqual([local(), head()], [c3, c3], "the local branch and HEAD stay");
      execFileSync("git", ["-C", clone, "remote", "set-url", "origin", "/nonexistent/origin.git"]);
      const offline = await resolveSource({ repoPath: clone, branch: "main", pull: true, fetchOnly: true });
      assert.equal(offline.commit, ahead, "origin/main as last fetched");
      assert.match(offline.warnings.join("\n"), /^fetch of main from origin failed \(.*\): using origin\/main as last fetched/);
      execFileSync("git", ["-C", clone, "remote", "set-url", "origin", origin]);

      const s = await resolveSource({ repoPath: clone, branch: "main", ref: "main", pull: true });
      assert.deepEqual([s.pulled, s.commit, s.branch, s.refKind], [true, ahead, "main", "branch"]);
    } finally {
      fs.rmSync(origin, { recursive: true, force: true });
      fs.rmSync(clone, { recursive: true, force: true });
    }
  });
});
