import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "../support/pulumiCli";

describe("./run.sh demo (the README's first command, after set-up)", function () {
  this.timeout(300_000);

  it("tells the story end to end and leaves nothing behind", () => {
    const config = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-demo-cfg-")), "config.yml");
    const r = spawnSync("node", [path.join(PROJECT_ROOT, "dist", "demo", "demo.js"), "--first-octet", "61", "--config", config], { encoding: "utf8", cwd: PROJECT_ROOT });
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    for (const heading of ["=== 1. Start a local fleet", "=== 3. pulumi up", "=== 4. Someone edits a file by hand on vm02", "=== 5. pulumi up repairs vm02", "=== 6. Done"]) {
      assert.ok(out.includes(heading), heading);
    }
    assert.match(out, /\+ 4 created/);
    assert.match(out, /tree drift: 1 modified, 0 added, 0 deleted \(first: src\/app\.py\)/);
    assert.match(out, /pulumi preview --expect-no-changes exited [1-9]/);
    assert.match(out, /vm02: repaired [0-9a-f]{12} \(1 files/);
    assert.match(out, /vm02 +127\.0\.0\.62 +[0-9a-f]{12} +[0-9a-f]{12} +in-sync/);
    assert.equal(fs.existsSync(config), false, "the generated config is removed");
    assert.equal(fs.existsSync(path.join(PROJECT_ROOT, "Pulumi.demo.yaml")), false);
    const stray = spawnSync("pgrep", ["-f", "sshd -f /tmp/repo-sync-fleet-"], { encoding: "utf8" }).stdout.trim();
    assert.equal(stray, "", "no sshd left running");
  });
});
