/**
 * The pure parts of rollouts: wave planning (Ansible's `serial`), the failure limit (stated exactly:
 * more than N), the settings' validation named by key, the health check's remote script (quoted, run
 * here by /bin/sh), and the audit trail: its line, its parser, and the session's `log` command and the
 * read script under /bin/sh on local folders (planted links, the size bound).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, parseConfigDocument } from "../../lib/config/load";
import type { Amount, Target } from "../../lib/config/types";
import { healthCheckScript } from "../../lib/sync/healthCheck";
import { allowedFailures, planWaves, tooManyFailures, waveSizes } from "../../lib/sync/waves";
import { parseAmount } from "../../lib/config/amount";
import { HISTORY_KEEP_LINES, HISTORY_READ_BYTES, historyLine, parseHistory, parseHistoryLine, type HistoryEntry } from "../../lib/target/history";
import { historyReadScript, sessionScript } from "../../lib/target/script";

const A = (...sizes: Array<number | string>): Amount[] => sizes.map((s) => (typeof s === "number" ? { count: s } : { percent: Number(s.slice(0, -1)) }));
const HASH = "0123456789abcdef0123456789abcdef01234567";
const HASH2 = "89abcdef0123456789abcdef0123456789abcdef";

describe("rollouts: waves, failure limit, settings, health check script, audit trail", () => {
  describe("waves, as Ansible's serial", () => {
    const table: Array<[string, Amount[], number, number[]]> = [
      ["the issue's [1, 2, 100%] over 6", A(1, 2, "100%"), 6, [1, 2, 3]],
      ["the last size repeats", A(1, 2), 7, [1, 2, 2, 2]],
      ["a percentage is of all VMs, rounded down", A("30%"), 10, [3, 3, 3, 1]],
      ["pct_to_int('12%', 60) is 7 (Ansible's own comment)", A("12%"), 60, [7, 7, 7, 7, 7, 7, 7, 7, 4]],
      ["a percentage that rounds to 0 is 1", A("10%"), 3, [1, 1, 1]],
      ["Ansible docs' [1, 5, 10] over 20", A(1, 5, 10), 20, [1, 5, 10, 4]],
      ["a size larger than what is left takes the rest", A(4), 3, [3]],
      ["100% is one wave", A("100%"), 5, [5]],
      ["mixed: [1, 25%] over 8", A(1, "25%"), 8, [1, 2, 2, 2, 1]],
      ["no VMs, no waves", A(1, 2), 0, []],
    ];
    for (const [name, sizes, total, want] of table) it(name, () => assert.deepEqual(waveSizes(sizes, total), want));

    it("planWaves keeps the order and cuts the list by those sizes", () => {
      assert.deepEqual(planWaves(["a", "b", "c", "d", "e", "f"], A(1, 2, "100%")), [["a"], ["b", "c"], ["d", "e", "f"]]);
    });
  });

  describe("the failure limit: the rollout stops when MORE than N fail", () => {
    const table: Array<[Amount, number, number, boolean]> = [
      [{ count: 0 }, 0, 3, false],
      [{ count: 0 }, 1, 3, true],
      [{ count: 1 }, 1, 2, false],
      [{ count: 1 }, 2, 2, true],
      // A whole wave failing does not stop it when the limit allows that many (Ansible would stop).
      [{ count: 5 }, 1, 1, false],
      // max_fail_percentage 30 over 10: 3 failures are not more than 30%, 4 are.
      [{ percent: 30 }, 3, 10, false],
      [{ percent: 30 }, 4, 10, true],
      // 34% of 3 is 1.02: one failure is within, two are not.
      [{ percent: 34 }, 1, 3, false],
      [{ percent: 34 }, 2, 3, true],
      [{ percent: 0 }, 1, 10, true],
      [{ percent: 100 }, 10, 10, false],
      [{ percent: 50 }, 1, 2, false],
      [{ percent: 50 }, 1, 1, true],
    ];
    for (const [limit, failed, size, stop] of table) {
      it(`${"count" in limit ? limit.count : `${limit.percent}%`}: ${failed} of ${size} failed -> ${stop ? "stop" : "go on"}`, () => {
        assert.equal(tooManyFailures(failed, size, limit), stop);
        // Stated as a count: the same rule.
        assert.equal(failed > allowedFailures(limit, size), stop);
        if ("percent" in limit) assert.equal(failed * 100 > limit.percent * size, stop, "Ansible's failed / size > pct");
      });
    }
  });

  describe("amounts as written", () => {
    const wave = { minCount: 1, minPercent: 1 };
    const table: Array<[unknown, Amount | RegExp]> = [
      [1, { count: 1 }],
      ["25%", { percent: 25 }],
      ["100%", { percent: 100 }],
      [0, /from 1 .*got 0$/],
      [-2, /got -2$/],
      [1.5, /got 1\.5$/],
      ["0%", /got "0%"$/],
      ["101%", /got "101%"$/],
      ["12.5%", /got "12\.5%"$/],
      ["2", /got a string \("2"\): write a number without quotes$/],
      ["half", /got "half"$/],
      [null, /got null$/],
      [[1], /got a list$/],
      [true, /got a boolean$/],
    ];
    for (const [v, want] of table) {
      it(JSON.stringify(v), () => {
        const got = parseAmount(v, wave);
        if (want instanceof RegExp) assert.match("problem" in got ? got.problem : "accepted", want);
        else assert.deepEqual(got, want);
      });
    }
    it("a failure limit may be 0 or 0%", () => {
      assert.deepEqual(parseAmount(0, { minCount: 0, minPercent: 0 }), { count: 0 });
      assert.deepEqual(parseAmount("0%", { minCount: 0, minPercent: 0 }), { percent: 0 });
    });
  });

  describe("settings, named by key", () => {
    const doc = (repository: Record<string, unknown>, vm01: Record<string, unknown> = {}) => ({
      ssh: { key_path: "/k/id", known_hosts_path: "/k/kh" },
      vms: { vm01: { host: "10.0.0.1", ssh_user: "deploy", ...vm01 }, vm02: { host: "10.0.0.2", ssh_user: "deploy" } },
      repository: { main_repo_path: "/src/repo", vm_repo_paths: { vm01: "/srv/app/a", vm02: "/srv/app/b" }, layout: "releases", ...repository },
    });
    const parse = (d: unknown, naming: "yaml" | "camel" = "yaml") => parseConfigDocument(d, "<inline>", { homeDir: "/home/u", baseDir: "/", checkLocalFiles: false, naming });
    const problems = (d: unknown, naming: "yaml" | "camel" = "yaml"): string[] => {
      try {
        parse(d, naming);
        return [];
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        return err.problems.map((p) => `${p.key}: ${p.message}`);
      }
    };

    it("defaults: one wave of all, nothing may fail, no bake, stop; a check's timeout, retries, interval", () => {
      const c = parse(doc({ rollout: {}, health_check: { command: "curl -fsS localhost:8080/health" } }));
      assert.deepEqual(c.repository.rollout, { waves: [{ percent: 100 }], maxFailures: { count: 0 }, bakeS: 0, onFailure: "stop" });
      assert.deepEqual(c.repository.healthCheck, { command: "curl -fsS localhost:8080/health", timeoutS: 30, retries: 2, intervalS: 5 });
      const none = parse(doc({}));
      assert.equal("rollout" in none.repository || "healthCheck" in none.repository, false, "left out: no rollout, no check");
    });

    it("a VM's own check replaces the repository's; one size may be written without a list", () => {
      const c = parse(doc({ rollout: { waves: "50%", max_failures: "10%", bake_s: 60, on_failure: "rollback" }, health_check: { command: "true" } }, { health_check: { command: "test -f ok", retries: 0 } }));
      assert.deepEqual(c.repository.rollout, { waves: [{ percent: 50 }], maxFailures: { percent: 10 }, bakeS: 60, onFailure: "rollback" });
      assert.deepEqual(c.vms.vm01.healthCheck, { command: "test -f ok", timeoutS: 30, retries: 0, intervalS: 5 });
      assert.equal(c.vms.vm02.healthCheck, undefined);
    });

    it("every bad value is named by its key, all at once", () => {
      assert.deepEqual(problems(doc({ layout: "in_place", rollout: { waves: [1, 0, "150%", "x", "3"], max_failures: -1, bake_s: "5", on_failure: "undo", serial: 2 }, health_check: { timeout_s: 0 } }, { health_check: { command: "" } })), [
        'vms.vm01.health_check.command: must be a non-empty string, got a string ("")',
        "repository.rollout.serial: is not a known key; known: waves, max_failures, bake_s, on_failure",
        "repository.rollout.waves[1]: must be a whole number of VMs from 1 or a whole percentage from 1% to 100%, got 0",
        'repository.rollout.waves[2]: must be a whole number of VMs from 1 or a whole percentage from 1% to 100%, got "150%"',
        'repository.rollout.waves[3]: must be a whole number of VMs from 1 or a whole percentage from 1% to 100%, got "x"',
        'repository.rollout.waves[4]: must be a whole number of VMs from 1 or a whole percentage from 1% to 100%, got a string ("3"): write a number without quotes',
        "repository.rollout.max_failures: must be a whole number of VMs from 0 or a whole percentage from 0% to 100%, got -1",
        'repository.rollout.bake_s: must be an integer from 0 to 86400, got a string ("5")',
        'repository.rollout.on_failure: must be "stop" or "rollback", got "undo"',
        "repository.health_check.command: is missing",
        "repository.health_check.timeout_s: must be an integer from 1 to 3600, got a number (0)",
      ]);
    });

    it("rollback without the releases layout is refused (in place nothing is kept); an empty wave list too", () => {
      assert.deepEqual(problems(doc({ layout: "in_place", rollout: { on_failure: "rollback" } })), ["repository.rollout.on_failure: rollback needs repository.layout: releases; in place nothing is kept to go back to (set layout: releases, or on_failure: stop)"]);
      assert.deepEqual(problems(doc({ rollout: { waves: [] } })), ['repository.rollout.waves: is an empty list; give at least one wave size (e.g. [1, "100%"])']);
      assert.deepEqual(problems(doc({ rollout: "serial" })), ['repository.rollout: must be a mapping, got a string ("serial")']);
    });

    it("typed arguments: the same rules, camelCase names", () => {
      const typed = {
        ssh: { keyPath: "/k/id", knownHostsPath: "/k/kh" },
        vms: { vm01: { host: "10.0.0.1", sshUser: "deploy", healthCheck: { command: "true", intervalS: -1 } } },
        repository: { mainRepoPath: "/src/repo", vmRepoPaths: { vm01: "/srv/app/a" }, rollout: { waves: [0], onFailure: "rollback", bakeS: 1 } },
      };
      assert.deepEqual(problems(typed, "camel"), [
        "vms.vm01.healthCheck.intervalS: must be an integer from 0 to 3600, got a number (-1)",
        "repository.rollout.waves[0]: must be a whole number of VMs from 1 or a whole percentage from 1% to 100%, got 0",
        "repository.rollout.onFailure: rollback needs repository.layout: releases; in place nothing is kept to go back to (set layout: releases, or onFailure: stop)",
      ]);
    });
  });

  describe("the health check's remote script", () => {
    const target = (p: string, layout?: "releases"): Target => ({ vm: "vm01", host: "h", port: 22, user: "u", keyPath: "/k", knownHostsPath: "/kh", connectTimeoutS: 5, acceptNewHostKeys: false, path: p, ...(layout ? { layout } : {}) });
    const check = (command: string, timeoutS = 5) => ({ command, timeoutS, retries: 0, intervalS: 0 });
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-health-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("quotes the folder; the user's command is the only shell code; a malformed revision is refused", () => {
      const s = healthCheckScript(target("/srv/it's $(x)", "releases"), check("curl -f localhost"), HASH);
      assert.equal(s, [
        `cd -- '/srv/it'\\''s $(x)/releases/${HASH}' || exit 125`,
        `REPO_SYNC_REVISION=${HASH}; export REPO_SYNC_REVISION`,
        `REPO_SYNC_RELEASE='/srv/it'\\''s $(x)/releases/${HASH}'; export REPO_SYNC_RELEASE`,
        "out=$(case ${TMPDIR-} in (/*) mktemp 2>/dev/null ;; (*) false ;; esac) || out=$(TMPDIR=/tmp mktemp) || exit 125",
        "if command -v timeout >/dev/null 2>&1; then timeout -k 5 5 /bin/sh -c 'curl -f localhost' >\"$out\" 2>&1 </dev/null; " +
          "else /bin/sh -c 'curl -f localhost' >\"$out\" 2>&1 </dev/null; fi",
        "rc=$?",
        "tail -c 65536 -- \"$out\" >&2",
        "rm -f -- \"$out\"",
        "exit \"$rc\"",
      ].join("\n"));
      assert.throws(() => healthCheckScript(target("/srv/a"), check("true"), "HEAD; rm -rf /"), /malformed revision/);
    });

    it("run by /bin/sh: in the served folder, with the revision and release set; odd names stay literal; exit codes pass through", () => {
      const base = path.join(dir, "a b;touch PWNED'$(touch PWNED2)");
      const rel = path.join(base, "releases", HASH);
      fs.mkdirSync(rel, { recursive: true });
      const out = path.join(dir, "seen");
      const r = spawnSync("/bin/sh", ["-c", healthCheckScript(target(base, "releases"), check(`printf '%s|%s|%s' "$REPO_SYNC_REVISION" "$(pwd -P)" "$REPO_SYNC_RELEASE" > ${JSON.stringify(out)}; exit 7`), HASH)], { cwd: dir, encoding: "utf8" });
      assert.equal(r.status, 7, r.stderr);
      assert.equal(fs.readFileSync(out, "utf8"), `${HASH}|${fs.realpathSync(rel)}|${rel}`);
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith("PWNED")), []);
      // In place: the target folder itself, no release variable.
      fs.mkdirSync(path.join(dir, "flat"));
      const flat = spawnSync("/bin/sh", ["-c", healthCheckScript(target(path.join(dir, "flat")), check(`test "$(pwd -P)" = ${JSON.stringify(fs.realpathSync(path.join(dir, "flat")))} && test -z "$REPO_SYNC_RELEASE"`), HASH)], { encoding: "utf8" });
      assert.equal(flat.status, 0, flat.stderr);
      // A folder that is not there: 125, the check never runs.
      assert.equal(spawnSync("/bin/sh", ["-c", healthCheckScript(target(path.join(dir, "gone")), check(`touch ${JSON.stringify(path.join(dir, "ran"))}`), HASH)]).status, 125);
      assert.equal(fs.existsSync(path.join(dir, "ran")), false);
    });

    it("a check that leaves a background job holding its output ends when the command does; its output is kept (on stderr)", () => {
      fs.mkdirSync(path.join(dir, "bg"));
      const started = Date.now();
      const r = spawnSync("/bin/sh", ["-c", healthCheckScript(target(path.join(dir, "bg")), check("sleep 20 & echo started; echo oops >&2; exit 0", 30), HASH)], { encoding: "utf8", env: { ...process.env, TMPDIR: dir } });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms: the job held the channel`);
      assert.equal(r.stderr, "started\noops\n");
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith("tmp.")), [], "the temp file is removed");
    });

    it("the login environment's TMPDIR: a missing one does not fail the check, a relative one puts no file in the served tree", () => {
      const served = path.join(dir, "served");
      fs.mkdirSync(path.join(served, "tmp"), { recursive: true });
      const run = (tmpdir: string) => spawnSync("/bin/sh", ["-c", healthCheckScript(target(served), check("ls -A . tmp"), HASH)], { cwd: served, encoding: "utf8", env: { ...process.env, TMPDIR: tmpdir } });
      const missing = run(path.join(dir, "gone"));
      assert.equal(missing.status, 0, missing.stderr);
      for (const rel of [".", "tmp", ""]) {
        const r = run(rel);
        assert.equal(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /tmp\./, `TMPDIR=${JSON.stringify(rel)}: the check saw its own output file`);
      }
      assert.deepEqual(fs.readdirSync(served).concat(fs.readdirSync(path.join(served, "tmp"))), ["tmp"], "nothing left in the tree");
    });

    it("the VM's timeout ends a check that outlives timeout_s, with its children (exit 124)", () => {
      fs.mkdirSync(path.join(dir, "t"));
      const started = Date.now();
      const r = spawnSync("/bin/sh", ["-c", healthCheckScript(target(path.join(dir, "t")), check("sleep 20 & sleep 20", 1), HASH)], { encoding: "utf8" });
      assert.equal(r.status, 124);
      assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
    });
  });

  describe("the audit trail", () => {
    const entry = (n: number, over: Partial<HistoryEntry> = {}): HistoryEntry => ({ time: `2030-01-01T00:00:${String(n % 60).padStart(2, "0")}.000Z`, event: "deploy", commit: HASH, previous: HASH2, by: "ops@laptop", result: "ok", ...over });

    it("a line is one JSON object without a line break, and reads back as the entry", () => {
      const e = entry(1, { by: "o'p\ns@host\r\u0000x", detail: "wave 2\nfailed" });
      const line = historyLine(e);
      assert.equal(/[\n\r\0]/.test(line), false, line);
      assert.deepEqual(parseHistoryLine(line), e);
      const { previous: _none, ...check } = entry(2, { event: "health-check", result: "failed" });
      assert.deepEqual(parseHistoryLine(historyLine(check)), check);
      for (const bad of ["", "not json", "[]", JSON.stringify({ ...entry(1), commit: "HEAD" }), JSON.stringify({ ...entry(1), event: "deleted-everything" }), JSON.stringify({ ...entry(1), previous: 5 })]) {
        assert.equal(parseHistoryLine(bad), undefined, bad);
      }
    });

    it("the read answer: none, a planted link, a file with lines repo-sync did not write", () => {
      assert.deepEqual(parseHistory("LOG none"), { state: "none", entries: [], unreadable: 0 });
      assert.deepEqual(parseHistory("LOG symlink"), { state: "symlink", entries: [], unreadable: 0 });
      const text = `${historyLine(entry(1))}\nREADY\n${historyLine(entry(2))}\n`;
      assert.deepEqual(parseHistory(`LOG hex:${Buffer.from(text).toString("hex")}`), { state: "file", entries: [entry(1), entry(2)], unreadable: 1 });
    });

    describe("run by /bin/sh", () => {
      let dir: string;
      let t: string;
      beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-history-"));
        t = path.join(dir, "t");
      });
      afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
      const session = (input: string) => spawnSync("/bin/sh", ["-c", sessionScript(t, 0)], { input: `go\n${input}`, encoding: "utf8" });
      const read = () => parseHistory(spawnSync("/bin/sh", ["-c", historyReadScript(t)], { encoding: "utf8" }).stdout);

      it("log appends under the lock; the trail reads back whole, keeps the last lines only, and leaves no temp file", () => {
        const n = HISTORY_KEEP_LINES + 5;
        const r = session(Array.from({ length: n }, (_, i) => `log ${historyLine(entry(i))}\n`).join(""));
        assert.equal(r.stdout.split("\n").filter((l) => l === "OK").length, n, r.stdout + r.stderr);
        const h = read();
        assert.equal(h.entries.length, HISTORY_KEEP_LINES);
        assert.deepEqual(h.entries[h.entries.length - 1], entry(n - 1));
        assert.deepEqual(h.entries[0], entry(5));
        assert.deepEqual(fs.readdirSync(t).filter((f) => f.startsWith(".repo-sync.tmp.")), [], "no temp file left");
        assert.equal(fs.statSync(path.join(t, ".repo-sync.log")).mode & 0o777, 0o644);
      });

      it("a planted link is neither read nor written through: it is replaced; a planted folder is an error", () => {
        fs.mkdirSync(t);
        fs.writeFileSync(path.join(dir, "secret"), "root:x:0:0\n");
        fs.symlinkSync(path.join(dir, "secret"), path.join(t, ".repo-sync.log"));
        assert.equal(read().state, "symlink");
        assert.match(session(`log ${historyLine(entry(1))}\n`).stdout, /READY\nOK\n/);
        assert.equal(fs.readFileSync(path.join(dir, "secret"), "utf8"), "root:x:0:0\n");
        assert.equal(fs.lstatSync(path.join(t, ".repo-sync.log")).isFile(), true);
        assert.deepEqual(read(), { state: "file", entries: [entry(1)], unreadable: 0 });
        fs.rmSync(path.join(t, ".repo-sync.log"));
        fs.mkdirSync(path.join(t, ".repo-sync.log"));
        assert.match(session(`log ${historyLine(entry(2))}\n`).stdout, /READY\nERR log\n/);
        assert.equal(read().state, "notfile");
        assert.deepEqual(fs.readdirSync(t).filter((n) => n.startsWith(".repo-sync.tmp.")), [], "no temp file left");
      });

      it("a hard link at the trail's name is neither shown nor copied into the new trail; the link is replaced", () => {
        fs.mkdirSync(t);
        const secret = path.join(dir, "secret");
        fs.writeFileSync(secret, `${historyLine(entry(9, { detail: "root-only" }))}\n`);
        fs.linkSync(secret, path.join(t, ".repo-sync.log"));
        assert.deepEqual(read(), { state: "notfile", entries: [], unreadable: 0 });
        assert.match(session(`log ${historyLine(entry(1))}\n`).stdout, /READY\nOK\n/);
        assert.deepEqual(read(), { state: "file", entries: [entry(1)], unreadable: 0 }, "the linked file's line was not copied");
        assert.equal(fs.readFileSync(secret, "utf8"), `${historyLine(entry(9, { detail: "root-only" }))}\n`);
        assert.equal(fs.statSync(secret).nlink, 1);
      });

      it("a trail that grows between its size lookup and its read is read no further than the bound", () => {
        fs.mkdirSync(t);
        const trail = path.join(t, ".repo-sync.log");
        fs.writeFileSync(trail, `${historyLine(entry(1))}\n`);
        // A `stat` that, once it told the size, lets the trail grow by 1 MiB (as an appender racing the read).
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "stat"), `#!/bin/sh\n/usr/bin/stat "$@"; rc=$?\ncase "$*" in *%s*) head -c 1048576 /dev/zero | tr '\\0' x >> .repo-sync.log ;; esac\nexit $rc\n`, { mode: 0o755 });
        const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
        const r = spawnSync("/bin/sh", ["-c", historyReadScript(t)], { encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
        const hex = /^LOG hex:([0-9a-f]*)$/m.exec(r.stdout)?.[1] ?? "";
        assert.ok(hex.length > 0 && hex.length <= 2 * HISTORY_READ_BYTES, `read ${hex.length / 2} bytes, the bound is ${HISTORY_READ_BYTES}`);
        // The session's log command keeps a bounded end too (the new line last).
        fs.writeFileSync(trail, `${historyLine(entry(1))}\n`);
        const s = spawnSync("/bin/sh", ["-c", sessionScript(t, 0)], { input: `go\nlog ${historyLine(entry(2))}\n`, encoding: "utf8", env });
        assert.match(s.stdout, /READY\nOK\n/, s.stdout + s.stderr);
        assert.ok(fs.statSync(trail).size <= HISTORY_READ_BYTES + 1024, `the trail kept ${fs.statSync(trail).size} bytes`);
      });

      it("a trail whose last line lost its line feed (a hand edit) keeps it, and the new entry is a line of its own", () => {
        fs.mkdirSync(t);
        fs.writeFileSync(path.join(t, ".repo-sync.log"), historyLine(entry(1)));
        assert.match(session(`log ${historyLine(entry(2))}\n`).stdout, /READY\nOK\n/);
        assert.deepEqual(read(), { state: "file", entries: [entry(1), entry(2)], unreadable: 0 });
      });

      it("a line the shell would read as code stays data", () => {
        const e = entry(3, { by: "$(touch PWNED)`touch PWNED2`@h; touch PWNED3", detail: "'; touch PWNED4 #" });
        session(`log ${historyLine(e)}\n`);
        assert.deepEqual(read().entries, [e]);
        assert.deepEqual(fs.readdirSync(t).concat(fs.readdirSync(dir)).filter((n) => n.startsWith("PWNED")), []);
      });
    });
  });
});
