/**
 * Cost follows the change, strength does not: a new commit's export is derived from the last one and
 * must be byte-identical to a fresh export; the secret gate scans only pairs not found clean before
 * and must block exactly what a full scan blocks. Real git, real gitleaks, no VMs needed.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RepositorySettings } from "../../lib/config/types";
import type { IncrementalScanResult } from "../../lib/scan/scanIncremental";
import { HistoryScanResult, scanHistory } from "../../lib/scan/scanHistory";
import { readRules } from "../../lib/scan/scanRepository";
import { exportHistory } from "../../lib/source/exportHistory";
import { exportCommitTree, exportRoot } from "../../lib/source/exportTree";
import { expectedState } from "../../lib/api";
import { quietLogger } from "../../lib/log";
import { prepareCommit, scanSourceTree } from "../../lib/sync/prepareSource";
import { fakeAwsKeyLine, fakeGithubToken, makeSourceRepo, plantSecret, SourceRepo } from "../../tools/fleet/sourceRepo";

/** Every entry of a folder, empty folders included: type, mode, mtime and content (or link target). */
function signature(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, p));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`L ${p} -> ${fs.readlinkSync(path.join(root, p))}`);
      else if (st.isDirectory()) {
        out.push(`D ${p} ${mode}`);
        walk(p);
      } else out.push(`F ${p} ${mode} ${Math.floor(st.mtimeMs / 1000)} ${createHash("sha256").update(fs.readFileSync(path.join(root, p))).digest("hex").slice(0, 16)}`);
    }
  };
  walk("");
  return out;
}

function repoSettings(repoPath: string, over: Partial<RepositorySettings> = {}): RepositorySettings {
  return {
    sourceVm: "vm04", mainRepoPath: repoPath, vmRepoPaths: {}, defaultBranch: "main", excludeDotGit: true, rsyncExcludes: [], pushTargets: [],
    sourceMode: "commit", allowDirty: false, secretScanning: { enabled: true, tool: "gitleaks", blockOnSecrets: true, ignoreInlineAllow: false },
    adoptExisting: false, parallelism: 1, lockTimeoutS: 10, ioTimeoutS: 30, sudo: false, layout: "in_place", keepReleases: 5, ...over,
  };
}

