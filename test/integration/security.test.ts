import * as assert from "node:assert/strict";
import type { SyncDoc } from "../../cli/format";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { FleetConfigOptions, writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, plantSecret, SourceRepo } from "../../tools/fleet/sourceRepo";
import { json, runCli } from "../support/cli";


describe("security: host keys, the --delete guard, the secret gate", function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  const writeCfg = (opts: Partial<FleetConfigOptions> = {}) => writeFleetConfig(fleet, cfg, { repoPath: repo.path, ...opts });
  const target = (vm: string, p = "") => path.join(fleet.vm(vm).targetPath, p);

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: 91 });
    repo = makeSourceRepo();
    cfg = path.join(fleet.baseDir, "config.yml");
    writeCfg();
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("a changed host key is refused (ssh2 and OpenSSH alike) with a way to fix known_hosts", async () => {
    await fleet.replaceHostKey("vm02");
    try {
      const sync = await runCli(["sync", "--config", cfg, "--json"]);
      assert.equal(sync.code, 1);
      const vm02 = json<SyncDoc>(sync).results.find((r) => r.vm === "vm02");
      assert.equal(vm02?.error?.kind, "host-key");
      assert.match(vm02?.error?.message ?? "", /does not match the one pinned in .*known_hosts \(possible man in the middle/);
      assert.match(vm02?.error?.message ?? "", /ssh-keygen -R 127\.0\.0\.92 -f /);
      assert.equal(fs.existsSync(target("vm02")), false, "nothing written to an unverified host");
      assert.equal(fs.readFileSync(target("vm01", ".sync_rev"), "utf8"), `${repo.head()}\n`);
      const status = await runCli(["status", "vm02", "--config", cfg]);
      assert.equal(status.code, 2);
      assert.match(status.stdout, /vm02 .* error: the host key of reposync@127\.0\.0\.92:22 does not match/);
    } finally {
      fleet.writeKnownHosts();
    }
  });

  it("trust on first use only when opted in, and the pinned key is then enforced", async () => {
    const kh = path.join(fleet.baseDir, "tofu_known_hosts");
    fs.writeFileSync(kh, "");
    writeCfg({ ssh: { known_hosts_path: kh } });
    const refused = await runCli(["sync", "--config", cfg]);
    assert.equal(refused.code, 2, "unknown hosts are refused by default");
    assert.match(refused.stderr, /vms\.vm01\.host: 127\.0\.0\.91:22 has no key in/);
    writeCfg({ ssh: { known_hosts_path: kh, accept_new_host_keys: true } });
    try {
      const ok = await runCli(["sync", "--config", cfg]);
      assert.equal(ok.code, 0, ok.stderr);
      const pinned = fs.readFileSync(kh, "utf8").trim().split("\n");
      assert.equal(pinned.length, 2);
      assert.ok(pinned.some((l) => l.startsWith(`127.0.0.91 ${fleet.vm("vm01").hostPublicKey}`)), pinned.join("\n"));
      await fleet.replaceHostKey("vm01", true);
      const changed = await runCli(["sync", "vm01", "--config", cfg, "--json"]);
      assert.equal(json<SyncDoc>(changed).results[0].error?.kind, "host-key");
    } finally {
      writeCfg();
    }
  });

  it("refuses rsync --delete into a non-empty directory repo-sync did not create; adopt_existing allows it", async () => {
    const foreign = path.join(fleet.vm("vm01").root, "home", "data");
    fs.mkdirSync(foreign, { recursive: true });
    fs.writeFileSync(path.join(foreign, "precious.db"), "irreplaceable\n");
    execFileSync("chown", ["-R", `${fleet.vm("vm01").user}:`, path.dirname(foreign)]);
    writeCfg({ repository: { vm_repo_paths: { vm01: foreign, vm02: fleet.vm("vm02").targetPath } } });
    try {
      const run = await runCli(["sync", "vm01", "--config", cfg, "--json"]);
      assert.equal(run.code, 1);
      const r = json<SyncDoc>(run).results[0];
      assert.equal(r.error?.kind, "unsafe-target");
      assert.match(r.error?.message ?? "", /holds files that repo-sync did not put there; refusing to run rsync --delete into it/);
      assert.equal(fs.readFileSync(path.join(foreign, "precious.db"), "utf8"), "irreplaceable\n");
      assert.equal(fs.existsSync(path.join(foreign, ".sync_rev")), false);

      writeCfg({ repository: { vm_repo_paths: { vm01: foreign, vm02: fleet.vm("vm02").targetPath }, adopt_existing: true } });
      const adopted = await runCli(["sync", "vm01", "--config", cfg]);
      assert.equal(adopted.code, 0, adopted.stderr);
      assert.equal(fs.existsSync(path.join(foreign, "precious.db")), false, "adopted: the tree now mirrors the commit");
      assert.equal(fs.readFileSync(path.join(foreign, ".sync_rev"), "utf8"), `${repo.head()}\n`);
    } finally {
      writeCfg();
    }
  });

  it("max_delete stops a run that would delete too much, and no marker claims the tree", async () => {
    const before = repo.head();
    assert.equal((await runCli(["sync", "vm02", "--config", cfg])).code, 0);
    repo.commit({}, "drop files", ["src", "scripts"]);
    writeCfg({ repository: { max_delete: 1 } });
    try {
      const run = await runCli(["sync", "vm02", "--config", cfg, "--json"]);
      assert.equal(run.code, 1);
      const r = json<SyncDoc>(run).results[0];
      assert.equal(r.error?.kind, "unsafe-target");
      assert.match(r.error?.message ?? "", /would delete \d+ paths .*more than repository\.max_delete \(1\); nothing was changed/);
      assert.equal(fs.readFileSync(target("vm02", ".sync_rev"), "utf8"), `${before}\n`, "refused before any byte moved: the marker still names the tree that is there");
      assert.equal(fs.existsSync(target("vm02", "src/app.py")), true);
    } finally {
      writeCfg();
      repo.git("reset", "-q", "--hard", before);
    }
    assert.equal((await runCli(["sync", "vm02", "--config", cfg])).code, 0);
  });

  it("the pushed tree cannot replace the gitleaks rules", async () => {
    const clean = repo.head();
    // A tree that ships its own rules allowlisting everything, plus a secret.
    repo.commit({ ".gitleaks.toml": "[allowlist]\ndescription = \"allow all\"\npaths = ['''.*''']\n" }, "own rules");
    plantSecret(repo);
    try {
      const run = await runCli(["sync", "--config", cfg]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /found 2 secrets/);
      assert.equal(fs.existsSync(target("vm01", ".gitleaks.toml")), false);
    } finally {
      repo.git("reset", "-q", "--hard", clean);
    }
  });

  it("a target path with spaces is handled safely", async () => {
    const spaced = path.join(fleet.vm("vm02").root, "srv", "my app dir");
    writeCfg({ repository: { vm_repo_paths: { vm01: fleet.vm("vm01").targetPath, vm02: spaced } } });
    try {
      const run = await runCli(["sync", "vm02", "--config", cfg]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(fs.readFileSync(path.join(spaced, ".sync_rev"), "utf8"), `${repo.head()}\n`);
      assert.equal(fs.existsSync(path.join(spaced, "src", "app.py")), true);
    } finally {
      writeCfg();
    }
  });

  it("a refused key never shows the key material", async () => {
    // A different, valid key that the VMs do not authorize.
    const other = path.join(fleet.baseDir, "other_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    writeCfg({ ssh: { key_path: other } });
    try {
      const run = await runCli(["sync", "vm01", "--config", cfg, "--json"]);
      const r = json<SyncDoc>(run).results[0];
      assert.equal(r.error?.kind, "auth");
      assert.match(r.error?.message ?? "", /refused the SSH key .*other_key/);
      const body = fs.readFileSync(other, "utf8").split("\n")[1];
      assert.equal((run.stdout + run.stderr).includes(body), false);
      assert.doesNotMatch(run.stdout + run.stderr, /PRIVATE KEY/);
    } finally {
      writeCfg();
    }
  });
});
