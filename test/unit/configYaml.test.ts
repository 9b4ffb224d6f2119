import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, loadConfig, MAX_CONFIG_BYTES, parseConfigText } from "../../lib/config/load";
import type { Config, ConfigProblem } from "../../lib/config/types";
import { isRepoSyncError } from "../../lib/errors";

// The YAML layer of config loading: every failure is a ConfigError keyed "(yaml)", aliases are
// bounded by what they expand to (not by a count that real configs exceed), duplicate keys are found
// in linear time. The exact messages are asserted: they are what a user reads.

const FILE = "/etc/repo-sync/config.yml";

/** A valid config of exactly 10 lines; tests append to it, so their line numbers start at 11. */
const BASE = [
  "ssh:",
  "  key_path: /keys/id_ed25519",
  "  known_hosts_path: /keys/known_hosts",
  "vms:",
  "  vm01: { host: 10.0.0.11, ssh_user: thadmin }",
  "  vm04: { host: 10.0.0.14, ssh_user: thadmin }",
  "repository:",
  "  main_repo_path: /home/thadmin/app",
  "  vm_repo_paths:",
  "    vm01: /srv/app",
  "",
].join("\n");

function parse(text: string): Config {
  return parseConfigText(text, FILE, { checkLocalFiles: false, homeDir: "/home/thadmin" });
}

/** The problems a refused config reports; fails when it is accepted or fails another way. */
function problemsOf(text: string): ConfigProblem[] {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return assert.fail("the config was accepted");
}

/** The single problem of a refused config. */
function problemOf(text: string): ConfigProblem {
  const problems = problemsOf(text);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  return problems[0];
}

