/**
 * What is scanned is byte for byte what lands (issue 21, items 1, 2, 4, 7, 8, 9, 12): filters and
 * attributes, crafted trees, a tampered export cache, names that are not UTF-8, and a worktree that
 * changes under the run. Each case runs the real CLI against a real sshd + rsync VM, with real git and
 * gitleaks, and checks the bytes on the VM, the marker and the exit code.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { exportCommitTree, exportRoot } from "../../lib/source/exportTree";
import { Fleet, FleetVm, startFleet } from "../../tools/fleet/fleet";
import { FleetConfigOptions, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { fakeGithubToken, makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { runCli } from "../support/cli";

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** Every entry under `dir` (names as bytes, hex): type, mode bits and content; for tree equality. */
function treeBytes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: Buffer) => {
    const full = rel.length === 0 ? Buffer.from(dir) : Buffer.concat([Buffer.from(`${dir}/`), rel]);
    for (const name of fs.readdirSync(full, { encoding: "buffer" })) {
      const r = rel.length === 0 ? name : Buffer.concat([rel, Buffer.from("/"), name]);
      const p = Buffer.concat([Buffer.from(`${dir}/`), r]);
      const st = fs.lstatSync(p);
      const key = r.toString("hex");
      if (st.isDirectory()) {
        out.set(key, "dir");
        walk(r);
      } else if (st.isSymbolicLink()) {
        out.set(key, `link:${fs.readlinkSync(p, { encoding: "buffer" }).toString("hex")}`);
      } else {
        out.set(key, `file:${(st.mode & 0o111) !== 0}:${fs.readFileSync(p).toString("hex")}`);
      }
    }
  };
  walk(Buffer.alloc(0));
  return out;
}

/** Paths named `name` a few levels below `roots` (other tests' temp folders may vanish meanwhile: find's exit code is not read). */
function findNamed(roots: string[], name: string): string {
  return spawnSync("find", [...roots, "-maxdepth", "4", "-name", name], { encoding: "utf8" }).stdout.trim();
}

