import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../tools/pulumiCli";

describe("benchmark smoke run (./run.sh bench --smoke): the script works; no time thresholds", function () {
  this.timeout(600_000);

  it("writes the results table (markdown + JSON) and the chart", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-bench-out-"));
    const r = spawnSync("node", [path.join(PROJECT_ROOT, "dist", "bench", "bench.js"), "--smoke", "--no-ansible", "--out", out], { encoding: "utf8", cwd: PROJECT_ROOT });
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    const json = JSON.parse(fs.readFileSync(path.join(out, "latest.json"), "utf8")) as { rows: Array<{ group: string; baselineMs: number; cases: Record<string, number | null> }>; extra: { gitleaksRunsPerUp: number; delta: { bytesSent: number } } };
    const groups = new Set(json.rows.map((x) => x.group));
    for (const g of ["initial sync", "no-change sync", "no-change preview", "no-change up", "one-line commit (deploy loop)"]) assert.ok(groups.has(g), g);
    for (const row of json.rows) assert.ok(row.baselineMs > 0);
    assert.equal(json.extra.gitleaksRunsPerUp, 1, "the secret scan runs once per commit, not once per VM");
    const loop = json.rows.find((x) => x.group === "one-line commit (deploy loop)");
    assert.ok(loop && typeof loop.cases["repo-sync CLI"] === "number" && typeof loop.cases["pulumi up"] === "number", JSON.stringify(loop));
    assert.ok(json.extra.delta.bytesSent > 0);
    // With the plugin set-up builds, the CopyToRemote yardstick is measured (smoke: in the deploy loop).
    if (spawnSync("sh", ["-c", "command -v pulumi-resource-command"]).status === 0) {
      assert.equal(typeof loop?.cases.CopyToRemote, "number", JSON.stringify(loop));
    }
    assert.match(fs.readFileSync(path.join(out, "latest.md"), "utf8"), /\| initial sync|## initial sync/);
    assert.match(fs.readFileSync(path.join(out, "preview-vs-fleet.svg"), "utf8"), /<svg/);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