describe("incremental export and secret gate (same result as a full pass, less work)", function () {
  this.timeout(120_000);
  let repo: SourceRepo;
  let cache: string;
  const tmpDirs: string[] = [];
  const tmp = (prefix: string) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    tmpDirs.push(d);
    return d;
  };

  beforeEach(() => {
    repo = makeSourceRepo();
    cache = tmp("repo-sync-inc-cache-");
  });
  afterEach(() => {
    fs.rmSync(repo.path, { recursive: true, force: true });
    for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it("an export derived from the previous one is byte-identical to a fresh one, across every kind of change", async () => {
    const r = repo;
    const gitlink = (p: string, sha: string) => r.git("update-index", "--add", "--cacheinfo", `160000,${sha},${p}`);
    const steps: Array<[string, () => void]> = [
      ["start: links, modes, a submodule pointer, nested folders", () => {
        r.write({ "bin/tool": "#!/bin/sh\necho tool\n", "a/b/c/deep.txt": "deep\n", "empty.txt": "", "x/file-then-dir": "f\n", "y/dir-then-file/inner.txt": "i\n" });
        fs.chmodSync(path.join(r.path, "bin/tool"), 0o755);
        fs.symlinkSync("src/app.py", path.join(r.path, "app-link"));
        fs.symlinkSync("README.md", path.join(r.path, "link-then-file"));
        r.write({ "file-then-link": "plain\n" });
        r.git("add", "-A");
        gitlink("vendor/lib", r.head());
        r.git("commit", "-q", "-m", "start");
      }],
      ["modify, delete the last file of a folder, rename, mode change", () => {
        r.write({ "src/app.py": "print('v2')\n" });
        r.git("rm", "-q", "a/b/c/deep.txt");
        r.git("mv", "src/lib/util.py", "src/lib/helpers.py");
        fs.chmodSync(path.join(r.path, "scripts/run.sh"), 0o755);
        // Named paths, not -A: `add -A` would drop the submodule pointer (no checkout behind it).
        r.git("add", "--", "src/app.py", "scripts/run.sh");
        r.git("commit", "-q", "-m", "changes");
      }],
      ["type changes: file <-> symlink <-> folder, submodule moved", () => {
        fs.rmSync(path.join(r.path, "file-then-link"));
        fs.symlinkSync("README.md", path.join(r.path, "file-then-link"));
        fs.rmSync(path.join(r.path, "link-then-file"));
        r.write({ "link-then-file": "now a file\n" });
        r.git("rm", "-q", "x/file-then-dir");
        r.write({ "x/file-then-dir/inside.txt": "now a folder\n" });
        r.git("rm", "-q", "-r", "y/dir-then-file");
        r.write({ "y/dir-then-file": "now a file\n" });
        r.git("add", "--", "file-then-link", "link-then-file", "x/file-then-dir/inside.txt", "y/dir-then-file");
        r.git("rm", "-q", "--cached", "vendor/lib");
        gitlink("vendor/lib2", r.git("rev-parse", "HEAD~1"));
        r.git("commit", "-q", "-m", "types");
      }],
      ["same blob under two paths, mode back, everything under a folder removed", () => {
        r.write({ "copy-of-readme.md": fs.readFileSync(path.join(r.path, "README.md")) });
        fs.chmodSync(path.join(r.path, "scripts/run.sh"), 0o644);
        r.git("rm", "-q", "-r", "src");
        r.git("add", "--", "copy-of-readme.md", "scripts/run.sh");
        r.git("commit", "-q", "-m", "more");
      }],
      ["many paths at once (git checks them out from an index), a new folder of them", () => {
        const many: Record<string, string> = {};
        for (let i = 0; i < 24; i++) many[`many/f${i}.txt`] = `file ${i}\n`;
        r.write({ ...many, "copy-of-readme.md": "changed too\n" });
        r.git("add", "--", "many", "copy-of-readme.md");
        r.git("commit", "-q", "-m", "many");
      }],
    ];
    let previous: string | undefined;
    for (const [name, change] of steps) {
      change();
      const incremental = await exportCommitTree(r.path, r.head(), cache);
      const fresh = await exportCommitTree(r.path, r.head(), tmp("repo-sync-inc-fresh-"));
      assert.deepEqual(signature(incremental), signature(fresh), name);
      if (previous) {
        // Derived, not exported again: an unchanged file is the previous export's file (a hard link).
        assert.equal(fs.statSync(path.join(incremental, "README.md")).ino, fs.statSync(path.join(previous, "README.md")).ino, name);
      }
      previous = incremental;
    }
    assert.ok(signature(previous ?? "").includes("D vendor/lib2 755"), "the submodule pointer exports as an empty folder");
    // The earlier exports were not touched by the later ones (files are shared as hard links).
    const first = r.git("rev-list", "--max-parents=0", "HEAD");
    assert.deepEqual(signature(await exportCommitTree(r.path, first, cache)), signature(await exportCommitTree(r.path, first, tmp("repo-sync-inc-fresh-"))));
  });

  it("a crafted commit with `..` or `.git` entries is refused, on both routes, and nothing outside the export is touched", async () => {
    const cacheParent = tmp("repo-sync-inc-crafted-");
    const crafted = path.join(cacheParent, "cache");
    await exportCommitTree(repo.path, repo.head(), crafted);
    // The files a `../..`-walking path would reach from an export's work folder.
    const victim = path.join(cacheParent, "victim.txt");
    fs.writeFileSync(victim, "precious\n");
    const gitIn = (input: string, ...args: string[]) => execFileSync("git", ["-C", repo.path, ...args], { input, encoding: "utf8" }).trim();
    const mk = (entries: string) => gitIn(entries, "mktree");
    const blob = gitIn("planted\n", "hash-object", "-w", "--stdin");
    for (const [name, tree] of [
      // From the work folder (cache/exports/<repo>/.tmp-*/tree) five levels up is the victim's folder.
      ["..", () => [1, 2, 3, 4, 5].reduce((t) => mk(`040000 tree ${t}\t..\n`), mk(`100644 blob ${blob}\tvictim.txt\n`))],
      [".git", () => mk(`040000 tree ${mk(`100644 blob ${blob}\tconfig\n`)}\t.GIT\n`)],
    ] as const) {
      const commit = repo.git("commit-tree", tree(), "-p", repo.head(), "-m", `crafted ${name}`);
      for (const cache of [crafted, tmp("repo-sync-inc-fresh-")]) {
        await assert.rejects(exportCommitTree(repo.path, commit, cache), (e: Error) => /refuses to check out|read-tree failed|checkout-index failed|invalid path/.test(e.message), name);
        assert.equal(fs.existsSync(path.join(exportRoot(cache, repo.path), commit)), false, `${name}: no export left behind`);
      }
    }
    assert.equal(fs.readFileSync(victim, "utf8"), "precious\n");
  });

  it("the pushed history (exclude_dot_git: false) is scanned from the last clean ancestor, and still blocks what a full scan blocks", async () => {
    const { rulesPath } = readRules(undefined, cache);
    const history = async (c: string, where = cache) => {
      const tree = await exportCommitTree(repo.path, c, where);
      return scanHistory(await exportHistory(repo.path, c, "main", where), c, { rulesPath, ignoreDir: tree, cacheDir: where });
    };
    const prints = (r: HistoryScanResult) => r.findings.map((f) => f.fingerprint).sort();
    const c1 = repo.head();
    assert.equal((await history(c1)).range, undefined, "the first scan reads the whole history");
    const c2 = repo.commit({ "docs/more.md": "# more\n" }, "docs");
    const r2 = await history(c2);
    assert.deepEqual([r2.range, r2.findings], [`${c1}..${c2}`, []], "then only the new commits");
    assert.equal((await history(c2)).cached, true);

    plantSecret(repo);
    const c3 = repo.head();
    const r3 = await history(c3);
    assert.equal(r3.range, `${c2}..${c3}`);
    assert.ok(r3.findings.length > 0 && r3.findings.every((f) => f.file.startsWith(`.git@${c3.slice(0, 12)}:`)), JSON.stringify(r3.findings));
    // The secret leaves the tree but stays in the history: the range starts at the last CLEAN ancestor (c2).
    const c4 = repo.commit({}, "remove the settings", ["config/deploy.env"]);
    const r4 = await history(c4);
    assert.equal(r4.range, `${c2}..${c4}`);
    assert.deepEqual(prints(r4), prints(await history(c4, tmp("repo-sync-inc-fullhist-"))), "the same findings as a full scan");
    // A commit message is pushed too, and scanned in the range.
    repo.git("reset", "-q", "--hard", c2);
    const c5 = repo.commit({ "x.txt": "x\n" }, `deploy with GITHUB_TOKEN=${fakeGithubToken()}`);
    const r5 = await history(c5);
    assert.equal(r5.range, `${c2}..${c5}`);
    assert.deepEqual(r5.findings.map((f) => f.file), [`.git@${c5.slice(0, 12)}:commit message`]);
    // Another .gitleaksignore is another verdict: the whole history again.
    repo.git("reset", "-q", "--hard", c2);
    const c6 = repo.commit({ ".gitleaksignore": "# nothing ignored yet\n" }, "ignore file");
    assert.equal((await history(c6)).range, undefined);
  });

  async function gate(over: Partial<RepositorySettings> = {}, full = false): Promise<IncrementalScanResult> {
    const settings = repoSettings(repo.path, over);
    return scanSourceTree(settings, repo.head(), cache, full);
  }
  const found = (r: IncrementalScanResult) => r.findings.map((f) => `${f.file}:${f.line}:${f.rule}`).sort();

  it("scans only new (path, content) pairs, and blocks exactly what a full scan blocks", async () => {
    const first = await gate();
    assert.equal(first.full, true);
    assert.equal(first.scannedFiles, first.totalFiles);
    const again = await gate();
    assert.equal(again.scannedFiles, 0, "nothing new: nothing scanned");
    assert.equal(again.hasSecrets, false);

    const cases: Array<[string, () => void, string[]]> = [
      ["a new file", () => repo.commit({ "new.env": `TOKEN=${fakeGithubToken()}\n` }), ["new.env:1:github-pat"]],
      ["a changed file", () => repo.commit({ "src/app.py": `print('x')\n# ${fakeAwsKeyLine()}\n` }), ["src/app.py:2:aws-access-token"]],
      ["a renamed file (content found clean before, unchanged)", () => { repo.git("mv", "README.md", "docs.md"); repo.git("commit", "-q", "-m", "mv"); }, []],
    ];
    const clean = repo.head();
    for (const [name, change, want] of cases) {
      change();
      const inc = await gate();
      const full = await gate({}, true);
      assert.deepEqual(found(inc), want, name);
      assert.deepEqual(found(inc), found(full), `${name}: incremental and full agree`);
      assert.ok(inc.scannedFiles <= 2, `${name}: scanned ${inc.scannedFiles} files`);
      repo.git("reset", "-q", "--hard", clean);
    }
  });

  it("content found clean under one path is scanned again under another (rules look at paths)", async () => {
    const rules = path.join(tmp("repo-sync-inc-rules-"), "rules.toml");
    fs.writeFileSync(rules, "[extend]\nuseDefault = true\n[allowlist]\npaths = ['''^fixtures/''']\n");
    repo.commit({ "fixtures/token.env": `TOKEN=${fakeGithubToken()}\n` });
    const scanning = { secretScanning: { enabled: true, tool: "gitleaks" as const, blockOnSecrets: true, ignoreInlineAllow: false, configPath: rules } };
    assert.equal((await gate(scanning)).hasSecrets, false, "allowlisted where it is");
    repo.commit({ "src/token.env": fs.readFileSync(path.join(repo.path, "fixtures/token.env")) });
    const moved = await gate(scanning);
    assert.deepEqual(found(moved), ["src/token.env:1:github-pat"]);
    assert.equal(moved.scannedFiles, 1);
  });

  it("a rules change (or a .gitleaksignore change) rescans everything: an old file can fail", async () => {
    const rules = path.join(tmp("repo-sync-inc-rules-"), "rules.toml");
    fs.writeFileSync(rules, "[extend]\nuseDefault = true\n");
    const scanning = (configPath: string) => ({ secretScanning: { enabled: true, tool: "gitleaks" as const, blockOnSecrets: true, ignoreInlineAllow: false, configPath } });
    assert.equal((await gate(scanning(rules))).hasSecrets, false);
    assert.equal((await gate(scanning(rules))).scannedFiles, 0);
    fs.appendFileSync(rules, '\n[[rules]]\nid = "hello-word"\nregex = \'\'\'hello from th_timmy\'\'\'\n');
    const stricter = await gate(scanning(rules));
    assert.equal(stricter.full, true);
    assert.deepEqual(found(stricter), ["src/app.py:1:hello-word"]);

    // Accepting it through .gitleaksignore is a new identity too; dropping the entry blocks again.
    repo.commit({ ".gitleaksignore": `${stricter.findings[0].fingerprint}\n` });
    const accepted = await gate(scanning(rules));
    assert.equal(accepted.hasSecrets, false);
    assert.equal(accepted.full, true);
    repo.commit({ ".gitleaksignore": "# nothing accepted\n" });
    assert.deepEqual(found(await gate(scanning(rules))), ["src/app.py:1:hello-word"]);
  });

  it("worktree mode: unchanged files are not hashed or scanned again; an edit or an untracked file is", async () => {
    const wt = { sourceMode: "worktree" as const, allowDirty: true };
    const first = await gate(wt);
    assert.equal(first.full, true);
    assert.equal((await gate(wt)).scannedFiles, 0);
    fs.writeFileSync(path.join(repo.path, "untracked.env"), `TOKEN=${fakeGithubToken()}\n`);
    const untracked = await gate(wt);
    assert.deepEqual(found(untracked), ["untracked.env:1:github-pat"]);
    assert.equal(untracked.scannedFiles, 1);
    fs.rmSync(path.join(repo.path, "untracked.env"));
    fs.appendFileSync(path.join(repo.path, "src/app.py"), `# ${fakeAwsKeyLine()}\n`);
    assert.deepEqual(found(await gate(wt)), ["src/app.py:2:aws-access-token"]);
  });
});

describe("status and the provider expect the same tree (one builder, with or without the gate)", function () {
  this.timeout(120_000);
  let repo: SourceRepo;
  let cache: string;
  beforeEach(() => {
    repo = makeSourceRepo();
    cache = fs.mkdtempSync(path.join(os.tmpdir(), "rs-expect-"));
  });
  afterEach(() => {
    fs.rmSync(repo.path, { recursive: true, force: true });
    fs.rmSync(cache, { recursive: true, force: true });
  });
  const gated = (settings: RepositorySettings) => prepareCommit(settings, repo.head(), { logger: quietLogger, cacheDir: cache });
  const expected = (settings: RepositorySettings) => expectedState(settings, { cacheDir: cache });

  for (const mode of ["commit", "worktree"] as const) {
    it(`${mode} mode: the same transfer (folder, extra sources, excludes) for status as for a sync`, async () => {
      const settings = repoSettings(repo.path, { sourceMode: mode, excludeDotGit: false });
      const [a, b] = await Promise.all([expected(settings), gated(settings)]);
      assert.equal(a.commit, repo.head());
      // A worktree is pushed from a snapshot taken by each run (the live folder could change under rsync).
      const { sourceDir: dirA, ...restA } = a.transfer;
      const { sourceDir: dirB, ...restB } = b.transfer;
      assert.deepEqual(restA, restB);
      assert.equal(mode === "worktree" ? path.dirname(dirA) === path.dirname(dirB) : dirA === dirB, true, `${dirA} / ${dirB}`);
      assert.notEqual(dirA, repo.path, "never the live checkout");
      assert.equal(a.transfer.extraSources?.length, 1); // the .git built for the commit
    });
  }

  it("a dirty worktree is refused by status exactly as by a sync (not compared with a tree no commit describes)", async () => {
    fs.appendFileSync(path.join(repo.path, "src/app.py"), "# edited, not committed\n");
    const settings = repoSettings(repo.path, { sourceMode: "worktree" });
    const messageOf = (p: Promise<unknown>) => p.then(() => "resolved", (e: Error) => e.message);
    const [a, b] = await Promise.all([messageOf(expected(settings)), messageOf(gated(settings))]);
    assert.match(a, /uncommitted changes to tracked files \(src\/app\.py\)/);
    assert.equal(a, b);
  });

  it("a secret blocks the sync but not the status (status says what the VM holds, not whether it may be pushed)", async () => {
    repo.commit({ "creds.env": `TOKEN=${fakeGithubToken()}\n` });
    const settings = repoSettings(repo.path);
    await assert.rejects(gated(settings), (e: Error) => e.name === "SecretsFoundError");
    assert.equal((await expected(settings)).commit, repo.head());
  });
});
