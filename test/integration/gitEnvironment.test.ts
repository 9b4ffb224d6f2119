/**
 * repo-sync runs git one way (lib/source/runGit.ts), with every GIT_* variable of its caller cleared:
 * run from inside a real post-receive hook of a bare repository (git sets GIT_DIR there, as in a
 * common "deploy on push" set-up), or from a shell whose GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE
 * point at another repository, it deploys the configured checkout's commit, and leaves the other
 * repository alone.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { fleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { PROJECT_ROOT } from "../../tools/pulumiCli";
import { runCli } from "../support/cli";

describe("git's environment cannot redirect repo-sync (post-receive hook, GIT_DIR & co.)", function () {
  this.timeout(180_000);
  let fleet: Fleet;
  let other: SourceRepo;
  let work: string;
  let bare: string;
  let checkout: string;
  let cfg: string;
  const syncRev = () => fs.readFileSync(path.join(fleet.vm("vm01").targetPath, ".sync_rev"), "utf8").trim();
  const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@x", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@x" } }).trim();

  before(async () => {
    fleet = await startFleet({ count: 1, firstOctet: 240 });
    work = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-gitenv-"));
    // The repository people push to, the checkout repo-sync deploys from (its clone), and a developer's clone.
    const seed = makeSourceRepo();
    bare = path.join(work, "app.git");
    git(work, "clone", "-q", "--bare", seed.path, bare);
    fs.rmSync(seed.path, { recursive: true, force: true });
    checkout = path.join(work, "checkout");
    git(work, "clone", "-q", bare, checkout);
    // Another repository the environment will point at.
    other = makeSourceRepo({ "OTHER.txt": "not this one\n" });
    const doc = fleetConfig(fleet, { repoPath: checkout }) as { vms: Record<string, unknown>; repository: Record<string, unknown> };
    delete doc.vms.source;
    delete doc.repository.source_vm;
    cfg = path.join(work, "config.yml");
    fs.writeFileSync(cfg, stringify(doc));
  });
  after(async () => {
    await fleet?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
    if (other) fs.rmSync(other.path, { recursive: true, force: true });
  });

  it("a push runs the bare repository's post-receive hook, which deploys the pushed commit", () => {
    const out = path.join(work, "hook.out");
    const hook = path.join(bare, "hooks", "post-receive");
    // What such a hook usually is: deploy, log. git runs it with GIT_DIR set (to the bare repository).
    fs.writeFileSync(hook, `#!/bin/sh\nprintf 'GIT_DIR=%s\\n' "$GIT_DIR" > '${out}'\n'${path.join(PROJECT_ROOT, "bin", "repo-sync")}' sync --config '${cfg}' --json >> '${out}' 2>&1\necho "exit $?" >> '${out}'\n`, { mode: 0o755 });
    const dev = path.join(work, "dev");
    git(work, "clone", "-q", bare, dev);
    fs.writeFileSync(path.join(dev, "src", "app.py"), "print('pushed')\n");
    git(dev, "commit", "-q", "-am", "pushed");
    const pushed = git(dev, "rev-parse", "HEAD");
    git(dev, "push", "-q", "origin", "HEAD:main");
    const log = fs.readFileSync(out, "utf8");
    assert.match(log, /^GIT_DIR=\S+/, "the hook ran with GIT_DIR set");
    assert.match(log, /exit 0\n$/, log);
    // repo-sync pulled the checkout from its origin (the bare repository) and deployed what was pushed.
    assert.equal(syncRev(), pushed);
    assert.equal(fs.readFileSync(path.join(fleet.vm("vm01").targetPath, "src", "app.py"), "utf8"), "print('pushed')\n");
    assert.equal(git(checkout, "rev-parse", "HEAD"), pushed);
  });

  it("GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE set to another repository: the configured checkout is deployed, the other one untouched", async () => {
    const next = (() => {
      fs.writeFileSync(path.join(checkout, "src", "app.py"), "print('local')\n");
      git(checkout, "commit", "-q", "-am", "local");
      return git(checkout, "rev-parse", "HEAD");
    })();
    const index = path.join(other.path, ".git", "index");
    const before = { head: other.head(), index: fs.readFileSync(index) };
    const env = { GIT_DIR: path.join(other.path, ".git"), GIT_WORK_TREE: other.path, GIT_INDEX_FILE: index, GIT_OBJECT_DIRECTORY: path.join(other.path, ".git", "objects") };
    const r = await runCli(["sync", "--config", cfg, "--json", "--no-pull"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(syncRev(), next);
    assert.equal(fs.existsSync(path.join(fleet.vm("vm01").targetPath, "OTHER.txt")), false, "nothing of the other repository");
    assert.deepEqual({ head: other.head(), index: fs.readFileSync(index) }, before, "the other repository is as it was");
    // And the secret gate's scan (`repo-sync scan` without a path) reads the configured checkout too.
    const scan = await runCli(["scan", "--config", cfg, "--json"], { env });
    assert.equal(scan.code, 0, scan.stderr);
  });
});