/** Milliseconds `fn` takes. */
function timed(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** `other_tool` with `n` jobs that each merge `*defaults` (one alias per job). */
function mergedJobs(n: number): string {
  const jobs = Array.from({ length: n }, (_, i) => `    job${i}:\n      <<: *defaults\n      name: job${i}\n`);
  return BASE + "other_tool:\n  defaults: &defaults { retries: 3, timeout: 10 }\n  jobs:\n" + jobs.join("");
}

/** The classic "billion laughs": ten levels, each a list of ten aliases to the level before. */
function aliasBomb(): string {
  const lines = ["lol:", "  a: &a [x, x, x, x, x, x, x, x, x, x]"];
  const names = "abcdefghij";
  for (let i = 1; i < names.length; i++) {
    lines.push(`  ${names[i]}: &${names[i]} [${Array<string>(10).fill(`*${names[i - 1]}`).join(", ")}]`);
  }
  return BASE + lines.join("\n") + "\n";
}

/** `other_tool` with `n` keys of 15 bytes per line (60,000 keys: 900 KB); `distinct` names repeat. */
function manyKeys(n: number, distinct = n): string {
  const lines = Array.from({ length: n }, (_, i) => `  k${String(i % distinct).padStart(6, "0")}: val\n`);
  return BASE + "other_tool:\n" + lines.join("");
}

describe("config YAML: aliases", () => {
  it("resolves aliases inside the config's own keys", () => {
    const config = parse(
      // vm03 is another machine (one host with one folder twice is refused: overlap.ts).
      BASE.replace("  vm04:", "  vm02: { host: 10.0.0.12, ssh_user: &user deploy }\n  vm03: { host: 10.0.0.13, ssh_user: *user }\n  vm04:") +
        "    vm02: &path /srv/web\n    vm03: *path\n",
    );
    assert.deepEqual(config.targets.map((t) => `${t.vm} ${t.user}@${t.host}:${t.path}`), [
      "vm01 thadmin@10.0.0.11:/srv/app",
      "vm02 deploy@10.0.0.12:/srv/web",
      "vm03 deploy@10.0.0.13:/srv/web",
    ]);
  });

  it("loads a config whose other section has 500 `<<: *defaults` merges (yaml's default bound refused 51)", () => {
    const config = parse(mergedJobs(500));
    assert.deepEqual(config.targets.map((t) => t.vm), ["vm01"]);
  });

  it("loads 5,000 aliases and refuses the 5,001st, naming it and its line", function () {
    this.timeout(30_000);
    assert.deepEqual(parse(mergedJobs(5_000)).targets.map((t) => t.vm), ["vm01"]);
    // BASE is 10 lines, then other_tool, defaults, jobs; each job is 3 lines, its alias the 2nd.
    assert.deepEqual(problemOf(mergedJobs(5_001)), {
      key: "(yaml)",
      message:
        "uses more than 5000 aliases (*name; the one past the limit is *defaults at line 15015, column 11); " +
        "write the repeated values out, or keep another tool's settings in a file of their own",
    });
  });

  it("refuses a billion-laughs document at once, with a ConfigError that says what it is", () => {
    let problem: ConfigProblem | undefined;
    const ms = timed(() => {
      problem = problemOf(aliasBomb());
    });
    // Level f stands for 1,111,111 values: its 10th alias to e (111,111 each) crosses 1,000,000.
    assert.deepEqual(problem, {
      key: "(yaml)",
      message:
        "expands to more than 1000000 values once its aliases are resolved (crossed at the alias *e at line 17, column 46); " +
        'this is what an alias bomb ("billion laughs") does: remove the aliases that nest other aliases',
    });
    assert.ok(ms < 2_000, `took ${ms} ms`);
  });

  it("refuses a flat expansion too: 1,000 aliases to a list of 1,000 values", () => {
    const text = BASE + `big: &big [${Array<string>(1_000).fill("x").join(", ")}]\nuses:\n` + "  - *big\n".repeat(1_000);
    // The anchor stands for 1,001 values; the 1,000th alias (line 13 + 999) passes 1,000,000.
    assert.equal(problemOf(text).message.split(";")[0], "expands to more than 1000000 values once its aliases are resolved (crossed at the alias *big at line 1012, column 5)");
    // The whole document counts (the list itself, the config): 990 aliases stay within the bound.
    assert.equal(parse(BASE + `big: &big [${Array<string>(1_000).fill("x").join(", ")}]\nuses:\n` + "  - *big\n".repeat(990)).targets.length, 1);
  });

  it("refuses an alias inside the value it names (a recursive document)", () => {
    assert.deepEqual(problemOf(BASE + "loop: &x [1, *x]\n"), {
      key: "(yaml)",
      message: "the alias *x at line 11, column 14 is inside the value it names (&x at line 11, column 10); a config cannot refer to itself",
    });
  });

  it("refuses an alias whose anchor comes later (yaml threw a ReferenceError here)", () => {
    assert.deepEqual(problemOf(BASE + "a: *later\nb: &later 1\n"), {
      key: "(yaml)",
      message: "the alias *later at line 11, column 4 names no anchor defined before it; add &later to an earlier value",
    });
  });

  it("refuses more than 1,000 anchors", () => {
    const text = BASE + `t: [${Array.from({ length: 1_001 }, (_, i) => `&a${i} ${i}`).join(", ")}]\n`;
    assert.equal(problemOf(text).message, "defines more than 1000 anchors (&name; the one past the limit is &a1000 at line 11, column 10792); write the values out instead");
  });

  it("is a ConfigError through loadConfig too (the CLI prints it, also under --json, instead of an internal error)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-yaml-"));
    try {
      const file = path.join(dir, "config.yml");
      fs.writeFileSync(file, aliasBomb());
      assert.throws(
        () => loadConfig(file, { checkLocalFiles: false }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError && isRepoSyncError(err));
          assert.equal(err.kind, "config");
          assert.match(err.message, /^invalid configuration in .*config\.yml \(1 problem\):\n {2}- \(yaml\): expands to more than 1000000 values/);
          return true;
        },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("config YAML: duplicate keys", () => {
  it("refuses a duplicate top-level key, naming it and both lines", () => {
    assert.deepEqual(problemOf(BASE + "ssh:\n  key_path: /other\n"), {
      key: "(yaml)",
      message: 'Map keys must be unique: "ssh" at the top level appears again at line 11, column 1 (first at line 1, column 1); keep one of them',
    });
  });

  it("refuses a duplicate nested key, naming its path", () => {
    assert.deepEqual(problemOf(BASE + "    vm01: /srv/other\n"), {
      key: "(yaml)",
      message: 'Map keys must be unique: "vm01" under repository.vm_repo_paths appears again at line 11, column 5 (first at line 10, column 5); keep one of them',
    });
  });

  it("reports every duplicate at once, in flow maps and sequences too, and counts 1 and \"1\" as one key", () => {
    const text = BASE + 'other:\n  - { a: 1, b: 2, a: 3 }\n  - ports: { 1: x, "1": y }\n';
    assert.deepEqual(problemsOf(text), [
      { key: "(yaml)", message: 'Map keys must be unique: "a" under other[0] appears again at line 12, column 19 (first at line 12, column 7); keep one of them' },
      { key: "(yaml)", message: 'Map keys must be unique: "1" under other[1].ports appears again at line 13, column 20 (first at line 13, column 14); keep one of them' },
    ]);
  });

  it("accepts the same key in different mappings and a key that overrides a merge", () => {
    // vm01 is under vms and under vm_repo_paths; `name` follows `<<` in every job.
    assert.equal(parse(mergedJobs(3)).targets[0].path, "/srv/app");
  });
});

describe("config YAML: size and time bounds", () => {
  it("refuses text larger than MAX_CONFIG_BYTES before parsing it", () => {
    const text = BASE + "#".repeat(MAX_CONFIG_BYTES - BASE.length) + "\n";
    assert.deepEqual(problemOf(text), { key: "(yaml)", message: "the text is 1048577 bytes; a config larger than 1048576 bytes is refused" });
  });

  // yaml's own duplicate check compared each key with all earlier ones: 60,000 keys took 49 s and
  // 290 MB. The bound is generous for a busy machine (about 1-3 s measured) and far below that.
  it("loads a 900 KB document with 60,000 keys in linear time", function () {
    this.timeout(60_000);
    const text = manyKeys(60_000);
    assert.ok(text.length > 900_000 && text.length < MAX_CONFIG_BYTES, `${text.length} bytes`);
    let config: Config | undefined;
    const ms = timed(() => {
      config = parse(text);
    });
    assert.deepEqual(config?.targets.map((t) => t.vm), ["vm01"]);
    assert.ok(ms < 8_000, `took ${ms} ms`);
  });

  it("refuses 60,000 keys of which 30,000 repeat, keeping every problem but listing 50", function () {
    this.timeout(60_000);
    let err: unknown;
    const ms = timed(() => {
      try {
        parse(manyKeys(60_000, 30_000));
      } catch (e) {
        err = e;
      }
    });
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.problems.length, 30_000);
    assert.equal(err.problems[29_999].message, 'Map keys must be unique: "k029999" under other_tool appears again at line 60011, column 3 (first at line 30011, column 3); keep one of them');
    const lines = err.message.split("\n");
    assert.equal(lines[0], `invalid configuration in ${FILE} (30000 problems):`);
    assert.equal(lines.filter((l) => l.startsWith("  - (yaml): Map keys must be unique")).length, 50);
    assert.equal(lines[51], "  - ... and 29950 more");
    assert.ok(ms < 8_000, `took ${ms} ms`);
  });
});

describe("config YAML: malformed text", () => {
  it("refuses a tab used as indentation", () => {
    assert.deepEqual(problemsOf("ssh:\n\tkey_path: /k\n"), [{ key: "(yaml)", message: "Tabs are not allowed as indentation at line 2, column 1" }]);
  });

  it("refuses an unterminated flow collection", () => {
    assert.deepEqual(problemsOf("vms: {vm01: [\n"), [
      { key: "(yaml)", message: "Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1" },
      { key: "(yaml)", message: "Flow map in block collection must be sufficiently indented and end with a } at line 2, column 1" },
    ]);
  });

  it("refuses binary garbage and several documents", () => {
    assert.deepEqual(problemsOf("\u0000\u0001\u0002: [}\n"), [
      { key: "(yaml)", message: "Flow sequence in block collection must be sufficiently indented and end with a ] at line 1, column 7" },
    ]);
    assert.deepEqual(problemsOf(BASE + "---\nvms: {}\n"), [
      { key: "(yaml)", message: "Source contains multiple documents; please use YAML.parseAllDocuments() at line 11, column 1" },
    ]);
  });

  it("refuses nesting deeper than 100 levels, and a stack overflow in yaml as a ConfigError", () => {
    const nested = (depth: number): string => BASE + "deep: " + "[".repeat(depth) + "]".repeat(depth) + "\n";
    assert.equal(parse(nested(99)).targets.length, 1); // the top-level mapping is level 1
    assert.deepEqual(problemOf(nested(100)), { key: "(yaml)", message: "nests collections more than 100 levels deep (at line 11, column 106); flatten it" });
    // Far deeper, yaml's composer overflows the stack first (where depends on the stack left).
    const problems = problemsOf(nested(20_000));
    assert.ok(problems.length > 0);
    for (const p of problems) {
      assert.equal(p.key, "(yaml)");
      assert.match(p.message, /^Maximum call stack size exceeded at line 11, column \d+; collections are nested too deeply \(at most 100 levels\)$/);
    }
  });

  it("turns an exception from yaml's conversion (a YAML 1.1 merge of a number) into a ConfigError", () => {
    assert.deepEqual(problemsOf("%YAML 1.1\n---\na:\n  <<: 5\n"), [{ key: "(yaml)", message: "cannot be read as YAML: Merge sources must be maps or map aliases" }]);
  });
});
