/**
 * The secret gate judges every pushed file by today's rules and by the file's own path: through the
 * real CLI, real git, real gitleaks (v8.30.1), real sshd and rsync.
 * - Rules that extend another file (`[extend] path`): editing the extended file voids every verdict
 *   found under the old rules, so a file found clean before is blocked on the next sync.
 * - gitleaks' directory walk skips whole folders whose own name matches a file pattern of its
 *   default allowlist (`assets.png/`): their text files are scanned all the same.
 * And (sharing this file's fleet) two VM entries on one sshd with nested folders are refused.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { stringify } from "yaml";
import { fleetConfig, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { fakeGithubToken, makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { runCli } from "../support/cli";

/** This file's fleet: 127.0.0.246 and .247. */
const FIRST_OCTET = 246;

describe("secret gate: extended rules and folders named like images (CLI, real gitleaks and VMs)", function () {
  this.timeout(180_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const target = (vm: string, p: string) => path.join(fleet.vm(vm).targetPath, p);
  const onVm = (vm: string, p: string) => fs.existsSync(target(vm, p));
  const marker = (vm: string) => (onVm(vm, ".sync_rev") ? fs.readFileSync(target(vm, ".sync_rev"), "utf8").trim() : undefined);
  const sync = (cfg: string, ...args: string[]) => runCli(["sync", "--config", cfg, ...args], { env });

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: FIRST_OCTET });
  });
  after(async () => {
    await fleet?.stop();
  });
  beforeEach(() => {
    repo = makeSourceRepo();
    work = fs.mkdtempSync(path.join(fleet.baseDir, "gate-"));
    // A cache of its own: the verdicts this test relies on (and voids) are nobody else's.
    env = { REPO_SYNC_CACHE: path.join(work, "cache") };
    for (const vm of fleet.vms) fs.rmSync(vm.targetPath, { recursive: true, force: true });
  });
  afterEach(() => {
    fs.rmSync(repo.path, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("editing a file the rules extend blocks a file found clean under the old rules: nothing is pushed", async () => {
    const base = path.join(work, "base.toml");
    fs.writeFileSync(base, "# the team's shared rules\n[extend]\nuseDefault = true\n");
    const rules = path.join(work, "rules.toml");
    fs.writeFileSync(rules, `[extend]\npath = ${JSON.stringify(base)}\n`);
    const cfg = writeFleetConfig(fleet, path.join(work, "config.yml"), { repoPath: repo.path, gitleaksConfig: rules });
    const a = repo.commit({ "deploy/license.txt": "customer reference ACME-INTERNAL-4711815 (see the wiki)\n" }, "license");

    const first = await sync(cfg, "vm01");
    assert.equal(first.code, 0, first.stderr);
    assert.equal(marker("vm01"), a);
    assert.equal(fs.readFileSync(target("vm01", "deploy/license.txt"), "utf8"), "customer reference ACME-INTERNAL-4711815 (see the wiki)\n");

    // The shared file learns what an ACME key looks like; rules.toml itself is unchanged.
    fs.appendFileSync(base, '\n[[rules]]\nid = "acme-internal-key"\ndescription = "ACME internal key"\nregex = \'\'\'ACME-INTERNAL-[0-9]{7}\'\'\'\nkeywords = ["acme-internal"]\n');

    // A VM that never had the commit: the file found clean an hour ago must not reach it.
    const fresh = await sync(cfg, "vm02");
    assert.notEqual(fresh.code, 0, "blocked");
    assert.match(fresh.stderr, /deploy\/license\.txt:1:acme-internal-key {2}fingerprint deploy\/license\.txt:acme-internal-key:1/);
    assert.match(fresh.stderr, /nothing was pushed to any VM/);
    assert.equal(onVm("vm02", "deploy/license.txt"), false);
    assert.equal(marker("vm02"), undefined);

    // The next commit, to the VM that has the old one, and a forced re-sync: blocked, vm01 untouched.
    repo.commit({ "README.md": "# docs only\n" }, "docs");
    for (const args of [["vm01"], ["vm01", "--force"]]) {
      const next = await sync(cfg, ...args);
      assert.notEqual(next.code, 0, `blocked: sync ${args.join(" ")}`);
      assert.match(next.stderr, /acme-internal-key/);
      assert.equal(marker("vm01"), a, "vm01 still serves the old commit");
      assert.notEqual(fs.readFileSync(target("vm01", "README.md"), "utf8"), "# docs only\n");
    }
  });

  it("a relative [extend] path (gitleaks would open it in the pushed tree) is a named config error", async () => {
    // The commit brings its own base.toml that allows every path: it must never be the rules.
    repo.commit({ "base.toml": "[[allowlists]]\npaths = ['''.*''']\n", "config/deploy.env": `GITHUB_TOKEN=${fakeGithubToken()}\n` }, "bring own rules");
    const rules = path.join(work, "rules.toml");
    fs.writeFileSync(rules, '[extend]\npath = "base.toml"\n');
    fs.writeFileSync(path.join(work, "base.toml"), "[extend]\nuseDefault = true\n");
    const cfg = writeFleetConfig(fleet, path.join(work, "config.yml"), { repoPath: repo.path, gitleaksConfig: rules });
    const run = await sync(cfg, "vm01");
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`gitleaks rules file ${rules}: \\[extend\\] path = "base.toml" is relative`));
    assert.match(run.stderr, new RegExp(`fix: write the absolute path: path = "${path.join(work, "base.toml")}"`));
    assert.equal(onVm("vm01", "config/deploy.env"), false);
    assert.equal(marker("vm01"), undefined);
  });

  it("text files in folders named like images or lock files are scanned, on a full and on a small-commit scan", async () => {
    const cfg = writeFleetConfig(fleet, path.join(work, "config.yml"), { repoPath: repo.path });
    const token = () => `GITHUB_TOKEN=${fakeGithubToken()}\n`;
    const clean = repo.head();
    const planted: Record<string, string> = {
      "assets.png/prod.env": token(),
      "x.jpg/y/settings.env": token(),
      "a.PNG/b.jpeg/c.env": token(),
      "fonts.woff2/k.env": token(),
      "go.mod/creds.env": token(),
      "poetry.lock/db.env": token(),
      "-dash.gif/d.env": token(),
      "node_modules.bak/n.env": token(),
    };
    const want = Object.keys(planted).map((p) => `${p}:1:github-pat`).sort();
    const found = (stderr: string) => [...stderr.matchAll(/^ {4}(\S+:\d+:\S+) {2}fingerprint/gm)].map((m) => m[1]).sort();

    // A small commit on a tree found clean (the few new files are scanned apart), then a full scan.
    assert.equal((await sync(cfg, "vm01")).code, 0);
    const evil = repo.commit(planted, "assets");
    const small = await sync(cfg, "vm01");
    assert.notEqual(small.code, 0, "blocked");
    assert.deepEqual(found(small.stderr), want);
    const full = await sync(cfg, "vm02", "--full-scan");
    assert.notEqual(full.code, 0, "blocked");
    assert.deepEqual(found(full.stderr), want);
    for (const vm of ["vm01", "vm02"]) assert.equal(onVm(vm, "assets.png/prod.env"), false, `nothing pushed to ${vm}`);
    assert.equal(marker("vm01"), clean);
    assert.equal(marker("vm02"), undefined);

    // The printed fingerprints are the ones .gitleaksignore takes: accepting them lets the commit through.
    const fingerprints = [...small.stderr.matchAll(/ fingerprint (\S+)$/gm)].map((m) => m[1]);
    const accepted = repo.commit({ ".gitleaksignore": fingerprints.join("\n") + "\n" }, "accept test fixtures");
    const ok = await sync(cfg, "vm01");
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(marker("vm01"), accepted);
    assert.equal(fs.readFileSync(target("vm01", "assets.png/prod.env"), "utf8"), planted["assets.png/prod.env"]);
    assert.notEqual(evil, accepted);
  });

  it("a second VM entry on the same sshd with a folder inside the first's is refused at load (exit 2): nothing pushed to either", async () => {
    const cfg = writeFleetConfig(fleet, path.join(work, "config.yml"), { repoPath: repo.path });
    const first = await sync(cfg, "vm01");
    assert.equal(first.code, 0, first.stderr);
    const served = marker("vm01");
    // Added later: a staging copy on the same VM, inside the production folder.
    const vm01 = fleet.vm("vm01");
    const doc = fleetConfig(fleet, { repoPath: repo.path }) as { vms: Record<string, unknown>; repository: { vm_repo_paths: Record<string, string> } };
    doc.vms.staging = { host: vm01.host, ssh_port: vm01.port, ssh_user: vm01.user };
    doc.repository.vm_repo_paths.staging = `${vm01.targetPath}/staging`;
    const both = path.join(work, "both.yml");
    fs.writeFileSync(both, stringify(doc));
    repo.commit({ "README.md": "# next\n" }, "next");
    for (const args of [["staging"], ["vm01"], []]) {
      const run = await sync(both, ...args);
      assert.equal(run.code, 2, `sync ${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`repository\\.vm_repo_paths\\.staging: staging \\(${vm01.targetPath}/staging\\) and vm01 \\(${vm01.targetPath}\\) are on one machine \\(both at \\[${vm01.host.replace(/\./g, "\\.")}\\]:${vm01.port}\\)`));
    }
    assert.equal(onVm("vm01", "staging"), false, "no staging tree inside vm01's");
    assert.equal(marker("vm01"), served, "vm01 untouched");
    assert.equal(marker("vm02"), undefined);
  });
});
