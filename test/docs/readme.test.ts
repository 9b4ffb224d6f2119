/**
 * The README cannot rot: every command it shows (in ```sh blocks and in backticks) must be one that a
 * test exercises, named here with the test file and a line of it that runs the command. A new
 * command in the README fails this test until it is covered.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseConfigText } from "../../lib/config/load";
import { PROJECT_ROOT } from "../../tools/pulumiCli";

/** Command pattern -> [test file, text in it that exercises the command]. */
const COVERAGE: Array<[RegExp, string, string]> = [
  [/^\.\/run\.sh demo( --keep)?$/, "test/e2e/firstRun.test.ts", "\"run.sh\"), [\"demo\""],
  [/^\.\/run\.sh test$/, ".ci/run", "./run.sh test"],
  [/^\.\/run\.sh setup$/, "run.sh", "setup)\n    setup ;;"],
  [/^\.\/run\.sh bench$/, "test/bench/bench.test.ts", "bench.js"],
  [/^repo-sync sync\b/, "test/integration/cli.test.ts", "runCli([\"sync\""],
  [/^repo-sync status\b/, "test/integration/cli.test.ts", "runCli([\"status\""],
  [/^repo-sync verify\b/, "test/integration/cli.test.ts", "runCli([\"verify\""],
  [/^repo-sync scan\b/, "test/integration/cli.test.ts", "runCli([\"scan\""],
  [/^pulumi preview --expect-no-changes$/, "test/e2e/pulumiUp.test.ts", "\"--expect-no-changes\""],
  [/^pulumi preview --diff$/, "test/e2e/pulumiUp.test.ts", "[\"preview\", \"--diff\"]"],
  [/^pulumi preview$/, "test/e2e/pulumiUp.test.ts", "[\"preview\", \"--json\"]"],
  [/^pulumi up( --continue-on-error)?$/, "test/e2e/pulumiLifecycle.test.ts", "[\"up\", \"--yes\", \"--continue-on-error\"]"],
  [/^pulumi refresh$/, "test/e2e/pulumiLifecycle.test.ts", "[\"refresh\", \"--yes\"]"],
  [/^pulumi destroy$/, "test/e2e/pulumiLifecycle.test.ts", "[\"destroy\", \"--yes\"]"],
  [/^pulumi cancel$/, "test/faults/faults.test.ts", "[\"cancel\", \"--yes\"]"],
  [/^pulumi stack init prod$/, "tools/pulumiCli.ts", "[\"stack\", \"init\", this.stack]"],
  [/^pulumi config set repo-sync:configPath configs\/config\.yml$/, "tools/pulumiCli.ts", "\"repo-sync:configPath\""],
  [/^pulumi config set repo-sync:<key> \.\.\.$/, "test/e2e/stackReference.test.ts", "\"repo-sync:vmsStack\""],
  [/^npm ci( && npm run build)?$/, "scripts/setup.sh", "npm ci"],
  [/^pulumi plugin install resource command v1\.2\.1$/, "scripts/setup.sh", "pulumi plugin install resource command \"$PULUMI_COMMAND_VERSION\""],
  [/^pulumi plugin install --file$/, "scripts/setup.sh", "--file \"$REPO_SYNC_BIN/pulumi-resource-command\""],
  [/^npm run build$/, "package.json", "\"build\": \"tsc -p tsconfig.json\""],
  [/^source scripts\/env\.sh$/, "run.sh", "source scripts/env.sh"],
  [/^cp configs\/config\.example\.yml configs\/config\.yml$/, "test/docs/readme.test.ts", "config.example.yml parses"],
  [/^ssh-keyscan -p 22 10\.0\.0\.11 >> /, "test/integration/badInput.test.ts", "ssh-keyscan -p 22"],
  [/^ssh-keygen -R HOST -f KNOWN_HOSTS$/, "test/integration/security.test.ts", "ssh-keygen -R 127"],
  [/^git init && git add \. && git commit -m initial$/, "test/integration/cli.test.ts", "could not get commit hash"],
  [/^chmod 600$/, "test/integration/badInput.test.ts", "chmod 600"],
];

/** Commands the README shows: lines of ```sh blocks, and backticked spans that start with a tool. */
function readmeCommands(text: string): string[] {
  const out = new Set<string>();
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1].split("\n")) {
      const cmd = line.replace(/#.*$/, "").trim();
      if (cmd) out.add(cmd);
    }
  }
  for (const m of text.matchAll(/`((?:\.\/run\.sh|repo-sync|pulumi|npm|source|cp|ssh-keyscan|ssh-keygen|git init|chmod) [^`]*)`/g)) {
    out.add(m[1].replace(/ \[.*$/, "").trim());
  }
  return [...out];
}

describe("README commands are all exercised", () => {
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
  const commands = readmeCommands(readme);

  it("finds the two commands first", () => {
    assert.deepEqual(commands.slice(0, 2), ["./run.sh demo", "./run.sh test"]);
  });

  for (const cmd of commands) {
    it(cmd, () => {
      const entry = COVERAGE.find(([re]) => re.test(cmd));
      assert.ok(entry, `README shows \`${cmd}\` but no test is listed for it in test/docs/readme.test.ts`);
      const [, file, needle] = entry;
      const text = fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8");
      assert.ok(text.includes(needle), `${file} should exercise \`${cmd}\` (looked for ${needle})`);
    });
  }

  it("config.example.yml parses and validates (apart from files that exist only on real VMs)", () => {
    const text = fs.readFileSync(path.join(PROJECT_ROOT, "configs", "config.example.yml"), "utf8");
    const cfg = parseConfigText(text, path.join(PROJECT_ROOT, "configs", "config.example.yml"), { checkLocalFiles: false });
    assert.deepEqual(cfg.targets.map((t) => [t.vm, t.path]), [["vm01", "/home/thadmin/th_timmy"], ["vm02", "/srv/th_timmy"]]);
    assert.equal(cfg.repository.secretScanning.configPath, path.join(PROJECT_ROOT, "configs", "gitleaks.toml"));
  });

  it("./run.sh without a command prints its usage", () => {
    const r = spawnSync(path.join(PROJECT_ROOT, "run.sh"), [], { encoding: "utf8" });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /\.\/run\.sh demo/);
    assert.match(r.stdout, /\.\/run\.sh test/);
  });
});
