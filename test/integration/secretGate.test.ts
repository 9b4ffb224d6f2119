/**
 * The secret gate end to end on the source side: a real git repo, the real export, the real gitleaks
 * (on PATH, as in ./run.sh test), through prepareSource/prepareCommit. No VM is involved: the gate
 * runs before any target is touched.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { formatScan, scanJson } from "../../cli/format";
import type { RepositorySettings } from "../../lib/config/types";
import { validateConfig } from "../../lib/config/validate";
import { isRepoSyncError } from "../../lib/errors";
import type { Alert, Logger } from "../../lib/log";
import { gitleaksVersion, scanRepository } from "../../lib/scan/scanRepository";
import { prepareCommit, prepareSource, PreparedSource, SecretsFoundError } from "../../lib/sync/prepareSource";
import { normalizeInputs, toSourceSettings } from "../../providers/inputs";
import { fakeGithubToken, makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";

/** The repository settings the YAML gives, through the real validator. */
function settingsFor(repoPath: string, secretScanning: Record<string, unknown> = {}): RepositorySettings {
  const doc = {
    ssh: { key_path: "/nonexistent/id_ed25519", known_hosts_path: "/nonexistent/known_hosts" },
    vms: { vm01: { host: "127.0.0.1", ssh_user: "reposync" }, vm04: { host: "127.0.0.4", ssh_user: "reposync" } },
    repository: {
      main_repo_path: repoPath,
      vm_repo_paths: { vm01: "/srv/gate-test/app" },
      secret_scanning: { enabled: true, tool: "gitleaks", block_on_secrets: true, ...secretScanning },
    },
  };
  const r = validateConfig(doc, { baseDir: repoPath, homeDir: os.homedir(), file: "gate-test.yml" });
  if (!r.config) throw new Error(`test config rejected: ${JSON.stringify(r.problems)}`);
  return r.config.repository;
}

/** Runs the gate and returns the SecretsFoundError it must throw. */
async function blocked(run: Promise<PreparedSource>): Promise<SecretsFoundError> {
  try {
    await run;
  } catch (err) {
    if (err instanceof SecretsFoundError) return err;
    throw err;
  }
  assert.fail("the gate let a secret through");
}

/** The fingerprints a person reads in the error message: the text after `fingerprint `. */
function printedFingerprints(message: string): string[] {
  return [...message.matchAll(/ fingerprint (\S+)$/gm)].map((m) => m[1]);
}

