/**
 * Alert-only mode (`block_on_secrets: false`) with findings nobody accepted yet costs what changed: a
 * (path, blob) pair with findings is remembered with them, so the next commit reports them again
 * without gitleaks reading the file, and the gate stays exact: the alert is a fresh scan's, blocking
 * mode still blocks on the unchanged file, and a change of rules, gitleaks, options or
 * `.gitleaksignore` scans everything again, the verdict following the change.
 *
 * Through the real CLI (`repo-sync sync --json`: the alert is the JSON line it logs) with real git and
 * real gitleaks. What gitleaks was given is seen through a shim on PATH that lists the files of each
 * folder `gitleaks dir` is run on, then runs the real gitleaks. No VM is needed: the one VM of the
 * config (127.0.0.190, this file's octet) answers nothing, so an alert-only run fails to connect
 * after the gate let it through, and a blocked run stops before (exit 2).
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { fakeAwsKeyLine, fakeGithubToken, makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { json, runCli } from "../support/cli";

/** What one `repo-sync sync --json` run showed. */
interface GateRun {
  code: number | null;
  /** The `secrets_found` alert it logged (without its time), or undefined. */
  alert?: Record<string, unknown>;
  doc: Record<string, unknown>;
  /** The files of the folders gitleaks was run on (sorted, `.gitleaksignore` left out). */
  read: string[];
  stderr: string;
}

