/**
 * Settings that would let one run destroy or trust what it must not, refused before any VM is
 * touched: push targets nested on one machine, and a cache folder another user could write or aim.
 * Through the real CLI (and the library's scanRepository) with real gitleaks; no VM is needed, since
 * nothing may connect to one.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { scanRepository } from "../../lib/scan/scanRepository";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { runCli } from "../support/cli";

describe("refused before any VM is touched: nested targets on one host, a cache others control", function () {
  this.timeout(60_000);
  let tmp: string;
  let repo: SourceRepo;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rs-refusals-"));
    repo = makeSourceRepo();
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("two VM entries on one host with nested target paths: sync and status exit 2 naming both; the folders stay as they were", async () => {
    // Stand-ins for the VM's folders (one machine: here the local one): the outer app and its staging copy.
    const app = path.join(tmp, "srv", "app");
    fs.mkdirSync(path.join(app, "staging"), { recursive: true });
    fs.writeFileSync(path.join(app, "staging", "uploads.db"), "VM-local data\n");
    const key = path.join(tmp, "id_ed25519");
    fs.writeFileSync(key, "unused\n", { mode: 0o600 });
    const cfg = path.join(tmp, "config.yml");
    fs.writeFileSync(cfg, stringify({
      ssh: { key_path: key, known_hosts_path: path.join(tmp, "known_hosts") },
      vms: {
        prod: { host: "127.0.0.246", ssh_user: "deploy", ssh_port: 2222 },
        staging: { host: "127.0.0.246", ssh_user: "deploy", ssh_port: 2222 },
        source: { host: "127.0.0.1", ssh_user: "deploy" },
      },
      repository: { source_vm: "source", main_repo_path: repo.path, vm_repo_paths: { prod: app, staging: `${app}/staging` } },
    }));
    for (const command of ["sync", "status"]) {
      const run = await runCli([command, "--config", cfg], { env: { REPO_SYNC_CACHE: path.join(tmp, "cache") } });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, new RegExp(`repository\\.vm_repo_paths\\.staging: staging \\(${app}/staging\\) and prod \\(${app}\\) are on one machine \\(both at \\[127\\.0\\.0\\.246\\]:2222\\) and ${app} holds ${app}/staging: a sync of either would delete the other's files`));
    }
    assert.equal(fs.readFileSync(path.join(app, "staging", "uploads.db"), "utf8"), "VM-local data\n");
  });

  it("a cache path that is a file, under /proc, or relative: exit 2 with a named error, no stack trace, no spinning", async () => {
    const file = path.join(tmp, "not-a-folder");
    fs.writeFileSync(file, "x");
    const cases: [string, RegExp][] = [
      [file, new RegExp(`cache folder ${file} exists and is not a folder`)],
      ["/proc/repo-sync-cache", /cache folder \/proc\/repo-sync-cache cannot be created/],
      ["/proc", /cache folder \/proc cannot be written/],
      ["cache", /REPO_SYNC_CACHE="cache" is relative/],
    ];
    for (const [cache, message] of cases) {
      const started = Date.now();
      const run = await runCli(["scan", repo.path], { env: { REPO_SYNC_CACHE: cache }, timeoutMs: 20_000 });
      assert.equal(run.code, 2, `${cache}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /fix: set REPO_SYNC_CACHE to an absolute path of a folder only you can write/);
      assert.doesNotMatch(run.stderr, /internal error|\n\s+at /, "no stack trace");
      assert.ok(Date.now() - started < 15_000, `${cache}: answered at once`);
    }
    assert.equal(fs.readFileSync(file, "utf8"), "x");
  });

  it("the library's scanRepository() without a cache folder never uses $TMPDIR/repo-sync-cache: a link planted there redirects nothing", async () => {
    const victim = path.join(tmp, "victim");
    fs.mkdirSync(victim);
    const sharedTmp = path.join(tmp, "shared-tmp");
    fs.mkdirSync(sharedTmp, { mode: 0o1777 });
    fs.chmodSync(sharedTmp, 0o1777);
    fs.symlinkSync(victim, path.join(sharedTmp, "repo-sync-cache"));
    const own = path.join(tmp, "own-cache");
    const saved = { TMPDIR: process.env.TMPDIR, REPO_SYNC_CACHE: process.env.REPO_SYNC_CACHE };
    process.env.TMPDIR = sharedTmp;
    process.env.REPO_SYNC_CACHE = own;
    try {
      const result = await scanRepository(repo.path);
      assert.equal(result.hasSecrets, false);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    assert.deepEqual(fs.readdirSync(victim), [], "nothing written through the planted link");
    assert.ok(fs.existsSync(path.join(own, "gitleaks-default-rules.toml")), "the rules file is in the user's own cache");
    assert.equal(fs.statSync(own).mode & 0o777, 0o700);
  });
});
