/**
 * Hostile input on a real fleet: target paths a shell or rsync would interpret, commits and VMs that
 * plant symlinks or forge markers under repo-sync's own names, tampering that keeps size and mtime,
 * drift rsync's file list alone does not show, and a pushed `.git` that carries secrets. Each case
 * checks bytes on the VM (the victim files, the marker) and the exit code, over several variants.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { StatusDoc, SyncDoc } from "../../cli/format";
import { Fleet, FleetVm, startFleet } from "../../tools/fleet/fleet";
import { FleetConfigOptions, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { fakeGithubToken, makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { json, runCli } from "../support/cli";

describe("hostile input: paths, planted links, forged markers, tampering, pushed history", function () {
  this.timeout(180_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  let vm01: FleetVm;
  const writeCfg = (opts: Partial<FleetConfigOptions> = {}) => writeFleetConfig(fleet, cfg, { repoPath: repo.path, ...opts });
  const target = (p = "") => path.join(vm01.targetPath, p);
  const read = (p: string) => fs.readFileSync(p, "utf8");
  /** A folder on vm01 owned by its login user (as a real VM's admin would prepare it). */
  const userDir = (rel: string) => {
    const p = path.join(vm01.root, rel);
    fs.mkdirSync(p, { recursive: true });
    execFileSync("chown", ["-R", `${vm01.user}:`, path.join(vm01.root, rel.split("/")[0])]);
    return p;
  };
  const sync = async (...args: string[]) => {
    const r = await runCli(["sync", "vm01", "--config", cfg, "--json", ...args]);
    return { run: r, doc: r.code === 2 ? undefined : json<SyncDoc>(r).results[0] };
  };
  const status = async (...args: string[]) => {
    const r = await runCli(["status", "vm01", "--config", cfg, "--json", ...args]);
    return json<StatusDoc>(r).statuses[0];
  };

  before(async () => {
    fleet = await startFleet({ count: 1, firstOctet: 121 });
    vm01 = fleet.vm("vm01");
    repo = makeSourceRepo();
    cfg = path.join(fleet.baseDir, "config.yml");
    writeCfg();
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });
  afterEach(() => writeCfg());

  it("refuses target paths holding wildcards (rsync would expand them on the VM), and the decoy stays intact", async () => {
    const decoy = userDir("srv/x/app1");
    fs.writeFileSync(path.join(decoy, "keep.txt"), "decoy\n");
    for (const name of ["app[1]", "app*", "app?", "app{1,2}", "[a]pp1"]) {
      writeCfg({ repository: { vm_repo_paths: { vm01: path.join(vm01.root, "srv/x", name) } } });
      const r = await runCli(["sync", "--config", cfg]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /repository\.vm_repo_paths\.vm01: .* contains a wildcard character/, name);
    }
    assert.deepEqual(fs.readdirSync(decoy), ["keep.txt"]);
    assert.equal(read(path.join(decoy, "keep.txt")), "decoy\n");
  });

  it("passes every other odd path literally through both routes (target session and probe, rsync push and dry run)", async () => {
    const parent = userDir("srv/odd");
    const names = ["my app;touch PWNED", "a&b|c$", "semi (1)#!", "pct%d=1,@+:x", "ünï cödé <>", "tab'less~"];
    for (const name of names) {
      // `$` and quotes are refused by design (see the bad-input table); the rest must work literally.
      const refused = /[$']/.test(name);
      const dir = path.join(parent, name);
      writeCfg({ repository: { vm_repo_paths: { vm01: dir } } });
      const s = await sync();
      if (refused) {
        assert.equal(s.run.code, 2, name);
        continue;
      }
      assert.equal(s.run.code, 0, `${name}: ${s.run.stdout}${s.run.stderr}`);
      assert.equal(read(path.join(dir, ".sync_rev")), `${repo.head()}\n`, name);
      assert.equal(read(path.join(dir, "src/app.py")), "print('hello from th_timmy')\n", name);
      const st = await status();
      assert.equal(st.state, "in-sync", `${name}: ${JSON.stringify(st)}`);
    }
    // Nothing was created beside the intended folders (no split path, no command run).
    assert.deepEqual(fs.readdirSync(parent).sort(), names.filter((n) => !/[$']/.test(n)).sort());
    assert.equal(fs.existsSync(path.join(vm01.root, "PWNED")), false);
  });

  it("refuses a commit (or a worktree) that holds one of repo-sync's own names, naming the file", async () => {
    const victim = userDir("victim");
    fs.writeFileSync(path.join(victim, "passwd"), "precious\n");
    const clean = repo.head();
    const cases: Array<[string, () => void]> = [
      [".sync_rev.tmp", () => fs.symlinkSync(path.join(victim, "passwd"), path.join(repo.path, ".sync_rev.tmp"))],
      [".repo-sync.managed", () => fs.symlinkSync(path.join(victim, "passwd"), path.join(repo.path, ".repo-sync.managed"))],
      [".sync_rev", () => fs.writeFileSync(path.join(repo.path, ".sync_rev"), `${"0".repeat(40)}\n`)],
      [".repo-sync.tmp.abcdef", () => fs.writeFileSync(path.join(repo.path, ".repo-sync.tmp.abcdef"), "x\n")],
    ];
    try {
      for (const [name, plant] of cases) {
        plant();
        repo.git("add", "--", name);
        repo.git("commit", "-q", "-m", `plant ${name}`);
        for (const mode of ["commit", "worktree"]) {
          writeCfg({ repository: { source_mode: mode } });
          const r = await runCli(["sync", "--config", cfg]);
          assert.equal(r.code, 2, `${name} (${mode}): ${r.stderr}`);
          assert.ok(r.stderr.includes(`holds ${JSON.stringify(name)} at the top of the tree, a name repo-sync keeps for its own files`), `${name} (${mode}): ${r.stderr}`);
        }
        repo.git("reset", "-q", "--hard", clean);
      }
    } finally {
      repo.git("reset", "-q", "--hard", clean);
    }
    assert.equal(read(path.join(victim, "passwd")), "precious\n");
    assert.equal(fs.existsSync(target()), false, "nothing reached the VM");
  });

  it("never writes through a symlink planted on the VM under its own names, nor trusts a linked marker", async () => {
    const victim = userDir("victim2");
    fs.writeFileSync(path.join(victim, "passwd"), "precious\n");
    assert.equal((await sync()).run.code, 0);
    const head = repo.head();
    for (const name of [".sync_rev", ".repo-sync.managed", ".repo-sync.lock", ".repo-sync.tmp.XXXXXX"]) {
      fs.rmSync(target(name), { force: true });
      fs.symlinkSync(path.join(victim, "passwd"), target(name));
    }
    fs.symlinkSync(path.join(victim, "created-through-link"), target(".sync_rev.tmp"));
    // A linked marker that names the right commit is not "in sync".
    fs.writeFileSync(path.join(victim, "passwd"), `${head}\n`);
    const st = await status();
    assert.equal(st.state, "drift");
    assert.equal(st.marker, "symlink");
    const s = await sync("--force");
    assert.equal(s.run.code, 0, s.run.stdout + s.run.stderr);
    assert.equal(read(path.join(victim, "passwd")), `${head}\n`, "the victim was not written");
    assert.equal(fs.existsSync(path.join(victim, "created-through-link")), false);
    assert.equal(fs.lstatSync(target(".sync_rev")).isFile(), true, "the link was replaced by a file");
    assert.equal(fs.lstatSync(target(".repo-sync.managed")).isFile(), true);
    assert.equal(read(target(".sync_rev")), `${head}\n`);
    assert.equal((await status()).state, "in-sync");
  });

  it("refuses a target path that is itself a symlink, and a directory planted as the marker", async () => {
    const real = userDir("srv/real");
    fs.writeFileSync(path.join(real, "precious.db"), "irreplaceable\n");
    const link = path.join(vm01.root, "srv", "linked");
    fs.symlinkSync(real, link);
    writeCfg({ repository: { vm_repo_paths: { vm01: link } } });
    const s = await sync();
    assert.equal(s.run.code, 1);
    assert.equal(s.doc?.error?.kind, "unsafe-target");
    assert.match(s.doc?.error?.message ?? "", /the target path is a symlink; repo-sync does not write through links/);
    assert.equal((await status()).state, "error");
    assert.deepEqual(fs.readdirSync(real), ["precious.db"]);

    writeCfg();
    assert.equal((await sync()).run.code, 0);
    fs.rmSync(target(".sync_rev"));
    fs.mkdirSync(target(".sync_rev"));
    const planted = await sync("--force");
    assert.equal(planted.run.code, 1);
    assert.match(planted.doc?.error?.message ?? "", /cannot remove \.sync_rev/);
    fs.rmdirSync(target(".sync_rev"));
  });

  it("reads the marker as bytes: forged lines neither count as in sync nor break the session", async () => {
    assert.equal((await sync()).run.code, 0);
    const head = repo.head();
    const forgeries = [`garbage\nREV ${head}\n`, `${head}\nREADY\n`, `${head}\\nx\n`, `${head}\n${head}\n`, ` ${head}\n`, `${head.toUpperCase()}\n`, `${head}\r\n`];
    for (const forged of forgeries) {
      fs.writeFileSync(target(".sync_rev"), forged);
      const st = await status();
      assert.equal(st.state, "drift", JSON.stringify(forged));
      assert.equal(st.marker, "malformed", JSON.stringify(forged));
      const s = await sync();
      assert.equal(s.run.code, 0, `${JSON.stringify(forged)}: ${s.run.stdout}${s.run.stderr}`);
      assert.equal(read(target(".sync_rev")), `${head}\n`);
    }
  });

  it("finds tampering that keeps size and mtime with --checksum, and a forced sync repairs it", async () => {
    assert.equal((await sync()).run.code, 0);
    for (const file of ["src/app.py", "data/blob.bin"]) {
      const p = target(file);
      const before = fs.statSync(p);
      const bytes = fs.readFileSync(p);
      bytes[0] = bytes[0] ^ 0x01; // same size
      fs.writeFileSync(p, bytes);
      fs.utimesSync(p, before.atime, before.mtime);
      assert.equal((await status()).state, "in-sync", "the quick check (size + mtime) cannot see it");
      const deep = await status("--checksum");
      assert.equal(deep.state, "drift");
      assert.deepEqual(deep.drift?.modified, [file]);
      const verify = await runCli(["verify", "vm01", "--checksum", "--config", cfg]);
      assert.equal(verify.code, 1);
      const s = await sync("--force");
      assert.equal(s.run.code, 0);
      assert.deepEqual(s.doc?.changes?.modified, [file]);
      assert.equal((await status("--checksum")).state, "in-sync");
      assert.equal(fs.readFileSync(p).equals(execFileSync("git", ["show", `HEAD:${file}`], { cwd: repo.path })), true);
    }
  });

  it("reports extra empty directories and directory mode changes as drift, and sync says it repaired them", async () => {
    assert.equal((await sync()).run.code, 0);
    fs.mkdirSync(target("extra/empty"), { recursive: true });
    execFileSync("chown", ["-R", `${vm01.user}:`, target("extra")]); // made by the VM's user, as drift would be
    let st = await status();
    assert.equal(st.state, "drift");
    assert.deepEqual(st.drift?.added.sort(), ["extra/", "extra/empty/"]);
    let s = await sync();
    assert.equal(s.doc?.action, "repaired");
    assert.equal(fs.existsSync(target("extra")), false);

    fs.chmodSync(target("src"), 0o700);
    st = await status();
    assert.equal(st.state, "drift");
    assert.deepEqual(st.drift?.modified, ["src/"]);
    s = await sync();
    assert.equal(s.doc?.action, "repaired");
    assert.equal(fs.statSync(target("src")).mode & 0o777, 0o755);
    assert.equal((await status()).state, "in-sync");
  });

  it("max_delete refuses the whole run before any byte moves (no half-applied change)", async () => {
    assert.equal((await sync()).run.code, 0);
    const before = repo.head();
    repo.commit({ "NEW.md": "added in the same commit\n" }, "add one, drop three", ["src/app.py", "src/lib", "scripts"]);
    writeCfg({ repository: { max_delete: 2 } });
    try {
      const s = await sync();
      assert.equal(s.run.code, 1);
      assert.equal(s.doc?.error?.kind, "unsafe-target");
      assert.match(s.doc?.error?.message ?? "", /would delete \d+ paths .*more than repository\.max_delete \(2\); nothing was changed/);
      assert.equal(fs.existsSync(target("NEW.md")), false, "the addition did not land either");
      assert.equal(fs.existsSync(target("src/app.py")), true);
      assert.equal(read(target(".sync_rev")), `${before}\n`, "the marker still names the tree that is there");
      writeCfg({ repository: { max_delete: 10 } });
      assert.equal((await sync()).run.code, 0);
      assert.equal(fs.existsSync(target("NEW.md")), true);
    } finally {
      repo.git("reset", "-q", "--hard", before);
    }
  });

  it("hands key and known_hosts paths with spaces and % to OpenSSH as one literal file each", async () => {
    const dir = path.join(fleet.baseDir, "pins", "client dir %h");
    fs.mkdirSync(path.join(dir, "kh dir"), { recursive: true });
    const kh = path.join(dir, "kh dir", "known hosts");
    const key = path.join(dir, "id %d key");
    fs.copyFileSync(fleet.clientKeyPath, key);
    fs.chmodSync(key, 0o600);
    fs.copyFileSync(fleet.knownHostsPath, kh);
    writeCfg({ ssh: { key_path: key, known_hosts_path: kh } });
    const s = await sync("--force");
    assert.equal(s.run.code, 0, s.run.stdout + s.run.stderr);
    assert.equal(s.doc?.action, "synced");
    assert.equal((await status()).state, "in-sync");

    // A wrong pin in the configured file is refused even when a file at the first word of the path
    // (where a split path would look) holds the right one.
    const other = path.join(fleet.baseDir, "other_host_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    fs.writeFileSync(kh, `${vm01.host} ${read(`${other}.pub`).split(" ").slice(0, 2).join(" ")}\n`);
    fs.copyFileSync(fleet.knownHostsPath, path.join(fleet.baseDir, "pins", "client"));
    const refused = await sync("--force");
    assert.equal(refused.doc?.error?.kind, "host-key");
  });

  it("exclude_dot_git: false pushes a .git holding only the commit's history, scanned: old secrets and commit messages block", async () => {
    const clean = repo.head();
    repo.git("remote", "add", "origin", `https://deploy:${fakeGithubToken()}@git.example.invalid/th_timmy.git`);
    writeCfg({ repository: { exclude_dot_git: false, rsync_excludes: ["__pycache__"] } });
    try {
      const ok = await sync("--no-pull");
      assert.equal(ok.run.code, 0, ok.run.stdout + ok.run.stderr);
      assert.equal(execFileSync("git", ["-c", "safe.directory=*", "-C", target(), "rev-parse", "HEAD"], { encoding: "utf8" }).trim(), clean);
      assert.equal(execFileSync("git", ["-c", "safe.directory=*", "-C", target(), "status", "--porcelain"], { encoding: "utf8" }), "", "the pushed .git matches the tree");
      assert.doesNotMatch(read(target(".git/config")), /origin|example\.invalid|ghp_/, "no remote (and no credential) was pushed");

      // A token added, then removed: the tip is clean, the history is not.
      repo.commit({ "deploy.env": `GITHUB_TOKEN=${fakeGithubToken()}\n` }, "add token");
      repo.commit({}, "remove token", ["deploy.env"]);
      let blocked = await sync("--no-pull");
      assert.equal(blocked.run.code, 2);
      assert.match(blocked.run.stderr, /\.git@[0-9a-f]{12}:deploy\.env:1:github-pat/);
      assert.equal(execFileSync("git", ["-c", "safe.directory=*", "-C", target(), "rev-parse", "HEAD"], { encoding: "utf8" }).trim(), clean, "nothing was pushed");

      repo.git("reset", "-q", "--hard", clean);
      repo.commit({}, `rotate ${fakeGithubToken()} later`);
      blocked = await sync("--no-pull");
      assert.equal(blocked.run.code, 2);
      assert.match(blocked.run.stderr, /\.git@[0-9a-f]{12}:commit message:\d+:github-pat/);
    } finally {
      repo.git("reset", "-q", "--hard", clean);
      repo.git("remote", "remove", "origin");
    }
  });
});
