/**
 * The releases layout's pure choices (rollback target, pruning, parsing the VM's lines), and its script
 * pieces run by /bin/sh on local folders with hostile plantings: a `current` pointing out of the
 * target, a linked `releases`, a linked release folder, a newline in the link, a real `current` folder.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, parseConfigDocument } from "../../lib/config/load";
import { normalizeInputs, validateInputs } from "../../providers/inputs";
import { parseReleases, releasesToPrune, rollbackTarget, type ReleasesView } from "../../lib/target/releases";
import { parseTargetHeader, probeScript, sessionScript } from "../../lib/target/script";

const h = (c: string) => c.repeat(40);
const A = h("a");
const B = h("b");
const C = h("c");
const D = h("d");
const view = (cur: string | undefined, rel: Array<[string, number, boolean?]>): ReleasesView => ({
  current: cur ? { kind: "release", commit: cur } : { kind: "none" },
  releases: rel.map(([commit, stamp, complete]) => ({ commit, stamp, complete: complete !== false })),
});

describe("releases layout (pure)", () => {
  it("parses CURRENT and RELEASE lines, oldest first; anything else is not a release", () => {
    const v = parseReleases(`STATE managed\nCURRENT ${B}\nRELEASE ${B} 200 complete\nRELEASE ${A} 100 complete\nRELEASE ${C} 0 partial\nRELEASE nothex 5 complete\nREV absent\n`);
    assert.deepEqual(v, { current: { kind: "release", commit: B }, releases: [{ commit: C, stamp: 0, complete: false }, { commit: A, stamp: 100, complete: true }, { commit: B, stamp: 200, complete: true }] });
    assert.deepEqual(parseReleases("CURRENT bad\n").current, { kind: "bad", why: "does not point at a release folder (releases/<commit>)" });
    assert.deepEqual(parseReleases("CURRENT notlink\n").current, { kind: "bad", why: "is not a symlink" });
    // Two deploys within one second: nanoseconds order them, not the commit hashes.
    const same = parseReleases(`RELEASE ${A} 1796000754.900000000 complete\nRELEASE ${B} 1796000754.100000000 complete\n`);
    assert.deepEqual(same.releases.map((r) => r.commit), [B, A]);
  });

  const rollbacks: Array<[string, ReleasesView, string | undefined, ReturnType<typeof rollbackTarget>]> = [
    ["the newest complete release older than current", view(C, [[A, 1], [B, 2, false], [C, 3], [D, 4]]), undefined, { commit: A }],
    ["after one rollback, the next goes further back", view(B, [[A, 1], [B, 2], [C, 3]]), undefined, { commit: A }],
    ["--to a unique prefix", view(C, [[A, 1], [C, 3], [D, 4]]), "dddd", { commit: D }],
    ["--to a partial release is refused", view(C, [[B, 2, false], [C, 3]]), "bbbb", { problem: `no complete release bbbb on the VM (kept: ${C.slice(0, 12)})` }],
    ["--to that is not hex", view(C, [[C, 3]]), "HEAD~1", { problem: "--to \"HEAD~1\" is not a commit hash (4 to 40 hex digits)" }],
    ["nothing older", view(A, [[A, 1], [B, 2]]), undefined, { problem: `no complete release older than the current one (${A.slice(0, 12)}) is kept on the VM` }],
    ["no current", view(undefined, [[A, 1]]), undefined, { problem: "the VM serves no release (current is missing or not a release): nothing to roll back from" }],
  ];
  for (const [name, v, to, want] of rollbacks) it(`rollback: ${name}`, () => assert.deepEqual(rollbackTarget(v, to), want));

  it("pruning: the oldest beyond keep and every partial one go; current and previous never", () => {
    const v = view(D, [[A, 1], [B, 2, false], [C, 3], [D, 4]]);
    assert.deepEqual(releasesToPrune(v, D, C, 2), [B, A]);
    assert.deepEqual(releasesToPrune(v, D, C, 3), [B]);
    // After a rollback to A, deploying D: A (previous) is spared even though it is the oldest.
    assert.deepEqual(releasesToPrune(view(D, [[A, 1], [C, 3], [D, 4]]), D, A, 2), [C]);
  });
});

describe("releases layout: bad input is named by its key", () => {
  const load = (repository: Record<string, unknown>) => parseConfigDocument({
    vms: { src: { host: "127.0.0.1", ssh_user: "root" }, vm01: { host: "10.0.0.1", ssh_user: "deploy" } },
    repository: { source_vm: "src", main_repo_path: "/repo", vm_repo_paths: { vm01: "/srv/app" }, ...repository },
  }, "<inline>", { checkLocalFiles: false });
  const problems = (repository: Record<string, unknown>) => {
    try {
      load(repository);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => `${p.key}: ${p.message}`);
      throw err;
    }
    return [];
  };

  it("layout and keep_releases in the YAML", () => {
    assert.deepEqual(problems({ layout: "release" }), ["repository.layout: must be \"in_place\" or \"releases\", got \"release\""]);
    assert.deepEqual(problems({ layout: "releases", keep_releases: 1 }), ["repository.keep_releases: must be an integer from 2 to 100, got a number (1)"]);
    assert.deepEqual(problems({ keep_releases: "5" }), ["repository.keep_releases: must be an integer from 2 to 100, got a string (\"5\")"]);
    const t = load({ layout: "releases" }).targets[0];
    assert.deepEqual([t.layout, t.keepReleases], ["releases", 5]);
    assert.equal(load({}).targets[0].layout, undefined, "in place by default: the resource inputs of existing stacks do not change");
  });

  it("layout and keepReleases as resource inputs (the component or a program of one's own)", () => {
    const base = { vm: "vm01", host: "10.0.0.1", user: "deploy", keyPath: "/k", knownHostsPath: "/kh", path: "/srv/app", repoPath: "/repo", commit: "a".repeat(40) };
    assert.deepEqual(validateInputs(normalizeInputs({ ...base, layout: "blue" })).map((f) => f.reason), ["vm01: must be \"in_place\" or \"releases\", got \"blue\""]);
    assert.deepEqual(validateInputs(normalizeInputs({ ...base, layout: "releases", keepReleases: 1 })).map((f) => f.reason), ["vm01: 1 is not a whole number from 2 to 100"]);
    assert.equal(normalizeInputs({ ...base, layout: "in_place" }).layout, undefined);
  });
});

describe("releases layout: the scripts under /bin/sh", () => {
  let dir: string;
  let t: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-releases-"));
    t = path.join(dir, "t");
    fs.mkdirSync(t);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sh = (script: string, input = "") => spawnSync("/bin/sh", ["-c", script], { input, encoding: "utf8" });
  const session = (input: string) => sh(sessionScript(t, 0, "releases"), `go - -\n${input}`);
  const probe = () => parseTargetHeader(sh(probeScript(t, "releases")).stdout);

  it("prepare, release, switch: current is a relative link to a complete release; a partial one cannot be switched to", () => {
    const r = session(`prepare ${A}\nrelease ${A}\nswitch ${A}\nprepare ${B}\nswitch ${B}\n`);
    assert.deepEqual(r.stdout.split("\n").filter((l) => l === "OK" || l.startsWith("ERR")), ["OK", "OK", "OK", "OK", "ERR incomplete"]);
    assert.equal(fs.readlinkSync(path.join(t, "current")), `releases/${A}`);
    const p = probe();
    assert.deepEqual([p.revision, p.releases?.current, p.releases?.releases.map((x) => [x.commit, x.complete])], [A, { kind: "release", commit: A }, [[B, false], [A, true]]]);
  });

  it("drop never removes the current release; a bad hash never reaches a path", () => {
    const r = session(`prepare ${A}\nrelease ${A}\nswitch ${A}\ndrop ${A}\nswitch ../../x\nprepare ${A.slice(0, 39)}\n`);
    assert.deepEqual(r.stdout.split("\n").filter((l) => l === "OK" || l.startsWith("ERR")), ["OK", "OK", "OK", "ERR dropcurrent", "ERR badrev", "ERR badrev"]);
    assert.ok(fs.existsSync(path.join(t, "releases", A, ".sync_rev")));
  });

  const planted: Array<[string, () => void, string]> = [
    ["current pointing out of the target", () => fs.symlinkSync("/etc", path.join(t, "current")), "bad"],
    ["current with a newline after the release", () => {
      fs.mkdirSync(path.join(t, "releases", A), { recursive: true });
      fs.writeFileSync(path.join(t, "releases", A, ".sync_rev"), `${A}\n`);
      fs.symlinkSync(`releases/${A}\n`, path.join(t, "current"));
    }, "bad"],
    ["a linked releases folder", () => {
      fs.mkdirSync(path.join(dir, "elsewhere", A), { recursive: true });
      fs.writeFileSync(path.join(dir, "elsewhere", A, ".sync_rev"), `${A}\n`);
      fs.symlinkSync(path.join(dir, "elsewhere"), path.join(t, "releases"));
      fs.symlinkSync(`releases/${A}`, path.join(t, "current"));
    }, "bad"],
    ["a linked release folder", () => {
      fs.mkdirSync(path.join(dir, "elsewhere"), { recursive: true });
      fs.mkdirSync(path.join(t, "releases"));
      fs.symlinkSync(path.join(dir, "elsewhere"), path.join(t, "releases", A));
      fs.symlinkSync(`releases/${A}`, path.join(t, "current"));
    }, "bad"],
    ["a real current folder", () => fs.mkdirSync(path.join(t, "current")), "notlink"],
  ];
  for (const [name, plant, want] of planted) {
    it(`${name}: current serves no release, and nothing is written through it`, () => {
      plant();
      const p = probe();
      assert.equal(p.releases?.current.kind, "bad", JSON.stringify(p));
      assert.equal(p.revision, undefined);
      assert.equal(sh(probeScript(t, "releases")).stdout.includes(`CURRENT ${want}`), true);
      if (name === "a linked releases folder") {
        const r = session(`prepare ${B}\ndrop ${C}\n`);
        assert.deepEqual(r.stdout.split("\n").filter((l) => l.startsWith("ERR") || l === "OK"), ["ERR prepare", "ERR drop"]);
        assert.deepEqual(fs.readdirSync(path.join(dir, "elsewhere")), [A], "nothing created or removed behind the link");
      }
    });
  }

  it("a real current folder is never replaced by a switch", () => {
    fs.mkdirSync(path.join(t, "current"));
    fs.writeFileSync(path.join(t, "current", "keep"), "x");
    const r = session(`prepare ${A}\nrelease ${A}\nswitch ${A}\n`);
    assert.match(r.stdout, /ERR currentnotlink/);
    assert.equal(fs.readFileSync(path.join(t, "current", "keep"), "utf8"), "x");
  });

  it("an in-place tree is flagged to a releases run, and a releases tree to an in-place run", () => {
    fs.writeFileSync(path.join(t, ".sync_rev"), `${A}\n`);
    assert.equal(probe().otherLayout, "in_place");
    fs.rmSync(path.join(t, ".sync_rev"));
    session(`prepare ${A}\n`);
    assert.equal(parseTargetHeader(sh(probeScript(t)).stdout).otherLayout, "releases");
  });
});
