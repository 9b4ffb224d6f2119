/**
 * The sources of the scripts repo-sync runs on a VM keep their lines to 120 characters, so that a
 * review reads a shell line whole (they had lines of 200-430 characters). Long shell lines are split
 * into `+`-joined pieces; the scripts they build do not change (shellcheck.test.ts, targetScript.test.ts).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../tools/pulumiCli";

const MAX_LINE = 120;

/** Every file that builds a script sent to a VM, or the texts and errors that go with them. */
const SCRIPT_SOURCES = [
  "lib/target/script.ts",
  "lib/target/fence.ts",
  "lib/target/releases.ts",
  "lib/target/shared.ts",
  "lib/target/history.ts",
  "lib/target/session.ts",
  "lib/target/layout.ts",
  "lib/sync/healthCheck.ts",
  "lib/sync/postSync.ts",
  "providers/postSyncHook.ts",
];

describe("script sources: lines of at most 120 characters", () => {
  it("has no longer line in any file that builds a remote script", () => {
    const long: string[] = [];
    for (const file of SCRIPT_SOURCES) {
      const lines = fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8").split("\n");
      lines.forEach((line, i) => {
        const length = [...line].length;
        if (length > MAX_LINE) long.push(`${file}:${i + 1} is ${length} characters long`);
      });
    }
    assert.deepEqual(long, [], `split these lines (at most ${MAX_LINE} characters):\n${long.join("\n")}`);
  });
});