/** The tree as git stores it (`git archive` with no attributes): the reference every export equals. */
function gitTree(repo: SourceRepo, commit: string): Map<string, string> {
  const dir = tmp("rs-exact-ref-");
  const listing = execFileSync("git", ["-C", repo.path, "ls-tree", "-r", "-z", commit]);
  for (const rec of listing.toString("latin1").split("\0").filter(Boolean)) {
    const tab = rec.indexOf("\t");
    const [mode, , hash] = rec.slice(0, tab).split(" ");
    const rel = Buffer.from(rec.slice(tab + 1), "latin1");
    const p = Buffer.concat([Buffer.from(`${dir}/`), rel]);
    fs.mkdirSync(Buffer.concat([Buffer.from(`${dir}/`), rel.subarray(0, Math.max(0, rel.lastIndexOf(0x2f)))]), { recursive: true });
    const bytes = execFileSync("git", ["-C", repo.path, "cat-file", "blob", hash]);
    if (mode === "120000") fs.symlinkSync(bytes, p);
    else fs.writeFileSync(p, bytes, { mode: mode === "100755" ? 0o755 : 0o644 });
  }
  const out = treeBytes(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

describe("what is scanned is what lands: filters, attributes, crafted trees, cache tampering, byte names, worktree snapshots", function () {
  this.timeout(180_000);
  let fleet: Fleet;
  let vm: FleetVm;
  let repo: SourceRepo;
  let cfg: string;
  let cache: string;
  const env = () => ({ REPO_SYNC_CACHE: cache });
  const writeCfg = (opts: Partial<FleetConfigOptions> = {}) => writeFleetConfig(fleet, cfg, { repoPath: repo.path, ...opts });
  const sync = (...args: string[]) => runCli(["sync", "vm01", "--config", cfg, "--no-pull", ...args], { env: env() });
  const marker = () => fs.readFileSync(path.join(vm.targetPath, ".sync_rev"), "utf8").trim();
  /** The VM's tree without repo-sync's own files. */
  const onVm = () => {
    const t = treeBytes(vm.targetPath);
    for (const k of [...t.keys()]) if (Buffer.from(k, "hex").toString("latin1").startsWith(".sync_rev") || Buffer.from(k, "hex").toString("latin1").startsWith(".repo-sync")) t.delete(k);
    return t;
  };
  /** git in the source repository with `input` on stdin; its trimmed stdout. */
  const gitIn = (input: string | Buffer, ...args: string[]) => execFileSync("git", ["-C", repo.path, ...args], { input }).toString().trim();
  /** A raw tree object from entries (mode, name, hash), written with --literally (git checks nothing). */
  const rawTree = (entries: Array<[string, string, string]>) =>
    gitIn(Buffer.concat(entries.map(([mode, name, hash]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(hash, "hex")]))), "hash-object", "-t", "tree", "--literally", "-w", "--stdin");
  /** Empties vm01's target (a test that changes the layout or needs to see its first file arrive). */
  const emptyVm = () => {
    if (fs.existsSync(vm.targetPath)) for (const n of fs.readdirSync(vm.targetPath)) fs.rmSync(path.join(vm.targetPath, n), { recursive: true, force: true });
  };
  /** Files on the VM holding `needle` ("" when none: grep exits 1). */
  const grepVm = (needle: string) => {
    try {
      return execFileSync("grep", ["-rl", "--", needle, vm.targetPath], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return "";
    }
  };

  before(async () => {
    fleet = await startFleet({ count: 1, firstOctet: 250 });
    vm = fleet.vm("vm01");
  });
  after(async () => {
    await fleet?.stop();
  });
  beforeEach(() => {
    repo = makeSourceRepo();
    cache = tmp("rs-exact-cache-");
    cfg = path.join(fleet.baseDir, "exact.yml");
    writeCfg();
  });
  afterEach(() => {
    fs.rmSync(repo.path, { recursive: true, force: true });
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it("item 1: a clean/smudge filter never puts other bytes on the VM than the gate scanned (every export route)", async () => {
    // rot13 as clean and smudge: git stores the scrambled text, a checkout shows the plain one.
    repo.git("config", "filter.rot.clean", "tr A-Za-z N-ZA-Mn-za-m");
    repo.git("config", "filter.rot.smudge", "tr A-Za-z N-ZA-Mn-za-m");
    const many: Record<string, string> = { ".gitattributes": "*.env filter=rot\n" };
    for (let i = 0; i < 20; i++) many[`pad/f${i}.txt`] = `file ${i}\n`;
    const old = repo.head();
    repo.commit(many, "20 files");
    assert.equal((await sync()).code, 0);
    repo.git("checkout", "-q", "-b", "old", old);
    assert.equal((await sync("--branch", "old")).code, 0);
    // The export route with more than 16 changed paths (git wrote them before: with the smudge filter).
    const secret = repo.commit({ ".gitattributes": "*.env filter=rot\n", "secret.env": `TOKEN=${fakeGithubToken()}\n`, ...many }, "secret under a filter");
    const r = await sync("--branch", "old");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(marker(), secret);
    assert.equal(grepVm(fakeGithubToken()), "", "the plain token never lands");
    assert.deepEqual(onVm(), gitTree(repo, secret), "the VM holds the blobs as git stores them");
    assert.match(r.stderr, /ask for a conversion at checkout/);

    // A filter that stores the plain token and shows something else in a checkout: the gate sees the
    // stored bytes (which land), and blocks.
    repo.git("config", "filter.rot.clean", "cat");
    const plain = repo.commit({ "other.env": `TOKEN=${fakeGithubToken()}\n` }, "plain token stored");
    const blocked = await sync("--branch", "old");
    assert.equal(blocked.code, 2, blocked.stderr);
    assert.match(blocked.stderr, /secret scan \(gitleaks\) found/);
    assert.match(blocked.stderr, /other\.env/);
    assert.equal(marker(), secret, "nothing pushed");
    assert.notEqual(marker(), plain);
  });

  it("item 8: eol=crlf, ident and export-subst give one export whatever the route, equal to the stored blobs; a cleared cache shows no drift", async () => {
    const attrs = { ".gitattributes": "*.txt text eol=crlf\n*.c ident\n*.sh export-subst\nhidden.md export-ignore\n" };
    repo.commit({ ...attrs, "a.txt": "one\ntwo\n", "b.c": "/* $Id$ */\n", "v.sh": "echo $Format:%H$\n", "hidden.md": "x\n" }, "attributes");
    const c1 = repo.head();
    const pad: Record<string, string> = {};
    for (let i = 0; i < 20; i++) pad[`p/${i}.txt`] = `line ${i}\n`;
    const c2 = repo.commit({ ...pad, "a.txt": "one\ntwo\nthree\n" }, "many");
    const c3 = repo.commit({ "b.c": "/* $Id$ */\nint x;\n" }, "few");
    const routes = [
      ["fresh", await exportCommitTree(repo.path, c3, tmp("rs-exact-r1-"))],
      ["derived, few paths", await (async () => { const c = tmp("rs-exact-r2-"); await exportCommitTree(repo.path, c2, c); return exportCommitTree(repo.path, c3, c); })()],
      ["derived, many paths", await (async () => { const c = tmp("rs-exact-r3-"); await exportCommitTree(repo.path, c1, c); return exportCommitTree(repo.path, c3, c); })()],
    ] as const;
    const ref = gitTree(repo, c3);
    for (const [name, dir] of routes) assert.deepEqual(treeBytes(dir), ref, name);
    assert.equal((await sync()).code, 0);
    fs.rmSync(cache, { recursive: true, force: true });
    const st = await runCli(["verify", "vm01", "--config", cfg], { env: env() });
    assert.equal(st.code, 0, `no drift after the cache is gone: ${st.stdout}${st.stderr}`);
  });

  it("item 4: a crafted tree (.. names, a path below a symlink) is refused before anything is written anywhere", async () => {
    const victimDir = tmp("rs-exact-victim-");
    const blob = gitIn(`TOKEN=${fakeGithubToken()}\n`, "hash-object", "-w", "--stdin");
    const linkBlob = gitIn(victimDir, "hash-object", "-w", "--stdin");
    // From the scan's work folder (<cache>/scans/.pending-*) three levels up is /tmp: a few new files
    // are written there straight from git, so the gate needs a record from an earlier clean sync.
    const deep = [1, 2, 3].reduce((t) => rawTree([["40000", "..", t]]), rawTree([["100644", "pwned.txt", blob]]));
    assert.equal((await sync()).code, 0);
    const cases: Array<[string, string]> = [
      ["`..` names", rawTree([["40000", "..", deep], ["100644", "ok.txt", blob]])],
      ["a file below a symlink", rawTree([["120000", "a", linkBlob], ["40000", "a", rawTree([["100644", "pwned.txt", blob]])]])],
      ["a file listed twice", rawTree([["100644", "x", blob], ["100644", "x", blob]])],
    ];
    for (const [name, tree] of cases) {
      const commit = repo.git("commit-tree", tree, "-p", repo.head(), "-m", `crafted: ${name}`);
      repo.git("update-ref", "refs/heads/crafted", commit);
      for (let i = 0; i < 2; i++) {
        const r = await sync("--branch", "crafted");
        assert.equal(r.code, 2, `${name}: ${r.stderr}`);
        assert.match(r.stderr, /nothing was exported, scanned or pushed/, name);
      }
      assert.deepEqual(fs.readdirSync(victimDir), [], `${name}: nothing written through the link`);
      const stray = findNamed([os.tmpdir(), cache], "pwned.txt");
      assert.equal(stray, "", `${name}: no file written outside a checked tree`);
      assert.equal(fs.existsSync("/pwned.txt"), false, name);
    }
  });

  it("item 7: a file planted or edited in a cached export is never pushed; the export is built again", async () => {
    const c1 = repo.head();
    assert.equal((await sync()).code, 0);
    const exp = path.join(exportRoot(cache, repo.path), c1);
    fs.writeFileSync(path.join(exp, "planted.env"), `TOKEN=${fakeGithubToken()}\n`);
    // Same size, mtime put back: only the ctime tells.
    const app = path.join(exp, "src/app.py");
    const st = fs.statSync(app);
    const evil = Buffer.from(fs.readFileSync(app, "utf8").replace("hello", "HACKD"));
    fs.rmSync(app);
    fs.writeFileSync(app, evil);
    fs.utimesSync(app, st.atime, st.mtime);
    // A new commit derived from the tampered export, and the tampered export itself pushed again.
    const c2 = repo.commit({ "docs/x.md": "x\n" });
    const r2 = await sync();
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stderr, /cached export of .* was changed \("planted\.env" is not in the commit\)/);
    assert.deepEqual(onVm(), gitTree(repo, c2));
    // The export just built, tampered in turn, pushed again to a VM that is in sync.
    const exp2 = path.join(exportRoot(cache, repo.path), c2);
    fs.appendFileSync(path.join(exp2, "README.md"), "tampered\n");
    fs.mkdirSync(path.join(exp2, "extra"));
    fs.writeFileSync(path.join(exp2, "extra/planted.env"), `TOKEN=${fakeGithubToken()}\n`);
    const again = await sync("--force");
    assert.equal(again.code, 0, again.stderr);
    assert.equal(marker(), c2);
    assert.deepEqual(onVm(), gitTree(repo, c2));
    // Same size and mtime put back in the cache (which only this user can write): a full pass hashes
    // every cached file, and builds the export again.
    const exp3 = path.join(exportRoot(cache, repo.path), c2);
    const readme = path.join(exp3, "README.md");
    const rst = fs.statSync(readme);
    const same = Buffer.from(fs.readFileSync(readme, "utf8").toUpperCase());
    fs.rmSync(readme);
    fs.writeFileSync(readme, same);
    fs.utimesSync(readme, rst.atime, rst.mtime);
    const full = await sync("--force", "--full-scan");
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stderr, /does not hold the commit's content/);
    assert.deepEqual(onVm(), gitTree(repo, c2));
    assert.equal(grepVm(fakeGithubToken()), "");
  });

  it("item 9: names that are not UTF-8 land under their exact bytes, first export and small commit alike", async () => {
    const latin1 = Buffer.from("caf\xe9.txt", "latin1");
    const raw = Buffer.from([0x64, 0x69, 0x72, 0xff, 0x2f, 0x6e, 0x80, 0x2e, 0x6d, 0x64]); // "dir\xff/n\x80.md"
    fs.writeFileSync(Buffer.concat([Buffer.from(`${repo.path}/`), latin1]), "latin1 name\n");
    repo.git("add", "-A");
    repo.git("commit", "-q", "-m", "latin1 name");
    const r1 = await sync();
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(onVm(), gitTree(repo, repo.head()));
    fs.mkdirSync(Buffer.concat([Buffer.from(`${repo.path}/`), raw.subarray(0, 4)]));
    fs.writeFileSync(Buffer.concat([Buffer.from(`${repo.path}/`), raw]), "raw name\n");
    repo.git("add", "-A");
    repo.git("commit", "-q", "-m", "raw name");
    const r2 = await sync();
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(onVm(), gitTree(repo, repo.head()));
    assert.ok(fs.existsSync(Buffer.concat([Buffer.from(`${vm.targetPath}/`), raw])), "the exact byte name on the VM");
    const st = await runCli(["verify", "vm01", "--config", cfg], { env: env() });
    assert.equal(st.code, 0, st.stdout + st.stderr);
    // A secret in a file with such a name is still found.
    fs.writeFileSync(Buffer.concat([Buffer.from(`${repo.path}/`), Buffer.from("k\xe9y.env", "latin1")]), `TOKEN=${fakeGithubToken()}\n`);
    repo.git("add", "-A");
    repo.git("commit", "-q", "-m", "secret");
    assert.equal((await sync()).code, 2);
    assert.equal(grepVm(fakeGithubToken()), "");
  });

  it("item 2: worktree mode sees a same-size edit whose mtime was put back (touch -r)", async () => {
    writeCfg({ repository: { source_mode: "worktree", allow_dirty: true } });
    const f = path.join(repo.path, "notes.env");
    fs.writeFileSync(f, `TOKEN=${"x".repeat(fakeGithubToken().length)}\n`);
    const ref = path.join(repo.path, "ref.stamp");
    fs.writeFileSync(ref, "");
    fs.utimesSync(f, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    fs.utimesSync(ref, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    assert.equal((await sync()).code, 0);
    fs.writeFileSync(f, `TOKEN=${fakeGithubToken()}\n`);
    execFileSync("touch", ["-r", ref, f]);
    await new Promise((r) => setTimeout(r, 2_100)); // past the racy window: only the ctime tells
    const r = await sync("--force");
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /notes\.env/);
    assert.match(r.stderr, /found 1 secret in the checkout .* as it is \(worktree mode, on commit [0-9a-f]{12}; untracked files included\)/);
    // A clean edit of the same size with the mtime put back lands too (rsync's quick check would skip it).
    fs.writeFileSync(f, `TOKEN=${"z".repeat(fakeGithubToken().length)}\n`);
    execFileSync("touch", ["-r", ref, f]);
    await new Promise((res) => setTimeout(res, 2_100));
    const clean = await sync();
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(fs.readFileSync(path.join(vm.targetPath, "notes.env"), "utf8"), `TOKEN=${"z".repeat(fakeGithubToken().length)}\n`);
    assert.equal(grepVm(fakeGithubToken()), "");
  });

  it("item 12: worktree mode pushes the snapshot it scanned, not a file rewritten during the transfer", async () => {
    writeCfg({ repository: { source_mode: "worktree", allow_dirty: true, bwlimit_kbps: 200 } });
    // An empty target: the first file there says that the scan is over and rsync is sending.
    emptyVm();
    const big: Record<string, Buffer> = {};
    for (let i = 0; i < 4; i++) big[`a${i}.bin`] = Buffer.alloc(200_000, i + 1);
    repo.write(big);
    const late = path.join(repo.path, "zz.env");
    fs.writeFileSync(late, `TOKEN=${"y".repeat(fakeGithubToken().length)}\n`);
    const child = spawn(path.join(__dirname, "../../../bin/repo-sync"), ["sync", "vm01", "--config", cfg, "--no-pull"], { env: { ...process.env, ...env() }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve) => child.on("close", resolve));
    // Once rsync is sending (the scan is over), the file is rewritten with a token.
    const sending = () => {
      try {
        return fs.readdirSync(vm.targetPath).some((n) => !n.startsWith(".repo-sync") && !n.startsWith(".sync_rev"));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 300 && !sending(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(sending(), "the transfer started");
    fs.writeFileSync(late, `TOKEN=${fakeGithubToken()}\n`);
    assert.equal(await done, 0, stderr);
    assert.equal(grepVm(fakeGithubToken()), "", "the rewritten file did not land");
    assert.equal(fs.readFileSync(path.join(vm.targetPath, "zz.env"), "utf8"), `TOKEN=${"y".repeat(fakeGithubToken().length)}\n`);
    assert.equal((fs.statSync(vm.targetPath).mode & 0o777).toString(8), (fs.statSync(repo.path).mode & 0o777).toString(8), "the target folder keeps the checkout's mode, not the cache's");
  });

  it("item 11: a pushed .git (exclude_dot_git: false) with a secret brought by a merge commit or by a symlink turned file is blocked", async () => {
    writeCfg({ repository: { exclude_dot_git: false } });
    const base = repo.head();
    // An evil merge: the secret is in neither parent, only in the merge commit itself; removed later.
    repo.branch("side");
    repo.commit({ "main.txt": "main\n" });
    repo.checkout("side");
    repo.commit({ "side.txt": "side\n" });
    repo.checkout("main");
    repo.git("merge", "-q", "--no-ff", "--no-commit", "side");
    repo.write({ "merged.env": `TOKEN=${fakeGithubToken()}\n` });
    repo.git("add", "merged.env");
    repo.git("commit", "-q", "-m", "merge side");
    repo.commit({}, "clean up", ["merged.env"]);
    const evil = await sync();
    assert.equal(evil.code, 2, evil.stderr);
    assert.match(evil.stderr, /merged\.env/);
    assert.equal(grepVm(fakeGithubToken()), "");
    // `repo-sync scan` runs the gate sync runs, history included.
    const scan = await runCli(["scan", "--config", cfg], { env: env() });
    assert.equal(scan.code, 1, scan.stdout + scan.stderr);

    // A symlink turned into a file holding the secret, then removed.
    repo.git("reset", "-q", "--hard", base);
    fs.symlinkSync("README.md", path.join(repo.path, "link.env"));
    repo.git("add", "link.env");
    repo.git("commit", "-q", "-m", "link");
    fs.rmSync(path.join(repo.path, "link.env"));
    fs.writeFileSync(path.join(repo.path, "link.env"), `TOKEN=${fakeGithubToken()}\n`);
    repo.git("add", "link.env");
    repo.git("commit", "-q", "-m", "link to file");
    repo.commit({}, "remove", ["link.env"]);
    const typed = await sync();
    assert.equal(typed.code, 2, typed.stderr);
    assert.match(typed.stderr, /link\.env/);
    assert.equal(grepVm(fakeGithubToken()), "");

    // A file git calls binary (a NUL first), and a secret under the user's own `-diff` attribute: `git log -p`
    // shows neither, the history gate reads the blobs themselves.
    const userAttrs = path.join(cache, "user-attributes");
    fs.writeFileSync(userAttrs, "*.env -diff\n");
    const userConfig = path.join(cache, "user-gitconfig");
    fs.writeFileSync(userConfig, `[core]\n\tattributesFile = ${userAttrs}\n`);
    for (const [name, content] of [["bin.dat", Buffer.concat([Buffer.from([0]), Buffer.from(`TOKEN=${fakeGithubToken()}\n`)])], ["deploy.env", Buffer.from(`TOKEN=${fakeGithubToken()}\n`)]] as const) {
      repo.git("reset", "-q", "--hard", base);
      repo.commit({ [name]: content }, `add ${name}`);
      repo.commit({}, `remove ${name}`, [name]);
      const r = await runCli(["sync", "vm01", "--config", cfg, "--no-pull"], { env: { ...env(), GIT_CONFIG_GLOBAL: userConfig } });
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`\\.git@[0-9a-f]{12}:${name.replace(".", "\\.")}`), name);
      assert.equal(grepVm(fakeGithubToken()), "", name);
    }

    // An annotated tag with a token in its message, with push.followTags set in the checkout: not pushed.
    repo.git("reset", "-q", "--hard", base);
    repo.git("config", "push.followTags", "true");
    repo.git("tag", "-a", "v-secret", "-m", `release TOKEN=${fakeGithubToken()}`);
    const tagged = await sync();
    assert.equal(tagged.code, 0, tagged.stderr);
    assert.equal(grepVm(fakeGithubToken()), "", "the tag's message did not travel");
    repo.git("tag", "-d", "v-secret");
    // A token in a commit's author name travels in the commit object: scanned.
    repo.git("-c", `user.name=TOKEN=${fakeGithubToken()}`, "commit", "-q", "--allow-empty", "-m", "author");
    const author = await sync();
    assert.equal(author.code, 2, author.stderr);
    assert.match(author.stderr, /commit message/);
    // Accepted by the fingerprint printed for it, in the tree's .gitleaksignore.
    const fps = [...author.stderr.matchAll(/fingerprint ([0-9a-f]{40}:github-pat:\d+)/g)].map((m) => m[1]);
    assert.equal(fps.length, 2, "author and committer lines");
    repo.commit({ ".gitleaksignore": `${fps.join("\n")}\n` }, "accept the author findings");
    const accepted = await sync();
    assert.equal(accepted.code, 0, accepted.stderr);
    // An old .gitleaksignore of the history does not accept a history secret.
    repo.git("reset", "-q", "--hard", base);
    repo.commit({ "app.env": `TOKEN=${fakeGithubToken()}\n` }, "secret");
    repo.commit({ ".gitleaksignore": "app.env:github-pat:1\n" }, "ignore it");
    repo.commit({}, "remove both", ["app.env", ".gitleaksignore"]);
    const oldIgnore = await sync();
    assert.equal(oldIgnore.code, 2, oldIgnore.stderr);
    assert.match(oldIgnore.stderr, /\.git@[0-9a-f]{12}:app\.env/);

    // A crafted commit deep in the history (a `..` path), under a clean tip: refused, nothing written.
    repo.git("reset", "-q", "--hard", base);
    const blob = gitIn("planted\n", "hash-object", "-w", "--stdin");
    const up = [1, 2, 3, 4].reduce((t) => rawTree([["40000", "..", t]]), rawTree([["100644", "pwned-history.txt", blob]]));
    const crafted = repo.git("commit-tree", rawTree([["40000", "..", up]]), "-p", repo.head(), "-m", "crafted");
    repo.git("reset", "-q", "--hard", repo.git("commit-tree", repo.git("rev-parse", `${base}^{tree}`), "-p", crafted, "-m", "clean tip"));
    const refused = await sync();
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /in the history to push holds the path/);
    assert.equal(findNamed([os.tmpdir()], "pwned-history.txt"), "");
    assert.equal(fs.existsSync("/pwned-history.txt"), false);

    // Worktree mode pushes the .git built for the commit too (it used to be excluded with the checkout's).
    repo.git("reset", "-q", "--hard", base);
    writeCfg({ repository: { exclude_dot_git: false, source_mode: "worktree", rsync_excludes: [] } });
    const wt = await sync();
    assert.equal(wt.code, 0, wt.stderr);
    assert.equal(fs.readFileSync(path.join(vm.targetPath, ".git/HEAD"), "utf8"), "ref: refs/heads/main\n");
  });

  it("a symlink's target is scanned as text (gitleaks does not follow links), in commit and worktree mode, few or many new entries", async () => {
    const link = (name: string) => fs.symlinkSync(`/run/secrets/${fakeGithubToken()}`, path.join(repo.path, name));
    link("tok.lnk");
    repo.git("add", "tok.lnk");
    repo.git("commit", "-q", "-m", "a link");
    const first = await sync();
    assert.equal(first.code, 2, "first (full) scan: " + first.stderr);
    assert.match(first.stderr, /tok\.lnk/);
    repo.git("rm", "-q", "tok.lnk");
    repo.git("commit", "-q", "-m", "no link");
    assert.equal((await sync()).code, 0);
    link("again.lnk");
    repo.git("add", "again.lnk");
    repo.git("commit", "-q", "-m", "a link in a small commit");
    const small = await sync();
    assert.equal(small.code, 2, "small commit: " + small.stderr);
    assert.match(small.stderr, /again\.lnk/);
    repo.git("reset", "-q", "--hard", "HEAD~1");
    writeCfg({ repository: { source_mode: "worktree", allow_dirty: true } });
    assert.equal((await sync()).code, 0);
    link("wt.lnk");
    const wt = await sync();
    assert.equal(wt.code, 2, "worktree: " + wt.stderr);
    assert.match(wt.stderr, /wt\.lnk/);
    assert.equal(execFileSync("find", [vm.targetPath, "-name", "*.lnk"], { encoding: "utf8" }).trim(), "", "no such link landed");
  });

  it("a changed file whose size and blob-derived mtime equal the old one's still lands (rsync's quick check would skip it), in place and in releases", async () => {
    // Two 40-byte blobs whose derived mtimes coincide (c30976dc.. and 524164dc..), found by brute force.
    const a = `V=${"x".repeat(37)}\n`;
    const b = `V=b024cf8700000000${"x".repeat(21)}\n`;
    for (const layout of ["in_place", "releases"] as const) {
      emptyVm();
      writeCfg({ repository: { layout } });
      repo.commit({ "x.txt": a }, "a");
      assert.equal((await sync()).code, 0, layout);
      const c = repo.commit({ "x.txt": b }, "b");
      const r = await sync();
      assert.equal(r.code, 0, r.stderr);
      const served = layout === "releases" ? path.join(vm.targetPath, "current") : vm.targetPath;
      assert.equal(fs.readFileSync(path.join(served, "x.txt"), "utf8"), b, layout);
      assert.equal(fs.readFileSync(path.join(served, ".sync_rev"), "utf8").trim(), c, layout);
      repo.git("reset", "-q", "--hard", "HEAD~2");
    }
    // A target holding files but no marker (a cut run, a marker removed) may hold any commit's: contents are compared.
    writeCfg();
    emptyVm();
    repo.commit({ "x.txt": a }, "a again");
    assert.equal((await sync()).code, 0);
    fs.rmSync(path.join(vm.targetPath, ".sync_rev"));
    const c2 = repo.commit({ "x.txt": b }, "b again");
    const r2 = await sync();
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(marker(), c2);
    assert.equal(fs.readFileSync(path.join(vm.targetPath, "x.txt"), "utf8"), b, "no marker: contents compared");
  });

  it("a damaged or odd cache and tree give named errors or a rebuild, never a crash: an export replaced by a file or a dangling link, a cache inside the checkout, a path too long for the file system", async () => {
    emptyVm();
    const c1 = repo.head();
    assert.equal((await sync()).code, 0);
    const exp = path.join(exportRoot(cache, repo.path), c1);
    for (const plant of [() => fs.writeFileSync(exp, "not a folder\n"), () => fs.symlinkSync("/nonexistent/x", exp), () => fs.symlinkSync(os.tmpdir(), exp)]) {
      fs.rmSync(exp, { recursive: true, force: true });
      plant();
      const r = await sync("--force");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /is not a folder: it is built again/);
      assert.ok(fs.lstatSync(exp).isDirectory());
      assert.deepEqual(onVm(), gitTree(repo, c1));
    }
    // The cache inside the checkout, worktree mode: the snapshot leaves it out (it would copy itself).
    writeCfg({ repository: { source_mode: "worktree", allow_dirty: true } });
    const inside = path.join(repo.path, "cache-here");
    const wt = await runCli(["sync", "vm01", "--config", cfg, "--no-pull"], { env: { REPO_SYNC_CACHE: inside } });
    assert.equal(wt.code, 0, wt.stderr);
    assert.equal(fs.existsSync(path.join(vm.targetPath, "cache-here")), false);
    fs.rmSync(inside, { recursive: true, force: true });
    writeCfg();
    // A legal tree whose path is longer than PATH_MAX: a named error (exit 2), not an internal one.
    const mk = (entry: string) => execFileSync("git", ["-C", repo.path, "mktree"], { input: entry, encoding: "utf8" }).trim();
    let tree = mk(`100644 blob ${execFileSync("git", ["-C", repo.path, "hash-object", "-w", "--stdin"], { input: "deep\n", encoding: "utf8" }).trim()}\tf\n`);
    for (let i = 0; i < 20; i++) tree = mk(`040000 tree ${tree}\t${"d".repeat(250)}\n`);
    repo.git("update-ref", "refs/heads/deep", repo.git("commit-tree", tree, "-p", c1, "-m", "deep"));
    const deep = await sync("--branch", "deep");
    assert.equal(deep.code, 2, deep.stderr);
    assert.match(deep.stderr, /ENAMETOOLONG|longer than this file system allows/);
    assert.equal(marker(), c1);
  });

  it("item 10: with gitleaks' own rules, files its global path allowlist skips (node_modules/, vendor/github.com/, *.bin, *.pdf, go.sum) are scanned too; a .gitleaksignore line accepts one", async () => {
    const token = `TOKEN=${fakeGithubToken()}\n`;
    const names = ["node_modules/pkg/prod.env", "vendor/github.com/x/conf.env", "secrets.bin", "keys.pdf", "go.sum", "assets.png/deep/node_modules/k.env"];
    for (const [i, name] of names.entries()) {
      repo.git("reset", "-q", "--hard", "HEAD");
      const c = repo.commit({ [name]: token }, `token in ${name}`);
      for (const route of i === 0 ? ["--full-scan", ""] : [""]) {
        const r = await sync(...(route ? [route] : []));
        assert.equal(r.code, 2, `${name} ${route}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`${name.replace(/[.]/g, "\\.")}:1:github-pat`), name);
      }
      assert.equal(grepVm(fakeGithubToken()), "", name);
      repo.git("reset", "-q", "--hard", `${c}~1`);
    }
    // A name gitleaks cannot print (not UTF-8) among the files it skips by path: read all the same.
    fs.writeFileSync(Buffer.concat([Buffer.from(`${repo.path}/logo`), Buffer.from([0xff]), Buffer.from(".png")]), token);
    repo.git("add", "-A");
    repo.git("commit", "-q", "-m", "odd name");
    const odd = await sync();
    assert.equal(odd.code, 2, odd.stderr);
    assert.match(odd.stderr, /logo\ufffd\.png:1:github-pat/);
    repo.git("reset", "-q", "--hard", "HEAD~1");
    // Accepted by its real path's fingerprint, like any other finding.
    repo.commit({ "node_modules/pkg/prod.env": token, ".gitleaksignore": "node_modules/pkg/prod.env:github-pat:1\n" }, "accepted");
    const ok = await sync();
    assert.equal(ok.code, 0, ok.stderr);
  });
});
