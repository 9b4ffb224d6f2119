/**
 * The README cannot rot: every command it shows (in ```sh blocks and in backticks) is either run here
 * (cheap ones: against the real tool, its real argument parser, or a one-VM fleet) or named with the
 * test that runs it end to end (expensive ones: the demo, `pulumi up`, the benchmark), where the
 * named file must be another test that invokes it. A new command in the README fails this test until
 * one of the two covers it.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseCommandLine } from "../../cli/main";
import { hostLookupName } from "../../lib/config/knownHosts";
import { loadConfig, parseConfigText } from "../../lib/config/load";
import { parseDemoArgs } from "../../demo/demo";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { PROJECT_ROOT } from "../../tools/pulumiCli";

/** Commands the README shows: lines of ```sh blocks, and backticked spans that start with a tool. */
export function readmeCommands(text: string): string[] {
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

/** Runs a program, returns its exit code and output; never throws on a non-zero exit. */
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? PROJECT_ROOT, env: opts.env ?? process.env, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** A temp folder removed after the suite. */
const tmpDirs: string[] = [];
function tmp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

/** One VM for the ssh-keyscan / ssh-keygen lines (started on first use). */
let fleet: Fleet | undefined;
async function oneVm(): Promise<Fleet> {
  fleet ??= await startFleet({ count: 1, firstOctet: 61 });
  return fleet;
}

/** The README's sh lines run by `bash -c` with its placeholders put in; the exit code must be 0. */
function bash(line: string, cwd = PROJECT_ROOT): string {
  const r = run("bash", ["-euo", "pipefail", "-c", line], { cwd });
  assert.equal(r.status, 0, `\`${line}\` failed:\n${r.out}`);
  return r.out;
}

/** The real pulumi parses the command and its flags (`--help`: nothing runs; an unknown flag exits 1). */
function pulumiAccepts(cmd: string): void {
  const args = cmd.split(/\s+/).slice(1);
  const r = run("pulumi", [...args, "--help"], { cwd: tmp("repo-sync-readme-pulumi-") });
  assert.equal(r.status, 0, `pulumi rejects \`${cmd}\`:\n${r.out}`);
}

/** Every `pulumi` argument list the end-to-end tests run (`project.run([...])` / `project.ok([...])`). */
function pulumiRuns(): string[][] {
  const out: string[][] = [];
  for (const dir of ["test/e2e", "test/faults"]) {
    for (const f of fs.readdirSync(path.join(PROJECT_ROOT, dir)).filter((n) => n.endsWith(".test.ts"))) {
      const text = fs.readFileSync(path.join(PROJECT_ROOT, dir, f), "utf8");
      for (const m of text.matchAll(/\.(?:run|ok)\(\[([^\]]*)\]/g)) out.push([...m[1].matchAll(/"([^"]*)"/g)].map((a) => a[1]));
    }
  }
  return out;
}

/** A pulumi command is run by an end-to-end test (same subcommand, every flag) and accepted by the real CLI. */
function pulumiRunByATest(cmd: string): void {
  const [sub, ...flags] = cmd.split(/\s+/).slice(1);
  assert.ok(pulumiRuns().some((args) => args[0] === sub && flags.every((f) => args.includes(f))), `no test in test/e2e or test/faults runs \`${cmd}\``);
  pulumiAccepts(cmd);
}

/** How a README command is covered. */
type Coverage =
  | { run: (cmd: string) => void | Promise<void> }
  | { exercisedBy: string; invocation: string; also?: (cmd: string) => void | Promise<void> };

/** The CLI's own parser accepts a `repo-sync ...` line as the README shows it. */
function cliAccepts(cmd: string): void {
  const parsed = parseCommandLine(cmd.split(/\s+/).slice(1));
  assert.ok("command" in parsed, `the CLI rejects \`${cmd}\`: ${JSON.stringify(parsed)}`);
}

const COVERAGE: Array<[RegExp, Coverage]> = [
  [/^\.\/run\.sh demo( --keep)?$/, {
    exercisedBy: "test/e2e/firstRun.test.ts", invocation: "\"run.sh\"), [\"demo\"",
    also: (cmd) => void parseDemoArgs(cmd.split(" ").slice(2)),
  }],
  [/^\.\/run\.sh test$/, {
    run: () => {
      // CI runs exactly the README's test command: .ci/run's one command line is it.
      const lines = fs.readFileSync(path.join(PROJECT_ROOT, ".ci", "run"), "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("#"));
      assert.deepEqual(lines.filter((l) => !/^(set |cd )/.test(l)), ["./run.sh test"]);
    },
  }],
  // `./run.sh test unit` rebuilds dist/ first (as every `./run.sh test`), which this suite runs from: its
  // branch is checked in run.sh, and the mocha line it execs is run here on one unit file.
  [/^\.\/run\.sh test unit$/, {
    run: () => {
      const script = fs.readFileSync(path.join(PROJECT_ROOT, "run.sh"), "utf8");
      const line = /if \[ "\$\{1:-\}" = unit \]; then\n\s+shift\n\s+exec (npx mocha --reporter \S+ dist\/test\/unit\/\*\.test\.js) "\$@"/.exec(script);
      assert.ok(line, "run.sh has the `test unit` branch");
      assert.match(bash(line[1].replace("dist/test/unit/*.test.js", "dist/test/unit/gitRunner.test.js")), /tests: 3 passed, 0 failed/);
    },
  }],
  [/^\.\/run\.sh setup$/, { run: () => assert.match(bash("./run.sh setup"), /\[setup\] ready in/) }],
  [/^\.\/run\.sh bench$/, { exercisedBy: "test/bench/bench.test.ts", invocation: "\"bench.js\")" }],
  [/^repo-sync (sync|status|verify|scan)\b/, {
    exercisedBy: "test/integration/cli.test.ts", invocation: "runCli([\"",
    also: cliAccepts,
  }],
  [/^repo-sync history\b/, {
    exercisedBy: "test/integration/rollout.test.ts", invocation: "runCli([\"history\"",
    also: cliAccepts,
  }],
  [/^repo-sync (rollback|migrate)\b/, {
    exercisedBy: "test/integration/releases.test.ts", invocation: "runCli([\"",
    also: cliAccepts,
  }],
  [/^pulumi (preview|up|refresh|destroy|cancel)\b/, { run: pulumiRunByATest }],
  [/^pulumi stack init (prod|dev)$/, { run: pulumiAccepts }],
  [/^pulumi config set repo-sync-in-program:repoPath \S+$/, {
    run: (cmd) => {
      pulumiAccepts(cmd);
      assert.match(fs.readFileSync(path.join(PROJECT_ROOT, "examples", "in-program", "index.js"), "utf8"), /cfg\.require\("repoPath"\)/);
    },
  }],
  [/^(npm run build && )?npm pack$/, { exercisedBy: "test/e2e/inProgram.test.ts", invocation: "[\"pack\", \"--ignore-scripts\"" }],
  [/^npm install \.\.\/\.\.\/repo-sync-\S+\.tgz$/, {
    exercisedBy: "test/e2e/inProgram.test.ts", invocation: "[\"install\", ",
    // The tarball the README names is the one `npm pack` makes of this version.
    also: (cmd) => assert.equal(cmd.split("/").pop(), `repo-sync-${(JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version}.tgz`),
  }],
  [/^pulumi config set repo-sync:configPath configs\/config\.yml$/, { run: pulumiAccepts }],
  [/^pulumi config set repo-sync:<key> \.\.\.$/, { run: () => pulumiAccepts("pulumi config set repo-sync:branch main") }],
  [/^pulumi plugin install resource command v1\.2\.1$/, { run: pulumiAccepts }],
  [/^pulumi plugin install --file$/, { run: () => pulumiAccepts("pulumi plugin install resource command v1.2.1 --file /dev/null") }],
  // What `npm run settings` runs after its build, on a copy: a table edited by hand is put back from the schema.
  [/^npm run settings$/, {
    run: () => {
      const dir = tmp("repo-sync-readme-settings-");
      fs.mkdirSync(path.join(dir, "providers"));
      const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
      fs.writeFileSync(path.join(dir, "README.md"), readme.replace("| `ssh.connect_timeout_s` | `connectTimeoutS` | 10 |", "| `ssh.connect_timeout_s` | `connectTimeoutS` | 99 |"));
      const script = (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.settings;
      // Its first build may fail on the very types it regenerates: they are regenerated, then built again.
      assert.match(script, /; node dist\/tools\/settings\.js && tsc -p tsconfig\.json$/);
      bash(`node dist/tools/settings.js ${dir}`);
      assert.equal(fs.readFileSync(path.join(dir, "README.md"), "utf8"), readme);
      assert.equal(fs.readFileSync(path.join(dir, "providers", "settingsArgs.ts"), "utf8"), fs.readFileSync(path.join(PROJECT_ROOT, "providers", "settingsArgs.ts"), "utf8"));
    },
  }],
  // The installed tree satisfies package.json and the lockfile (npm ls exits 1 otherwise).
  [/^npm ci$/, { run: () => bash("npm ls --depth=0 >/dev/null") }],
  // The build script type-checks the project as it is (no output: dist/ is in use by the suite).
  [/^(npm ci && )?npm run build$/, { run: () => bash("npm run --silent build -- --noEmit") }],
  [/^source scripts\/env\.sh$/, {
    run: () => {
      // From a bare PATH, it finds the cached tools (or the system's) for every command the README uses.
      const env = { PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...(process.env.REPO_SYNC_CACHE ? { REPO_SYNC_CACHE: process.env.REPO_SYNC_CACHE } : {}) };
      const r = run("bash", ["-c", "source scripts/env.sh && command -v pulumi gitleaks rsync ssh node && node -e 'process.exit(+process.versions.node.split(\".\")[0] >= 22 ? 0 : 1)'"], { env });
      assert.equal(r.status, 0, r.out);
    },
  }],
  [/^cp configs\/config\.example\.yml configs\/config\.yml$/, {
    run: (cmd) => {
      const dir = tmp("repo-sync-readme-cp-");
      fs.cpSync(path.join(PROJECT_ROOT, "configs"), path.join(dir, "configs"), { recursive: true });
      fs.rmSync(path.join(dir, "configs", "config.yml"), { force: true });
      bash(cmd, dir);
      const file = path.join(dir, "configs", "config.yml");
      const cfg = parseConfigText(fs.readFileSync(file, "utf8"), file, { checkLocalFiles: false });
      assert.deepEqual(cfg.targets.map((t) => [t.vm, t.path]), [["vm01", "/home/thadmin/th_timmy"], ["vm02", "/srv/th_timmy"]]);
      assert.equal(cfg.repository.secretScanning.configPath, path.join(dir, "configs", "gitleaks.toml"));
    },
  }],
  [/^chmod 600$/, {
    run: async (cmd) => {
      // The loader refuses a key others can read and names this fix; after running it, the key is accepted.
      const f = await oneVm();
      const dir = tmp("repo-sync-readme-key-");
      const key = path.join(dir, "id");
      fs.copyFileSync(f.clientKeyPath, key);
      fs.chmodSync(key, 0o644);
      const file = writeFleetConfig(f, path.join(dir, "config.yml"), { repoPath: PROJECT_ROOT, ssh: { key_path: key } });
      assert.throws(() => loadConfig(file), /chmod 600/);
      bash(`${cmd} ${key}`);
      assert.equal(loadConfig(file).targets[0].keyPath, key);
    },
  }],
  [/^ssh-keyscan -p 22 10\.0\.0\.11 >> /, {
    run: async (cmd) => {
      const vm = (await oneVm()).vms[0];
      const file = path.join(tmp("repo-sync-readme-kh-"), "known_hosts");
      bash(cmd.replace("-p 22 10.0.0.11", `-p ${vm.port} ${vm.host}`).replace(/>> .*$/, `>> ${file}`));
      assert.ok(fs.readFileSync(file, "utf8").includes(vm.hostPublicKey.split(" ").slice(0, 2).join(" ")), "ssh-keyscan wrote the VM's host key");
    },
  }],
  [/^ssh-keygen -R HOST -f KNOWN_HOSTS$/, {
    run: async (cmd) => {
      const f = await oneVm();
      const vm = f.vms[0];
      const file = path.join(tmp("repo-sync-readme-kh-"), "known_hosts");
      fs.copyFileSync(f.knownHostsPath, file);
      const host = hostLookupName(vm.host, vm.port);
      bash(cmd.replace("HOST", host).replace("KNOWN_HOSTS", file));
      assert.ok(!fs.readFileSync(file, "utf8").includes(vm.host), "the VM's old key is gone");
    },
  }],
  [/^git init && git add \. && git commit -m initial$/, {
    run: (cmd) => {
      const dir = tmp("repo-sync-readme-git-");
      fs.writeFileSync(path.join(dir, "a.txt"), "a\n");
      bash(`git -c init.defaultBranch=main init -q && git add . && git -c user.email=t@example.com -c user.name=t commit -q -m initial`, dir);
      assert.equal(cmd, "git init && git add . && git commit -m initial"); // the README's form, with identity set for CI
      assert.match(bash("git log --format=%s", dir), /^initial$/m);
    },
  }],
];

describe("README commands are all exercised", function () {
  this.timeout(180_000);
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
  const commands = readmeCommands(readme);

  after(async () => {
    await fleet?.stop();
    for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it("finds the two commands first", () => {
    assert.deepEqual(commands.slice(0, 2), ["./run.sh demo", "./run.sh test"]);
  });

  for (const cmd of commands) {
    it(cmd, async () => {
      const entry = COVERAGE.find(([re]) => re.test(cmd));
      assert.ok(entry, `README shows \`${cmd}\` but test/docs/readme.test.ts neither runs it nor names a test that does`);
      const coverage = entry[1];
      if ("run" in coverage) return coverage.run(cmd);
      assert.match(coverage.exercisedBy, /^test\/.*\.test\.ts$/);
      assert.notEqual(coverage.exercisedBy, "test/docs/readme.test.ts");
      const text = fs.readFileSync(path.join(PROJECT_ROOT, coverage.exercisedBy), "utf8");
      assert.ok(text.includes(coverage.invocation), `${coverage.exercisedBy} should run \`${cmd}\` (looked for ${coverage.invocation})`);
      await coverage.also?.(cmd);
    });
  }

  it("./run.sh without a command prints its usage", () => {
    const r = run(path.join(PROJECT_ROOT, "run.sh"), []);
    assert.equal(r.status, 0);
    assert.match(r.out, /\.\/run\.sh demo/);
    assert.match(r.out, /\.\/run\.sh test/);
  });
});
