/**
 * Shared paths of the releases layout (lib/target/shared.ts): which `rsync_excludes` entries can be
 * shared (a table), the rsync excludes and links they become, and the share/unshare steps run by
 * /bin/sh on local folders with hostile plantings: a linked `shared`, a linked folder on the way in the
 * release, an excluded path that is a link out of the target, names with spaces and quotes.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, parseConfigDocument } from "../../lib/config/load";
import type { Target } from "../../lib/config/types";
import { sessionScript } from "../../lib/target/script";
import { releaseExcludes, sharedLinkTarget } from "../../lib/target/shared";
import { sharedPathProblem, sharedPathsProblems, usableSharedPaths } from "../../lib/config/sharedPaths";
import { rsyncPushArgs } from "../../lib/transfer/rsyncArgs";
import { normalizeInputs, validateInputs } from "../../providers/inputs";

const A = "a".repeat(40);
const B = "b".repeat(40);
const ODD = `data dir/it's "here"`;

describe("shared paths (pure)", () => {
  const table: Array<[string, RegExp | undefined]> = [
    ["uploads/", undefined], [".env", undefined], ["/config/local.yml", undefined], [ODD, undefined], ["/storage/", undefined],
    ["*.log", /is a pattern/], ["logs/**", /is a pattern/], ["file[12]", /is a pattern/], ["a\\b", /is a pattern/], ["what?", /is a pattern/],
    ["../up", /`\.\.` component/], ["a/../b", /`\.\.` component/], ["/", /empty/], ["a//b", /empty/], ["./x", /`\.`/],
    [".sync_rev", /own names/], ["/.repo-sync.x/", /own names/],
  ];
  for (const [entry, want] of table) {
    it(`${JSON.stringify(entry)}: ${want ? "refused" : "a shared path"}`, () => {
      const why = sharedPathProblem(entry);
      if (want) assert.match(why ?? "", want);
      else assert.equal(why, undefined);
    });
  }

  it("nested or repeated entries are refused on the inner (or later) one; patterns are left out where in place allows them", () => {
    assert.deepEqual(sharedPathsProblems(["config/", "/config/local.yml", "uploads", "/uploads/"]).map((p) => [p.index, p.reason.slice(0, 40)]), [
      [1, 'is inside (or the same path as) entry 0 '], [3, 'is inside (or the same path as) entry 2 '],
    ]);
    assert.deepEqual(usableSharedPaths(["uploads/", "*.log", "/.env"]), ["uploads", ".env"]);
  });

  it("a transfer into a release excludes each shared path anchored and without its trailing slash (the link is kept); in place, patterns as written", () => {
    assert.deepEqual(releaseExcludes(["uploads/", ".env", "/config/local.yml"]), ["/uploads", "/.env", "/config/local.yml"]);
    const t: Target = { vm: "vm01", host: "10.0.0.1", port: 22, user: "d", keyPath: "/k", knownHostsPath: "/kh", connectTimeoutS: 5, acceptNewHostKeys: false, path: "/srv/app" };
    const spec = { sourceDir: "/tree", excludes: ["uploads/", ".env"], excludeDotGit: false, ioTimeoutS: 30 };
    const ex = (a: string[]) => a.filter((x) => x.startsWith("--exclude=") && !x.includes(".sync_rev") && !x.includes(".repo-sync"));
    assert.deepEqual(ex(rsyncPushArgs(t, { ...spec, destination: `releases/${A}` })), ["--exclude=/uploads", "--exclude=/.env"]);
    assert.deepEqual(ex(rsyncPushArgs(t, spec)), ["--exclude=uploads/", "--exclude=.env"]);
    assert.throws(() => rsyncPushArgs(t, { ...spec, excludes: ["*.log"], destination: `releases/${A}` }), /rsync_excludes\[0\]: "\*\.log" is a pattern/);
  });

  it("the link in a release is relative, up to the target directory and down into shared/", () => {
    assert.equal(sharedLinkTarget(".env"), "../../shared/.env");
    assert.equal(sharedLinkTarget("config/local.yml"), "../../../shared/config/local.yml");
  });

  it("the YAML and the resource inputs refuse a pattern only with layout: releases, naming the key", () => {
    const load = (repository: Record<string, unknown>) => {
      try {
        parseConfigDocument({
          vms: { src: { host: "127.0.0.1", ssh_user: "root" }, vm01: { host: "10.0.0.1", ssh_user: "deploy" } },
          repository: { source_vm: "src", main_repo_path: "/repo", vm_repo_paths: { vm01: "/srv/app" }, ...repository },
        }, "<inline>", { checkLocalFiles: false });
        return [];
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.map((p) => p.key);
        throw err;
      }
    };
    assert.deepEqual(load({ rsync_excludes: ["uploads/", "*.log"] }), []);
    assert.deepEqual(load({ layout: "releases", rsync_excludes: ["uploads/", "*.log", "../x"] }), ["repository.rsync_excludes[1]", "repository.rsync_excludes[2]"]);
    const base = { vm: "vm01", host: "10.0.0.1", user: "deploy", keyPath: "/k", knownHostsPath: "/kh", path: "/srv/app", repoPath: "/repo", commit: A };
    assert.deepEqual(validateInputs(normalizeInputs({ ...base, layout: "releases", excludes: ["uploads/", "*.log"] })).map((f) => f.property), ["excludes[1]"]);
    assert.deepEqual(validateInputs(normalizeInputs({ ...base, excludes: ["*.log"] })), []);
  });
});

describe("shared paths: the share and unshare steps under /bin/sh", () => {
  let dir: string;
  let t: string;
  let outside: string;
  const shared = ["uploads", ".env", "config/local.yml", ODD];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-shared-"));
    t = path.join(dir, "t");
    outside = path.join(dir, "outside");
    fs.mkdirSync(t);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, "keep"), "outside\n");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const session = (input: string, migrate = false) => spawnSync("/bin/sh", ["-c", sessionScript(t, 0, "releases", migrate, shared)], { input: `go - -\n${input}`, encoding: "utf8" }).stdout;
  const answers = (out: string) => out.split("\n").filter((l) => l === "OK" || l.startsWith("ERR") || l.startsWith("KEPT"));
  const release = (c: string, files: Record<string, string> = {}) => {
    session(`prepare ${c}\n`);
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(t, "releases", c, rel)), { recursive: true });
      fs.writeFileSync(path.join(t, "releases", c, rel), content);
    }
  };
  const read = (rel: string) => fs.readFileSync(path.join(t, rel), "utf8");
  const outsideUntouched = () => assert.deepEqual(fs.readdirSync(outside), ["keep"], "nothing written outside the target");

  it("the first time, a release's own data moves to shared/ and links take its place; again it is a no-op; a release without the data only links what exists", () => {
    release(A, { "uploads/a.jpg": "a\n", ".env": "E=1\n", "config/local.yml": "db\n", [`${ODD}/x y`]: "odd\n", "src/app.py": "code\n" });
    assert.deepEqual(answers(session(`release ${A}\nswitch ${A}\nshare ${A}\nshare ${A}\n`)), ["OK", "OK", "OK", "OK"]);
    for (const rel of shared) assert.equal(fs.readlinkSync(path.join(t, "releases", A, rel)), sharedLinkTarget(rel), rel);
    assert.deepEqual([read("current/uploads/a.jpg"), read("current/.env"), read("current/config/local.yml"), read(`current/${ODD}/x y`)], ["a\n", "E=1\n", "db\n", "odd\n"]);
    assert.equal(read("shared/uploads/a.jpg"), "a\n");
    // A new release (no config/ in its commit) links every shared path, making the folder on the way.
    release(B, { "src/app.py": "code 2\n" });
    assert.deepEqual(answers(session(`share ${B}\n`)), ["OK"]);
    assert.equal(read(`releases/${B}/config/local.yml`), "db\n");
    // Pruning a release removes its links, never the data.
    assert.deepEqual(answers(session(`drop ${B}\n`)), ["OK"]);
    assert.equal(read("shared/config/local.yml"), "db\n");
  });

  it("nothing shared yet: no link is made (repo-sync never creates the service's data)", () => {
    release(A, { "src/app.py": "code\n" });
    assert.deepEqual(answers(session(`share ${A}\n`)), ["OK"]);
    assert.deepEqual(fs.readdirSync(path.join(t, "releases", A)).sort(), ["src"]);
    assert.equal(fs.existsSync(path.join(t, "shared")), false);
  });

  it("a release's own copy where shared/ has the data already is moved aside, never deleted", () => {
    release(A, { "uploads/new.jpg": "shared\n" });
    session(`share ${A}\n`);
    release(B, { "uploads/old.jpg": "stale copy\n" });
    const out = answers(session(`share ${B}\n`));
    assert.equal(out.length, 2, out.join(" | "));
    assert.match(out[0], /^KEPT \.repo-sync\.displaced\.\w{6}$/);
    assert.equal(out[1], "OK");
    assert.equal(read(`${out[0].slice(5)}/uploads/old.jpg`), "stale copy\n");
    assert.equal(read(`releases/${B}/uploads/new.jpg`), "shared\n");
  });

  it("an excluded path that is a link out of the target moves as a link: nothing is written through it", () => {
    release(A);
    fs.symlinkSync(outside, path.join(t, "releases", A, "uploads"));
    fs.symlinkSync(path.join(outside, "keep"), path.join(t, "releases", A, ".env"));
    assert.deepEqual(answers(session(`share ${A}\n`)), ["OK"]);
    assert.equal(fs.readlinkSync(path.join(t, "shared", "uploads")), outside);
    assert.equal(fs.readlinkSync(path.join(t, "shared", ".env")), path.join(outside, "keep"));
    assert.equal(fs.readFileSync(path.join(outside, "keep"), "utf8"), "outside\n");
    outsideUntouched();
  });

  const hostile: Array<[string, () => void]> = [
    ["shared/ is a link out of the target", () => fs.symlinkSync(outside, path.join(t, "shared"))],
    ["a folder on the way in shared/ is a link", () => {
      fs.mkdirSync(path.join(t, "shared"));
      fs.symlinkSync(outside, path.join(t, "shared", "config"));
    }],
    ["a folder on the way in the release is a link (a commit's config -> /etc)", () => fs.symlinkSync(outside, path.join(t, "releases", A, "config"))],
  ];
  for (const [name, plant] of hostile) {
    it(`${name}: refused (ERR share), nothing made or moved through it`, () => {
      release(A, { "config/local.yml": "db\n" });
      if (name.includes("in the release")) fs.rmSync(path.join(t, "releases", A, "config"), { recursive: true });
      plant();
      assert.deepEqual(answers(session(`share ${A}\n`)).at(-1), "ERR share");
      outsideUntouched();
    });
  }

  it("migrate: adopt then share moves an in-place tree's own data to shared/; flatten brings it back where the links were", () => {
    fs.writeFileSync(path.join(t, ".sync_rev"), `${A}\n`);
    fs.mkdirSync(path.join(t, "uploads"));
    fs.writeFileSync(path.join(t, "uploads", "a.jpg"), "a\n");
    fs.writeFileSync(path.join(t, ".env"), "E=1\n");
    fs.writeFileSync(path.join(t, "app.py"), "code\n");
    assert.deepEqual(answers(session(`adopt ${A}\nshare ${A}\n`, true)), ["OK", "OK"]);
    assert.equal(read("current/uploads/a.jpg"), "a\n");
    assert.equal(fs.readlinkSync(path.join(t, "releases", A, ".env")), "../../shared/.env");
    const back = answers(session(`flatten ${A}\n`, true));
    assert.equal(back.at(-1), "OK");
    assert.equal(fs.lstatSync(path.join(t, "uploads")).isDirectory(), true);
    assert.deepEqual([read("uploads/a.jpg"), read(".env"), read("app.py")], ["a\n", "E=1\n", "code\n"]);
    assert.equal(fs.existsSync(path.join(t, "shared")), false, "shared/ went with the kept releases");
  });
});
