/**
 * git is run one way: every spawn of git in the product goes through lib/source/runGit.ts (one
 * environment policy, one error builder), and `git status -z` is read by a pure parser.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseStatusZ } from "../../lib/source/git";
import { gitEnv } from "../../lib/source/runGit";
import { productFiles } from "../../tools/importGraph";
import { PROJECT_ROOT } from "../../tools/pulumiCli";

describe("one git runner", () => {
  it("only lib/source/runGit.ts starts git (no simple-git, no other spawn of git)", () => {
    const spawners = productFiles(PROJECT_ROOT).filter((f) => /\b(spawn|spawnSync|execFile|execFileSync|runProgram)\(\s*["']git["']|simple-git/.test(fs.readFileSync(path.join(PROJECT_ROOT, f), "utf8")));
    assert.deepEqual(spawners, ["lib/source/runGit.ts"]);
  });

  it("clears every GIT_* variable of the caller and the ones that run programs", () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { GIT_DIR: "/x", git_work_tree: "/y", GIT_INDEX_FILE: "/z", GIT_SSH: "/evil", EDITOR: "vi", PAGER: "less" });
      const env = gitEnv();
      for (const k of ["GIT_DIR", "git_work_tree", "GIT_INDEX_FILE", "GIT_SSH", "EDITOR", "PAGER"]) assert.ok(k in env && env[k] === undefined, k);
      assert.equal(env.GIT_NO_REPLACE_OBJECTS, "1");
      assert.equal(env.GIT_TERMINAL_PROMPT, "0");
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it("parseStatusZ reads `git status --porcelain=v1 -z` (captured), renames by their new path", () => {
    const out = " M src/app.py\0M  README.md\0R  new name.txt\0old name.txt\0 D gone\0";
    assert.deepEqual(parseStatusZ(out), ["src/app.py", "README.md", "new name.txt", "gone"]);
    assert.deepEqual(parseStatusZ(""), []);
  });
});
