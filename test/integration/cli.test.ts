import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import type { SyncDoc, StatusDoc } from "../../cli/format";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { FleetConfigOptions, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeNonRepoDir, makeSourceRepo, plantSecret, SourceRepo } from "../../tools/fleet/sourceRepo";
import { PROJECT_ROOT, runCollect } from "../../tools/pulumiCli";
import { CliRun, json, runCli } from "../support/cli";


const rel = (fleet: Fleet, vm: string, p: string) => path.join(fleet.vm(vm).targetPath, p);
const read = (fleet: Fleet, vm: string, p: string) => fs.readFileSync(rel(fleet, vm, p), "utf8");
const exists = (fleet: Fleet, vm: string, p: string) => fs.existsSync(rel(fleet, vm, p));
/**
 * A run that keeps no connection for the next command (REPO_SYNC_SSH_PERSIST_S=0), so that the
 * connections counted are this run's own; kept connections are tested in keptConnection.test.ts.
 */
const ONE_RUN = { REPO_SYNC_SSH_PERSIST_S: "0" };
/** SSH connections each VM accepted while `fn` ran. */
async function connectionsDuring(fleet: Fleet, fn: () => Promise<void>): Promise<number[]> {
  const before = fleet.vms.map((v) => fleet.connectionCount(v.id));
  await fn();
  return fleet.vms.map((v, i) => fleet.connectionCount(v.id) - before[i]);
}

