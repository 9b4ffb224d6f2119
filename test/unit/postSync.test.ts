/**
 * The post-sync hook's remote script, run here by /bin/sh on local folders: it runs in the served
 * folder with the revision (and release) set; a hook of several commands runs none of them elsewhere
 * when the folder cannot be entered; odd folder names stay literal.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hookScript } from "../../lib/sync/postSync";

const HASH = "0123456789abcdef0123456789abcdef01234567";

describe("post-sync hook script (run by /bin/sh)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-hook-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sh = (script: string, cwd: string) => spawnSync("/bin/sh", ["-c", script], { cwd, encoding: "utf8" });

  it("runs a multi-command hook in the served folder with the revision set (in place and releases)", () => {
    const flat = path.join(dir, "it's $(x)");
    fs.mkdirSync(flat);
    fs.writeFileSync(path.join(flat, ".sync_rev"), `${HASH}\n`);
    const hook = 'echo "$REPO_SYNC_REVISION" > seen; pwd -P >> seen\nfalse || echo second >> seen';
    assert.equal(sh(hookScript(flat, hook), dir).status, 0);
    assert.equal(fs.readFileSync(path.join(flat, "seen"), "utf8"), `${HASH}\n${fs.realpathSync(flat)}\nsecond\n`);
    const rel = path.join(flat, "releases", HASH);
    fs.mkdirSync(rel, { recursive: true });
    assert.equal(sh(hookScript(flat, 'printf "%s|%s" "$REPO_SYNC_REVISION" "$REPO_SYNC_RELEASE" > seen', HASH), dir).status, 0);
    assert.equal(fs.readFileSync(path.join(rel, "seen"), "utf8"), `${HASH}|${rel}`);
  });

  it("a folder that cannot be entered runs no part of the hook (exit 125), whatever it chains", () => {
    const home = path.join(dir, "home");
    fs.mkdirSync(home);
    for (const hook of ["touch a; touch b", "false || touch c", "touch d\ntouch e", "true && touch f"]) {
      assert.equal(sh(hookScript(path.join(dir, "gone"), hook), home).status, 125, hook);
      assert.equal(sh(hookScript(path.join(dir, "gone"), hook, HASH), home).status, 125, hook);
    }
    assert.deepEqual(fs.readdirSync(home), [], "nothing ran in the login directory");
    // In place with no marker: the revision cannot be told, the hook does not run.
    fs.mkdirSync(path.join(dir, "nomarker"));
    assert.equal(sh(hookScript(path.join(dir, "nomarker"), "touch g; touch h"), home).status, 125);
    assert.deepEqual(fs.readdirSync(path.join(dir, "nomarker")), []);
  });
});