describe("alert-only gate: findings of unchanged files are remembered, and the gate stays exact", function () {
  this.timeout(120_000);
  let tmp: string;
  let repo: SourceRepo;
  let shimDir: string;
  let readLog: string;
  let realGitleaks: string;
  const token = fakeGithubToken();

  /** Writes the shim; `version` (when given) is what it answers to `gitleaks version`: an upgraded gitleaks. */
  const writeShim = (version?: string) => {
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    fs.writeFileSync(path.join(shimDir, "gitleaks"), [
      "#!/bin/sh",
      ...(version ? [`if [ "$1" = version ]; then echo ${q(version)}; exit 0; fi`] : []),
      `if [ "$1" = dir ]; then find "$2" -type f ! -name .gitleaksignore -print >> ${q(readLog)}; fi`,
      `exec ${q(realGitleaks)} "$@"`,
      "",
    ].join("\n"), { mode: 0o755 });
  };

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rs-remembered-"));
    repo = makeSourceRepo();
    shimDir = path.join(tmp, "shim");
    fs.mkdirSync(shimDir);
    readLog = path.join(tmp, "read.log");
    realGitleaks = execFileSync("sh", ["-c", "command -v gitleaks"], { encoding: "utf8" }).trim();
    writeShim();
    fs.writeFileSync(path.join(tmp, "id_ed25519"), "unused\n", { mode: 0o600 });
    fs.writeFileSync(path.join(tmp, "known_hosts"), "");
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(repo.path, { recursive: true, force: true });
  });

  /** A config for one unreachable VM; `scanning` is merged into `secret_scanning`. */
  const config = (scanning: Record<string, unknown>): string => {
    const cfg = path.join(tmp, "config.yml");
    fs.writeFileSync(cfg, stringify({
      ssh: { key_path: path.join(tmp, "id_ed25519"), known_hosts_path: path.join(tmp, "known_hosts"), accept_new_host_keys: true, connect_timeout_s: 5 },
      vms: { vm01: { host: "127.0.0.190", ssh_user: "deploy", ssh_port: 2222 }, source: { host: "127.0.0.1", ssh_user: "deploy" } },
      repository: { source_vm: "source", main_repo_path: repo.path, vm_repo_paths: { vm01: "/srv/app" }, secret_scanning: { enabled: true, tool: "gitleaks", ...scanning } },
    }));
    return cfg;
  };

  /** `repo-sync sync --json` with `cache` as the cache folder (a new one: a fresh scan). */
  const sync = async (cfg: string, cache = path.join(tmp, "cache")): Promise<GateRun> => {
    fs.rmSync(readLog, { force: true });
    const run = await runCli(["sync", "--json", "--no-pull", "--config", cfg], { env: { REPO_SYNC_CACHE: cache, PATH: `${shimDir}:${process.env.PATH ?? ""}` } });
    const alerts = run.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>).filter((a) => a.alert === "secrets_found");
    assert.ok(alerts.length <= 1, run.stderr);
    const alert = alerts[0] && Object.fromEntries(Object.entries(alerts[0]).filter(([k]) => k !== "time"));
    const read = fs.existsSync(readLog) ? fs.readFileSync(readLog, "utf8").split("\n").filter((l) => l !== "").map((l) => l.replace(/^\.\//, "")).sort() : [];
    return { code: run.code, alert, doc: json(run), read, stderr: run.stderr };
  };
  let freshCaches = 0;
  /** The same run with an empty cache: what a scan of the whole tree reports. */
  const fresh = (cfg: string) => sync(cfg, path.join(tmp, `fresh-${freshCaches++}`));
  const treeFiles = () => repo.git("ls-tree", "-r", "--name-only", "HEAD").split("\n").filter((p) => p !== "" && p !== ".gitleaksignore").sort();
  const fingerprints = (r: GateRun) => ((r.alert?.findings ?? []) as Array<{ fingerprint: string }>).map((f) => f.fingerprint).sort();
  /** Every file of the tree was given to gitleaks (a scan of everything; neutral-name rescans may add more). */
  const readAll = (r: GateRun) => treeFiles().every((f) => r.read.includes(f));

  it("alert-only: a finding in an unchanged file is reported again, as a fresh scan reports it, while gitleaks reads only the changed file", async () => {
    const cfg = config({ block_on_secrets: false });
    // keys.png and node_modules/ are skipped by gitleaks' own path allowlist: read again under neutral names.
    repo.commit({ "src/keys.env": `# keys\nTOKEN=${token}\n${fakeAwsKeyLine()}\n`, "img/keys.png": `TOKEN=${token}\n`, "node_modules/pkg/creds.js": `token = "${token}"\n`, "docs/b.md": "# b\n" }, "keys");
    const first = await sync(cfg);
    assert.equal(first.code, 1, `the gate let it through (the VM is unreachable): ${first.stderr}`);
    assert.ok(readAll(first), `a first scan reads the tree: ${first.read.join(", ")}`);
    const found = ["img/keys.png:github-pat:1", "node_modules/pkg/creds.js:github-pat:1", "src/keys.env:aws-access-token:3", "src/keys.env:github-pat:2"];
    assert.deepEqual(fingerprints(first), found);

    repo.commit({ "docs/b.md": "# b, edited\n" }, "one line");
    const second = await sync(cfg);
    assert.deepEqual(second.read, ["docs/b.md"], "gitleaks was given the changed file only");
    assert.equal(second.code, 1, second.stderr);
    assert.equal((second.doc.results as Array<{ vm: string }>)[0].vm, "vm01", "pushed anyway (alert-only)");
    const full = await fresh(cfg);
    assert.ok(readAll(full));
    assert.deepEqual(second.alert, full.alert, "the alert of a fresh scan, field for field");
    assert.equal(second.alert?.blocked, false);
    assert.equal(second.alert?.commit, repo.head());
    assert.equal(second.alert?.count, 4);
    assert.deepEqual(fingerprints(second), found);

    // A new finding in the changed file joins the remembered ones.
    repo.commit({ "docs/b.md": `# b\nGITHUB_TOKEN=${token}\n` }, "another");
    const third = await sync(cfg);
    assert.deepEqual(third.read, ["docs/b.md"]);
    assert.deepEqual(third.alert, (await fresh(cfg)).alert);
    assert.deepEqual(fingerprints(third), ["docs/b.md:github-pat:2", ...found]);

    // The finding goes when the file changes (the record keeps pairs, not paths).
    repo.commit({ "src/keys.env": "# keys moved to the vault\n" }, "vault");
    const fourth = await sync(cfg);
    assert.deepEqual(fourth.read, ["src/keys.env"]);
    assert.deepEqual(fingerprints(fourth), ["docs/b.md:github-pat:2", ...found.slice(0, 2)]);
    assert.deepEqual(fourth.alert, (await fresh(cfg)).alert);

    // A changed file that gitleaks' walk skips is read under a neutral name (`0`), and remembered under its own.
    repo.commit({ "img/keys.png": `# moved\nTOKEN=${token}\n` }, "png");
    const fifth = await sync(cfg);
    assert.deepEqual(fifth.read, ["0", "img/keys.png"]);
    assert.deepEqual(fingerprints(fifth), ["docs/b.md:github-pat:2", "img/keys.png:github-pat:2", "node_modules/pkg/creds.js:github-pat:1"]);
    assert.deepEqual(fifth.alert, (await fresh(cfg)).alert);
    repo.commit({ "docs/b.md": "# b, clean again\n" }, "clean b");
    const sixth = await sync(cfg);
    assert.deepEqual(sixth.read, ["docs/b.md"]);
    assert.deepEqual(fingerprints(sixth), ["img/keys.png:github-pat:2", "node_modules/pkg/creds.js:github-pat:1"]);
  });

  it("blocking mode: the same unchanged file still blocks the next commit, with nothing read again and nothing pushed", async () => {
    const cfg = config({ block_on_secrets: true });
    repo.commit({ "src/keys.env": `TOKEN=${token}\n` }, "keys");
    const first = await sync(cfg);
    assert.equal(first.code, 2, first.stderr);
    assert.equal((first.doc.error as { kind: string }).kind, "secrets", first.stderr);
    repo.commit({ "docs/b.md": "# b\n" }, "one line");
    const second = await sync(cfg);
    assert.deepEqual(second.read, ["docs/b.md"]);
    assert.equal(second.code, 2, second.stderr);
    const error = second.doc.error as { kind: string; vm?: string; message: string };
    assert.equal(second.doc.ok, false);
    assert.equal(error.kind, "secrets");
    assert.match(error.message, /found 1 secret in commit [0-9a-f]{12}; nothing was pushed to any VM:\n {4}src\/keys\.env:1:github-pat {2}fingerprint src\/keys\.env:github-pat:1/);
    assert.equal(second.doc.results, undefined, "no VM was tried");
    assert.equal(second.alert?.blocked, true);
    assert.deepEqual(second.alert, (await fresh(cfg)).alert);
  });

  it("a change of rules, gitleaks, ignore_inline_allow or .gitleaksignore scans everything again, and the verdict follows it", async () => {
    const rules = path.join(tmp, "rules.toml");
    const baseRules = "[extend]\nuseDefault = true\n";
    fs.writeFileSync(rules, baseRules);
    const scanning = { block_on_secrets: false, config_path: rules };
    repo.commit({ "src/keys.env": `TOKEN=${token}\n`, "src/allowed.env": `OLD_TOKEN=${token} # gitleaks:allow\n` }, "keys");
    let cfg = config(scanning);
    const base = await sync(cfg);
    assert.deepEqual(fingerprints(base), ["src/keys.env:github-pat:1"]);
    // `again`: the identity is one seen before, whose record holds every other pair.
    const step = async (what: string, want: string[], again = false) => {
      repo.commit({ "docs/b.md": `# ${what}\n` }, what);
      const r = await sync(cfg);
      if (again) assert.deepEqual(r.read, ["docs/b.md"], what);
      else assert.ok(readAll(r), `${what}: everything read again, not only docs/b.md: ${r.read.join(", ")}`);
      assert.deepEqual(fingerprints(r), want, what);
      assert.deepEqual(r.alert, (await fresh(cfg)).alert, `${what}: as a fresh scan`);
    };

    fs.appendFileSync(rules, '\n[[rules]]\nid = "hello-word"\nregex = \'\'\'hello from th_timmy\'\'\'\n');
    await step("a stricter rules file", ["src/app.py:hello-word:1", "src/keys.env:github-pat:1"]);
    fs.writeFileSync(rules, baseRules);
    await step("the rules as they were", ["src/keys.env:github-pat:1"], true);

    writeShim("v8.30.1-upgraded");
    await step("another gitleaks", ["src/keys.env:github-pat:1"]);
    writeShim();

    cfg = config({ ...scanning, ignore_inline_allow: true });
    await step("ignore_inline_allow: true", ["src/allowed.env:github-pat:1", "src/keys.env:github-pat:1"]);
    cfg = config(scanning);

    repo.commit({ ".gitleaksignore": "src/keys.env:github-pat:1\n" }, "accept");
    const accepted = await sync(cfg);
    assert.ok(readAll(accepted), accepted.read.join(", "));
    assert.equal(accepted.alert, undefined, "the fingerprint in .gitleaksignore silences the remembered finding");
    assert.equal(accepted.code, 1, "and the run goes on to the VM");
    repo.commit({ ".gitleaksignore": "# nothing accepted\n" }, "take it back");
    const back = await sync(cfg);
    assert.ok(readAll(back), back.read.join(", "));
    assert.deepEqual(fingerprints(back), ["src/keys.env:github-pat:1"], "removing it brings the finding back");
    assert.deepEqual(back.alert, (await fresh(cfg)).alert);
  });
  it("blocking mode: a secret in a file whose name is not UTF-8 still blocks after a file that only reads alike changes", async () => {
    const cfg = config({ block_on_secrets: true });
    // gitleaks prints each byte that is not UTF-8 as U+FFFD: the secret in `a\xe2\x82` is reported as
    // `a\ufffd\ufffd`, which is also how the clean `a\xff\xff` reads. The finding is not pinned on it.
    const secret = Buffer.from([0x61, 0xe2, 0x82]);
    const lookalike = Buffer.from([0x61, 0xff, 0xff]);
    const write = (name: Buffer, text: string) => fs.writeFileSync(Buffer.concat([Buffer.from(`${repo.path}/`), name]), text);
    write(secret, `TOKEN=${token}\n`);
    write(lookalike, "clean\n");
    repo.git("add", "-A");
    repo.git("commit", "-q", "-m", "odd names");
    const first = await sync(cfg);
    assert.equal(first.code, 2, first.stderr);
    write(lookalike, "clean, edited\n");
    repo.git("commit", "-q", "-am", "edit the look-alike");
    const second = await sync(cfg);
    assert.equal(second.code, 2, `the unchanged secret must still block: ${second.stderr}`);
    assert.equal((second.doc.error as { kind: string }).kind, "secrets");
    assert.equal(second.doc.results, undefined, "no VM was tried");
    assert.deepEqual(second.alert, (await fresh(cfg)).alert);
  });

  it("a finding in .gitleaksignore itself is remembered once (the copy beside the changed files is not a second one)", async () => {
    const cfg = config({ block_on_secrets: false });
    repo.commit({ ".gitleaksignore": `# accepted\nOLD=${token}\n` }, "ignore file with a token");
    assert.deepEqual(fingerprints(await sync(cfg)), [".gitleaksignore:github-pat:2"]);
    repo.commit({ "docs/b.md": "# b\n" }, "one line");
    const next = await sync(cfg);
    assert.deepEqual(next.read, ["docs/b.md"]);
    assert.deepEqual(next.alert, (await fresh(cfg)).alert);
    assert.equal(next.alert?.count, 1);
  });

  it("a .gitleaksignore that is a symlink: gitleaks reads through it, so its target's text never accepts a finding, and no verdict is kept", async () => {
    const cfg = config({ block_on_secrets: true });
    assert.equal((await sync(cfg)).code, 1, "a clean tree passes (the VM is unreachable): its pairs are recorded");
    // One commit brings a secret and a link whose target's *text* is the secret's fingerprint (it leads nowhere).
    repo.write({ "a.env": `TOKEN=${token}\n` });
    fs.symlinkSync("a.env:github-pat:1", path.join(repo.path, ".gitleaksignore"));
    repo.git("add", "-A");
    repo.git("commit", "-q", "-m", "secret and a link");
    const planted = await sync(cfg);
    assert.equal(planted.code, 2, planted.stderr);
    assert.deepEqual(fingerprints(planted), ["a.env:github-pat:1"]);
    assert.deepEqual(planted.alert, (await fresh(cfg)).alert);
    // A link to a file of the tree: that file's lines are the ignore file, as gitleaks reads them.
    repo.write({ "ignored.txt": "a.env:github-pat:1\n" });
    fs.rmSync(path.join(repo.path, ".gitleaksignore"));
    fs.symlinkSync("ignored.txt", path.join(repo.path, ".gitleaksignore"));
    repo.git("add", "-A");
    repo.git("commit", "-q", "-m", "accept through the link");
    const accepted = await sync(cfg);
    assert.equal(accepted.code, 1, accepted.stderr);
    assert.equal(accepted.alert, undefined);
    // Taking the line back changes no text the identity sees (the link is the same): still a full verdict.
    repo.commit({ "ignored.txt": "# nothing\n" }, "take it back");
    const back = await sync(cfg);
    assert.equal(back.code, 2, back.stderr);
    assert.deepEqual(fingerprints(back), ["a.env:github-pat:1"]);
  });
});