describe("secret gate: fingerprints, .gitleaksignore, gitleaks:allow (real git + gitleaks)", function () {
  this.timeout(120_000);
  const cleanup: string[] = [];
  let cache: string;
  let alerts: Alert[];
  let logger: Logger;
  const token = fakeGithubToken();
  const newRepo = (): SourceRepo => {
    const repo = makeSourceRepo();
    cleanup.push(repo.path);
    return repo;
  };
  const prepare = (repo: SourceRepo, settings = settingsFor(repo.path)) => prepareSource(settings, { pull: false, logger, cacheDir: cache });

  before(async () => {
    assert.equal(await gitleaksVersion(), "v8.30.1", "these fingerprints were checked against gitleaks v8.30.1");
  });
  beforeEach(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-gate-cache-"));
    cleanup.push(cache);
    alerts = [];
    logger = { info: () => undefined, warn: () => undefined, alert: (a) => alerts.push(a) };
  });
  after(() => {
    for (const p of cleanup) fs.rmSync(p, { recursive: true, force: true });
  });

  it("(a) a secret blocks the sync and the error lists its fingerprint, relative to the repo", async () => {
    const repo = newRepo();
    const commit = repo.commit({ "config/deploy.env": `# deploy settings\nGITHUB_TOKEN=${token}\n` }, "add deploy settings");
    const err = await blocked(prepare(repo));
    assert.equal(err.kind, "secrets");
    assert.equal(err.commit, commit);
    assert.deepEqual(err.findings, [{ file: "config/deploy.env", line: 2, rule: "github-pat", fingerprint: "config/deploy.env:github-pat:2" }]);
    assert.equal(
      err.reason,
      `secret scan (gitleaks) found 1 secret in commit ${commit.slice(0, 12)}; nothing was pushed to any VM:\n` +
        "    config/deploy.env:2:github-pat  fingerprint config/deploy.env:github-pat:2",
    );
    assert.match(err.message, /fix: .*commit its fingerprint .* to \.gitleaksignore at the top of the repository/);
    assert.deepEqual(printedFingerprints(err.message), ["config/deploy.env:github-pat:2"]);
    // The tree was scanned inside the cache (a per-commit folder): none of that path may leak into it.
    assert.ok(!err.message.includes(cache), "no export path in the message");
    assert.ok(!err.message.includes(token), "no secret in the message");
    assert.equal(alerts.length, 1);
    assert.deepEqual(alerts[0].findings, [{ file: "config/deploy.env", line: 2, rule: "github-pat", fingerprint: "config/deploy.env:github-pat:2" }]);
  });

  it("(b) committing the printed fingerprint to .gitleaksignore lets the next commits through, and only that finding", async () => {
    const repo = newRepo();
    repo.commit({ "config/deploy.env": `# deploy settings\nGITHUB_TOKEN=${token}\n` }, "add deploy settings");
    const first = await blocked(prepare(repo));
    const printed = printedFingerprints(first.message);
    assert.deepEqual(printed, ["config/deploy.env:github-pat:2"]);

    // Exactly what a person does: paste the printed line into .gitleaksignore at the top, commit.
    const ignoreCommit = repo.commit({ ".gitleaksignore": `# accepted: test fixture, not a real token\n${printed[0]}\n` }, "accept a false positive");
    const passed = await prepare(repo);
    assert.equal(passed.commit, ignoreCommit);
    assert.equal(passed.scan?.hasSecrets, false);
    assert.deepEqual(passed.scan?.findings, []);
    assert.equal(passed.scan?.cached, false, "a new commit is scanned, not served from the cache");
    assert.equal(fs.readFileSync(path.join(passed.treeDir, "config/deploy.env"), "utf8"), `# deploy settings\nGITHUB_TOKEN=${token}\n`, "the accepted file is in the pushed tree");

    // A later commit is exported to another folder: the same line still matches.
    const later = repo.commit({ "README.md": "# th_timmy\nnow with docs\n" }, "docs");
    const again = await prepare(repo);
    assert.equal(again.commit, later);
    assert.notEqual(again.treeDir, passed.treeDir);
    assert.equal(again.scan?.hasSecrets, false);

    // The entry names one file, rule and line: the same token elsewhere is still blocked.
    const leak = repo.commit({ "config/other.env": `GITHUB_TOKEN=${token}\n` }, "another copy");
    const err = await blocked(prepare(repo));
    assert.equal(err.commit, leak);
    assert.deepEqual(err.findings.map((f) => f.fingerprint), ["config/other.env:github-pat:1"]);
  });

  it("(c) an inline gitleaks:allow passes by default and is blocked with ignore_inline_allow: true", async () => {
    const repo = newRepo();
    const commit = repo.commit({ "config/allowed.env": `GITHUB_TOKEN=${token} # gitleaks:allow\n` }, "inline allow");
    const want = [{ file: "config/allowed.env", line: 1, rule: "github-pat", fingerprint: "config/allowed.env:github-pat:1" }];

    const byDefault = await prepare(repo);
    assert.equal(byDefault.commit, commit);
    assert.equal(byDefault.scan?.hasSecrets, false);
    assert.equal(byDefault.scan?.ignoreInlineAllow, false);

    // Same commit, same cache: the option is part of the cache key, or this would be the clean result.
    const strict = settingsFor(repo.path, { ignore_inline_allow: true });
    assert.equal(strict.secretScanning.ignoreInlineAllow, true);
    const err = await blocked(prepare(repo, strict));
    assert.deepEqual(err.findings, want);

    // The provider's path (inputs as stored by the engine -> repository settings -> prepareCommit).
    const inputs = normalizeInputs({ repoPath: repo.path, branch: "main", commit, secretScan: { enabled: true, blockOnSecrets: true, ignoreInlineAllow: true } });
    const viaProvider = await blocked(prepareCommit(toSourceSettings(inputs), commit, { logger, cacheDir: cache }));
    assert.deepEqual(viaProvider.findings, want);
    const legacy = normalizeInputs({ repoPath: repo.path, branch: "main", commit, secretScan: { enabled: true, blockOnSecrets: true } });
    assert.deepEqual(legacy.secretScan, { enabled: true, configPath: undefined, blockOnSecrets: true }, "absent stays absent: no diff for older stacks");
    const legacyRun = await prepareCommit(toSourceSettings(legacy), commit, { logger, cacheDir: cache });
    assert.equal(legacyRun.scan?.hasSecrets, false);
    assert.equal(legacyRun.scan?.cached, true, "the default-option result is cached apart from the strict one");
  });

  it("(c') ignore_inline_allow must be a boolean", () => {
    const r = validateConfig(
      {
        ssh: { key_path: "/k/id", known_hosts_path: "/k/kh" },
        vms: { vm01: { host: "127.0.0.1", ssh_user: "u" }, vm04: { host: "127.0.0.4", ssh_user: "u" } },
        repository: { main_repo_path: "/src/repo", vm_repo_paths: { vm01: "/srv/gate-test/app" }, secret_scanning: { ignore_inline_allow: "yes" } },
      },
      { baseDir: "/", homeDir: "/root", file: "x.yml" },
    );
    assert.deepEqual(r.problems.map((p) => p.message), ['must be true or false, got a string ("yes")']);
    assert.deepEqual(r.problems.map((p) => p.key), ["repository.secret_scanning.ignore_inline_allow"]);
  });

  it("(d) scanRepository on a folder prints the same fingerprint, and that folder's .gitleaksignore takes it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-gate-dir-"));
    cleanup.push(dir);
    fs.mkdirSync(path.join(dir, "config"));
    fs.writeFileSync(path.join(dir, "config/deploy.env"), `# deploy settings\nGITHUB_TOKEN=${token}\n`);
    const found = await scanRepository(dir, { cacheDir: cache });
    assert.deepEqual(found.findings, [{ file: "config/deploy.env", line: 2, rule: "github-pat", fingerprint: "config/deploy.env:github-pat:2" }]);
    assert.equal(scanJson(found).findings[0].fingerprint, "config/deploy.env:github-pat:2");
    const text = formatScan(found);
    assert.match(text, /^ {2}config\/deploy\.env:2:github-pat {2}fingerprint config\/deploy\.env:github-pat:2$/m);
    assert.ok(text.includes(`false positive: add its fingerprint as a line of ${path.join(dir, ".gitleaksignore")}`));
    assert.ok(!text.includes(token));

    // A relative folder argument gives the same relative fingerprint.
    const relative = await scanRepository(path.relative(process.cwd(), dir), { cacheDir: cache });
    assert.deepEqual(relative.findings.map((f) => f.fingerprint), ["config/deploy.env:github-pat:2"]);

    fs.writeFileSync(path.join(dir, ".gitleaksignore"), `${found.findings[0].fingerprint}\n`);
    const clean = await scanRepository(dir, { cacheDir: cache });
    assert.equal(clean.hasSecrets, false);
  });

  it("(e) archives and binary files pass the gate (gitleaks' behaviour, documented)", async () => {
    const repo = newRepo();
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(`\nGITHUB_TOKEN=${token}\n`)]);
    repo.commit({ "backup/deploy.env.gz": gzipSync(`GITHUB_TOKEN=${token}\n`), "bin/tool": elf }, "archive and binary");
    const passed = await prepare(repo);
    assert.equal(passed.scan?.hasSecrets, false);
    assert.ok(fs.existsSync(path.join(passed.treeDir, "backup/deploy.env.gz")) && fs.existsSync(path.join(passed.treeDir, "bin/tool")), "both are in the pushed tree");
  });

  it("(f) a cache under a node_modules/ folder does not switch the gate off", async () => {
    // gitleaks' default rules allowlist paths matching `(^|/)node_modules(/.*)?$`: a scan given the
    // export's absolute path under such a folder skipped every file. Relative paths cannot match it.
    const underNodeModules = path.join(cache, "node_modules", ".cache", "repo-sync");
    const repo = newRepo();
    repo.commit({ "config/deploy.env": `# deploy settings\nGITHUB_TOKEN=${token}\n` }, "add deploy settings");
    const err = await blocked(prepareSource(settingsFor(repo.path), { pull: false, logger, cacheDir: underNodeModules }));
    assert.deepEqual(err.findings.map((f) => f.fingerprint), ["config/deploy.env:github-pat:2"]);
  });

  it("a missing folder is a clear scan error, not a gitleaks failure", async () => {
    await assert.rejects(scanRepository(path.join(cache, "does-not-exist"), { cacheDir: cache }), (err: unknown) => {
      assert.ok(isRepoSyncError(err));
      assert.equal(err.kind, "scan");
      assert.match(err.message, /does-not-exist is not a folder that can be scanned/);
      return true;
    });
  });
});