describe("repo-sync CLI against the fleet (sync engine)", function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  const writeCfg = (opts: Partial<FleetConfigOptions> = {}) => writeFleetConfig(fleet, cfg, { repoPath: repo.path, ...opts });

  before(async () => {
    // INFO: sshd logs each accepted connection, so the tests can count them.
    fleet = await startFleet({ count: 3, firstOctet: 31, logLevel: "INFO" });
    repo = makeSourceRepo();
    // Untracked and ignored files in the checkout must never arrive.
    fs.writeFileSync(path.join(repo.path, ".env"), "LOCAL_ONLY=1\n");
    fs.mkdirSync(path.join(repo.path, "build"));
    fs.writeFileSync(path.join(repo.path, "build", "out.o"), "untracked build output\n");
    cfg = path.join(fleet.baseDir, "config.yml");
    writeCfg();
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("first sync of 3 VMs: exactly the commit's tree and .sync_rev on each", async () => {
    const run = await runCli(["sync", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const doc = json<SyncDoc>(run);
    assert.equal(doc.ok, true);
    assert.deepEqual(doc.results.map((r) => [r.vm, r.action]), [["vm01", "synced"], ["vm02", "synced"], ["vm03", "synced"]]);
    for (const vm of ["vm01", "vm02", "vm03"]) {
      assert.equal(read(fleet, vm, ".sync_rev"), `${repo.head()}\n`);
      assert.equal(read(fleet, vm, "src/lib/util.py"), "def add(a, b):\n    return a + b\n");
      assert.deepEqual(fs.readFileSync(rel(fleet, vm, "data/blob.bin")), fs.readFileSync(path.join(repo.path, "data/blob.bin")));
      assert.equal(fs.statSync(rel(fleet, vm, "scripts/run.sh")).mode & 0o777, fs.statSync(path.join(repo.path, "scripts/run.sh")).mode & 0o777);
      assert.equal(exists(fleet, vm, ".env"), false, "untracked .env must not arrive");
      assert.equal(exists(fleet, vm, "build/out.o"), false, "untracked build output must not arrive");
      assert.equal(exists(fleet, vm, ".git"), false);
    }
  });

  it("a no-op re-sync rewrites nothing, over one SSH connection per VM", async () => {
    const before = fs.statSync(rel(fleet, "vm01", ".sync_rev")).mtimeMs;
    let run: CliRun = { code: -1, stdout: "", stderr: "" };
    const connections = await connectionsDuring(fleet, async () => void (run = await runCli(["sync", "--config", cfg, "--json"], { env: ONE_RUN })));
    assert.equal(run.code, 0, run.stderr);
    const doc = json<SyncDoc>(run);
    assert.deepEqual(doc.results.map((r) => [r.action, r.files_transferred]), [["unchanged", 0], ["unchanged", 0], ["unchanged", 0]]);
    assert.equal(fs.statSync(rel(fleet, "vm01", ".sync_rev")).mtimeMs, before);
    assert.deepEqual(connections, [1, 1, 1], "the lock, the marker and rsync share one connection");
  });

  it("after a new commit only the changed files move (one SSH connection per VM)", async () => {
    const next = repo.commit({ "src/app.py": "print('v2')\n", "docs/new.md": "# new\n" }, "v2", ["scripts/run.sh"]);
    let run: CliRun = { code: -1, stdout: "", stderr: "" };
    assert.deepEqual(await connectionsDuring(fleet, async () => void (run = await runCli(["sync", "--config", cfg, "--json"], { env: ONE_RUN }))), [1, 1, 1]);
    assert.equal(run.code, 0, run.stderr);
    for (const r of json<SyncDoc>(run).results) {
      assert.equal(r.action, "synced");
      assert.equal(r.files_transferred, 2, `${r.vm}: only app.py and new.md: ${JSON.stringify(r)}`);
      assert.equal(r.revision, next);
    }
    assert.equal(read(fleet, "vm02", "src/app.py"), "print('v2')\n");
    assert.equal(exists(fleet, "vm02", "scripts/run.sh"), false, "deleted in the commit -> deleted on the target");
  });

  it("status finds tree drift under a matching .sync_rev; verify exits 1; sync repairs it", async () => {
    fs.writeFileSync(rel(fleet, "vm02", "src/app.py"), "hand edit\n");
    fs.writeFileSync(rel(fleet, "vm02", "extra.txt"), "added on the VM\n");
    fs.rmSync(rel(fleet, "vm02", "README.md"));
    let status: CliRun = { code: -1, stdout: "", stderr: "" };
    // The tree check (an rsync dry run) joins the probe's connection.
    assert.deepEqual(await connectionsDuring(fleet, async () => void (status = await runCli(["status", "--config", cfg, "--json"], { env: ONE_RUN }))), [1, 1, 1]);
    assert.equal(status.code, 0, status.stderr);
    const vm02 = json<StatusDoc>(status).statuses.find((s) => s.vm === "vm02");
    assert.equal(vm02?.state, "drift");
    assert.equal(vm02?.actual, repo.head());
    assert.deepEqual(vm02?.drift, { modified: ["src/app.py"], added: ["extra.txt"], deleted: ["README.md"] });
    const human = await runCli(["status", "--config", cfg]);
    assert.match(human.stdout, /vm02 .* drift: tree drift: 1 modified, 1 added, 1 deleted/);
    assert.match(human.stdout, /vm01 .* in-sync/);

    assert.equal((await runCli(["verify", "--config", cfg])).code, 1);
    const run = await runCli(["sync", "vm02", "--config", cfg, "--json"]);
    assert.equal(json<SyncDoc>(run).results[0].action, "repaired");
    assert.equal(read(fleet, "vm02", "src/app.py"), "print('v2')\n");
    assert.equal(exists(fleet, "vm02", "extra.txt"), false);
    assert.equal((await runCli(["verify", "--config", cfg])).code, 0);
  });

  it("verify exits 2 when a VM cannot be reached, naming it", async () => {
    await fleet.killVm("vm03");
    try {
      const run = await runCli(["verify", "--config", cfg, "--json"]);
      assert.equal(run.code, 2);
      const vm03 = json<StatusDoc>(run).statuses.find((s) => s.vm === "vm03");
      assert.equal(vm03?.error?.kind, "unreachable");
    } finally {
      await fleet.startVm("vm03");
    }
  });

  it("one VM failing does not stop the others; the exit code says so", async () => {
    const next = repo.commit({ "src/app.py": "print('v3')\n" }, "v3");
    await fleet.killVm("vm01");
    try {
      const run = await runCli(["sync", "--config", cfg]);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /vm01 {2}FAILED {2}vm01: .*connection to reposync@127\.0\.0\.31:22 refused/);
      assert.match(run.stdout, /1 of 3 VM\(s\) failed: vm01/);
      assert.equal(read(fleet, "vm02", ".sync_rev"), `${next}\n`);
      assert.equal(read(fleet, "vm03", ".sync_rev"), `${next}\n`);
    } finally {
      await fleet.startVm("vm01");
    }
    assert.equal((await runCli(["sync", "--config", cfg])).code, 0);
    assert.equal(read(fleet, "vm01", ".sync_rev"), `${next}\n`);
  });

  it("bwlimit_kbps holds that VM's transfer to the limit; the others go at full speed", async function () {
    this.timeout(120_000);
    writeCfg({ vms: { vm01: { bwlimit_kbps: 256 } } });
    try {
      // 1 MiB that rsync cannot shorten (no delta base on the target, no compression).
      const lines = Array.from({ length: 16_384 }, () => crypto.randomBytes(32).toString("hex")).join("\n");
      repo.commit({ "data/blob.txt": `${lines}\n` }, "a 1 MiB file");
      const run = await runCli(["sync", "--config", cfg, "--json"]);
      const results = json<SyncDoc>(run).results;
      const ms = (vm: string) => results.find((r) => r.vm === vm)?.duration_ms ?? NaN;
      const bytes = results.find((r) => r.vm === "vm01")?.bytes_transferred ?? 0;
      assert.ok(bytes > 1_000_000, `vm01 was sent the file (${bytes} bytes)`);
      // 1 MiB at 256 KiB/s is 4 s; rsync lets the first buffer through, so allow a quarter less.
      assert.ok(ms("vm01") >= 3_000, `vm01 took ${ms("vm01")} ms at 256 KiB/s`);
      assert.ok(ms("vm02") < ms("vm01") / 2, `vm02 (no limit) took ${ms("vm02")} ms, vm01 ${ms("vm01")} ms`);
      assert.equal(read(fleet, "vm01", "data/blob.txt"), `${lines}\n`);
    } finally {
      writeCfg();
    }
  });

  it("on a terminal, sync shows live progress per VM; through a pipe and with --json it shows none", async function () {
    this.timeout(120_000);
    writeCfg({ vms: { vm01: { bwlimit_kbps: 256 } } });
    try {
      const mib = () => Array.from({ length: 16_384 }, () => crypto.randomBytes(32).toString("hex")).join("\n");
      repo.commit({ "data/tty.txt": `${mib()}\n` }, "1 MiB for the terminal");
      // `script` gives the CLI a pseudo-terminal, as a person's shell would.
      const tty = await runCollect("script", ["-qefc", `${path.join(PROJECT_ROOT, "bin", "repo-sync")} sync --config ${cfg} vm01`, "/dev/null"], { env: process.env, timeoutMs: 60_000 });
      assert.equal(tty.code, 0, tty.stdout);
      assert.match(tty.stdout, /\r\x1b\[Kvm01 \d+% \S+\/s ETA \d+:\d\d:\d\d/);
      repo.commit({ "data/pipe.txt": `${mib()}\n` }, "1 MiB for the pipe");
      const piped = await runCli(["sync", "--config", cfg, "vm01"]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.doesNotMatch(piped.stderr + piped.stdout, /ETA|\x1b\[K/);
      repo.commit({ "data/json.txt": `${mib()}\n` }, "1 MiB for --json");
      const asJson = await runCli(["sync", "--config", cfg, "--json", "vm01"]);
      assert.doesNotMatch(asJson.stderr + asJson.stdout, /ETA|\x1b\[K/);
      assert.equal(json<SyncDoc>(asJson).results[0].action, "synced");
    } finally {
      writeCfg();
    }
  });

  it("a disabled VM is skipped", async () => {
    writeCfg({ vms: { vm03: { enabled: false } } });
    try {
      const next = repo.commit({ "src/app.py": "print('v4')\n" }, "v4");
      const run = await runCli(["sync", "--config", cfg, "--json"]);
      assert.deepEqual(json<SyncDoc>(run).results.map((r) => r.vm), ["vm01", "vm02"]);
      assert.equal(read(fleet, "vm01", ".sync_rev"), `${next}\n`);
      assert.notEqual(read(fleet, "vm03", ".sync_rev"), `${next}\n`);
    } finally {
      writeCfg();
    }
  });

  it("a branch argument selects another branch", async () => {
    repo.branch("feature", true);
    const feat = repo.commit({ "FEATURE.md": "feature branch\n" }, "feature work");
    repo.checkout("main");
    const run = await runCli(["sync", "vm01", "--branch", "feature", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(read(fleet, "vm01", ".sync_rev"), `${feat}\n`);
    assert.equal(read(fleet, "vm01", "FEATURE.md"), "feature branch\n");
    assert.equal((await runCli(["sync", "vm01", "--config", cfg])).code, 0);
    assert.equal(exists(fleet, "vm01", "FEATURE.md"), false);
  });

  it("a failing pull warns and goes on with the local state; a working pull is deployed", async () => {
    repo.git("remote", "add", "origin", "/nonexistent/upstream.git");
    try {
      const run = await runCli(["sync", "vm01", "--config", cfg]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /pull of main from origin failed .*: using the local state/);
    } finally {
      repo.git("remote", "remove", "origin");
    }
    // A real upstream with one commit more than the checkout: the pull fast-forwards main.
    const upstream = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-upstream-"));
    execFileSync("git", ["clone", "-q", "--bare", repo.path, upstream]);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-clone-"));
    execFileSync("git", ["clone", "-q", upstream, work]);
    execFileSync("git", ["-C", work, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "upstream only"]);
    execFileSync("git", ["-C", work, "push", "-q", "origin", "main"]);
    const upstreamHead = execFileSync("git", ["-C", work, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    repo.git("remote", "add", "origin", upstream);
    try {
      const run = await runCli(["sync", "vm01", "--config", cfg]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(repo.head(), upstreamHead);
      assert.equal(read(fleet, "vm01", ".sync_rev"), `${upstreamHead}\n`);
    } finally {
      repo.git("remote", "remove", "origin");
      fs.rmSync(upstream, { recursive: true, force: true });
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it("a planted secret stops the sync before any byte moves, with a redacted alert", async () => {
    const before = read(fleet, "vm02", ".sync_rev");
    const clean = repo.head();
    const file = plantSecret(repo);
    try {
      const run = await runCli(["sync", "--config", cfg]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /secret scan \(gitleaks\) found 2 secrets in commit [0-9a-f]{12}; nothing was pushed to any VM/);
      assert.match(run.stderr, /config\/deploy\.env:2:github-pat/);
      assert.match(run.stderr, /config\/deploy\.env:3:aws-access-token/);
      const alert = run.stderr.split("\n").find((l) => l.startsWith("{") && l.includes('"secrets_found"'));
      assert.ok(alert, "a structured alert line on stderr");
      assert.equal(JSON.parse(alert).count, 2);
      assert.doesNotMatch(run.stdout + run.stderr, /x9Kq2LmP7vRt4WzN|AKIAZ7QW3RTY/, "no secret in any output");
      for (const vm of ["vm01", "vm02", "vm03"]) assert.equal(exists(fleet, vm, file), false, vm);
      assert.equal(read(fleet, "vm02", ".sync_rev"), before);
    } finally {
      repo.git("reset", "-q", "--hard", clean);
    }
  });

  it("a source that is not a git repo fails with the original message", async () => {
    const dir = makeNonRepoDir();
    writeCfg({ repoPath: dir });
    try {
      const run = await runCli(["sync", "--config", cfg]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, new RegExp(`could not get commit hash \\(not a git repo or invalid state\\): ${dir}`));
    } finally {
      writeCfg();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("scan: exit 0 clean, 1 with secrets (redacted), 2 on error", async () => {
    const clean = await runCli(["scan", repo.path, "--json"]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(json<{ has_secrets: boolean }>(clean).has_secrets, false);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-scan-"));
    const leaky = makeSourceRepo(undefined, dir);
    plantSecret(leaky);
    const found = await runCli(["scan", dir, "--json"]);
    assert.equal(found.code, 1);
    const doc = json<{ has_secrets: boolean; redacted: boolean; findings: Array<{ file: string; line: number; rule: string }> }>(found);
    assert.equal(doc.has_secrets, true);
    assert.equal(doc.redacted, true);
    assert.deepEqual(doc.findings.map((f) => `${f.file}:${f.line}:${f.rule}`).sort(), ["config/deploy.env:2:github-pat", "config/deploy.env:3:aws-access-token"]);
    assert.doesNotMatch(found.stdout + found.stderr, /x9Kq2LmP7vRt4WzN|AKIAZ7QW3RTY/);
    const broken = await runCli(["scan", dir, "--gitleaks-config", "/nonexistent/rules.toml"]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /gitleaks rules file \/nonexistent\/rules\.toml cannot be read/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("scan without a folder is the gate over what sync would push: incremental, --full rescans everything", async () => {
    type ScanDoc = { has_secrets: boolean; scanned_files: number; total_files: number; full: boolean };
    const full = await runCli(["scan", "--full", "--config", cfg, "--json"]);
    assert.equal(full.code, 0, full.stderr);
    const fullDoc = json<ScanDoc>(full);
    assert.equal(fullDoc.full, true);
    assert.ok(fullDoc.total_files >= 6 && fullDoc.scanned_files === fullDoc.total_files, full.stdout);
    assert.equal(json<ScanDoc>(await runCli(["scan", "--config", cfg, "--json"])).scanned_files, 0, "nothing new since the full scan");
    const before = repo.head();
    try {
      repo.commit({ "notes/new.txt": "one new file\n" }, "one new file");
      const inc = json<ScanDoc>(await runCli(["scan", "--config", cfg, "--json"]));
      assert.deepEqual([inc.scanned_files, inc.full, inc.has_secrets], [1, false, false]);
      const text = await runCli(["scan", "--config", cfg]);
      assert.match(text.stdout, /no secrets found .*0 of \d+ files scanned, the others found clean before/);
      const synced = await runCli(["sync", "vm01", "--full-scan", "--config", cfg]);
      assert.equal(synced.code, 0, synced.stderr);
    } finally {
      repo.git("reset", "-q", "--hard", before);
    }
  });
});
