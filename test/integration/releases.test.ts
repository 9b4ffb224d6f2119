/**
 * The releases layout on the loopback fleet: releases/<commit> behind a `current` symlink switched by
 * one rename. Proven here with the real CLI and `pulumi up`: a reader on the VM never sees a mixed
 * tree, a cut transfer leaves `current` alone, a one-line commit sends about one line, rollback to an
 * intact release sends nothing, pruning spares current and previous, layouts never mix silently.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { StatusDoc, SyncDoc } from "../../cli/format";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { PROJECT_ROOT, programProject } from "../../tools/pulumiCli";
import { json, runCli } from "../support/cli";

type RollbackDoc = { ok: boolean; results: Array<{ vm: string; from: string | null; to: string | null; repaired: unknown; error: { kind: string; message: string } | null }> };

describe("releases layout: atomic switch, rollback, pruning (CLI and pulumi up)", function () {
  this.timeout(240_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  const write = (repository: Record<string, unknown> = {}) => writeFleetConfig(fleet, cfg, { repoPath: repo.path, repository: { layout: "releases", keep_releases: 3, ...repository } });
  const dir = (vm = "vm01") => fleet.vm(vm).targetPath;
  const current = (vm = "vm01") => fs.readlinkSync(path.join(dir(vm), "current"));
  const releases = (vm = "vm01") => fs.readdirSync(path.join(dir(vm), "releases")).sort();
  const sync = async (...args: string[]) => {
    const run = await runCli(["sync", "--config", cfg, "--json", ...args]);
    assert.equal(run.code, 0, run.stderr);
    return json<SyncDoc>(run);
  };

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: 216 });
    // A bulky file beside the code: a one-line commit must not send it again.
    repo = makeSourceRepo();
    repo.commit({ "assets/blob.bin": crypto.randomBytes(2 << 20) }, "assets");
    cfg = path.join(fleet.baseDir, "config.yml");
    write();
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("the first sync builds releases/<commit>, points current at it, and status lists it", async () => {
    const c1 = repo.head();
    const doc = await sync();
    for (const vm of fleet.vms) {
      assert.equal(current(vm.id), `releases/${c1}`);
      assert.equal(fs.readFileSync(path.join(dir(vm.id), "current", ".sync_rev"), "utf8"), `${c1}\n`);
      assert.equal(fs.readFileSync(path.join(dir(vm.id), "current", "src/app.py"), "utf8"), "print('hello from th_timmy')\n");
      assert.equal(fs.existsSync(path.join(dir(vm.id), ".sync_rev")), false, "no in-place marker");
    }
    assert.equal(doc.results[0].release?.path, `${dir()}/releases/${c1}`);
    const st = json<StatusDoc>(await runCli(["status", "--config", cfg, "--json"]));
    assert.deepEqual(st.statuses.map((s) => [s.vm, s.state, s.current, s.releases?.map((r) => [r.commit, r.complete])]), fleet.vms.map((vm) => [vm.id, "in-sync", c1, [[c1, true]]]));
  });

  it("a one-line commit sends about one line: the rest is hard-linked from the previous release", async () => {
    const c1 = repo.head();
    const c2 = repo.commit({ "src/app.py": "print('hello from th_timmy v2')\n" }, "one line");
    const [r] = (await sync("vm01")).results;
    assert.equal(current(), `releases/${c2}`);
    assert.ok(r.literal_bytes < 200, `literal bytes ${r.literal_bytes}`);
    assert.ok(r.bytes_transferred < 20_000, `bytes sent ${r.bytes_transferred}`);
    const inode = (c: string) => fs.statSync(path.join(dir(), "releases", c, "assets/blob.bin")).ino;
    assert.equal(inode(c2), inode(c1), "the unchanged blob is the same file in both releases");
    assert.equal(fs.readFileSync(path.join(dir(), "releases", c1, "src/app.py"), "utf8"), "print('hello from th_timmy')\n", "the previous release is untouched");
  });

  it("a reader on the VM never sees a mixed tree while releases switch under it", async () => {
    const files = Array.from({ length: 40 }, (_, i) => `mix/f${String(i).padStart(2, "0")}.txt`);
    const version = (v: number) => Object.fromEntries(files.map((f) => [f, `v${v}\n`]));
    repo.commit(version(0), "mix v0");
    await sync("vm01");
    // Like a service: resolve `current` once per request, then read every file of that release.
    const reader = spawn("/bin/sh", ["-c", `cd ${JSON.stringify(dir())} && while [ ! -e stop ]; do (cd current && cat mix/*.txt | sort -u | tr '\\n' ' '; echo); done`], { stdio: ["ignore", "pipe", "inherit"] });
    let seen = "";
    reader.stdout.on("data", (d: Buffer) => (seen += d.toString()));
    try {
      for (let v = 1; v <= 4; v++) {
        repo.commit(version(v), `mix v${v}`);
        await sync("vm01");
      }
    } finally {
      fs.writeFileSync(path.join(dir(), "stop"), "");
      await new Promise((resolve) => reader.on("close", resolve));
      fs.rmSync(path.join(dir(), "stop"));
    }
    const reads = seen.split("\n").filter((l) => l.trim() !== "");
    assert.ok(reads.length > 20, `only ${reads.length} reads`);
    const mixed = reads.filter((l) => l.trim().split(" ").length !== 1);
    assert.deepEqual(mixed, [], `mixed reads (of ${reads.length})`);
    assert.ok(new Set(reads).size >= 2, `the reader saw the switch: ${[...new Set(reads)].join(" | ")}`);
  });

  it("a transfer cut mid-way leaves current and what it serves untouched; the next run completes the release", async () => {
    const before = current();
    const next = repo.commit({ "assets/big.bin": crypto.randomBytes(3 << 20) }, "big");
    write({ bwlimit_kbps: 512 });
    const child = spawn(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["sync", "vm01", "--config", cfg], { stdio: "ignore", detached: true });
    const partial = path.join(dir(), "releases", next, "assets");
    for (let i = 0; i < 200 && !(fs.existsSync(partial) && fs.readdirSync(partial).some((f) => f.startsWith(".big.bin") || f === "big.bin")); i++) await new Promise((r) => setTimeout(r, 100));
    process.kill(-(child.pid as number), "SIGKILL"); // the CLI, its rsync and ssh
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(current(), before);
    assert.equal(fs.existsSync(path.join(dir(), "releases", next, ".sync_rev")), false, "the cut release claims nothing");
    const st = json<StatusDoc>(await runCli(["status", "vm01", "--config", cfg, "--json"]));
    assert.equal(st.statuses[0].actual, before.slice("releases/".length));
    assert.deepEqual(st.statuses[0].releases?.find((r) => r.commit === next)?.complete, false);
    write();
    await sync("vm01");
    assert.equal(current(), `releases/${next}`);
    assert.equal(fs.statSync(path.join(dir(), "current", "assets/big.bin")).size, 3 << 20);
  });

  it("rollback switches current back; an intact release is checked (a dry run) and nothing is transferred", async () => {
    const now = current().slice("releases/".length);
    const run = await runCli(["rollback", "vm01", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const [r] = json<RollbackDoc>(run).results;
    assert.equal(r.from, now);
    assert.notEqual(r.to, now);
    assert.equal(r.repaired, null, "an intact release is switched to as it is");
    assert.equal(current(), `releases/${r.to}`);
    // --to a prefix of a kept release; a commit that is not kept is a named error and changes nothing.
    const back = await runCli(["rollback", "vm01", "--to", now.slice(0, 10), "--config", cfg, "--json"]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(current(), `releases/${now}`);
    const missing = await runCli(["rollback", "vm01", "--to", "0000000", "--config", cfg, "--json"]);
    assert.equal(missing.code, 1);
    assert.match(json<RollbackDoc>(missing).results[0].error?.message ?? "", /^vm01: cannot roll back: no complete release 0000000 on the VM \(kept: /);
    assert.equal(current(), `releases/${now}`);
  });

  it("pruning keeps keep_releases, never the current nor the previous one", async () => {
    const kept = releases();
    assert.equal(kept.length, 3, kept.join(" "));
    const prev = current().slice("releases/".length);
    const next = repo.commit({ "src/app.py": "print('prune')\n" }, "prune");
    const [r] = (await sync("vm01")).results;
    assert.equal(releases().length, 3);
    assert.ok(releases().includes(next) && releases().includes(prev), releases().join(" "));
    assert.equal(r.release?.pruned.length, 1);
    // keep_releases: 2 is the floor: exactly current and previous.
    write({ keep_releases: 2 });
    const last = repo.commit({ "src/app.py": "print('prune 2')\n" }, "prune 2");
    await sync("vm01");
    assert.deepEqual(releases(), [next, last].sort());
    write();
  });

  it("layouts never mix silently: each way is refused with the migration to run, and nothing changes", async () => {
    const before = current();
    writeFleetConfig(fleet, cfg, { repoPath: repo.path });
    const inPlace = await runCli(["sync", "vm01", "--config", cfg, "--json"]);
    assert.equal(inPlace.code, 1);
    const [r] = json<SyncDoc>(inPlace).results;
    assert.equal(r.error?.kind, "unsafe-target");
    assert.match(r.error?.message ?? "", /is laid out in releases .* an in-place sync would --delete them/);
    assert.match(r.error?.message ?? "", /repo-sync migrate --to in_place vm01/);
    assert.equal(current(), before);
    assert.ok(releases().length >= 2);
    const noReleases = await runCli(["rollback", "vm01", "--config", cfg]);
    assert.equal(noReleases.code, 2);
    assert.match(noReleases.stderr, /rollback needs the releases layout; vm01 is updated in place/);
    write();
  });

  it("pulumi up: deploys a release and runs the hook after the switch; preview sees a hand edit in current and a current pointing at a missing release; a branch moved back reuses the kept release", async () => {
    const hookLog = path.join(dir(), "hook.log");
    writeFleetConfig(fleet, cfg, {
      repoPath: repo.path, repository: { layout: "releases", keep_releases: 3 },
      vms: { vm01: { post_sync_command: `printf '%s %s %s\\n' "$REPO_SYNC_REVISION" "$PWD" "$(readlink "$REPO_SYNC_RELEASE/../../current")" >> ${JSON.stringify(hookLog)}` } },
    });
    const project = await programProject(cfg);
    try {
      await project.ok(["config", "set", "repo-sync:pull", "false"]);
      const older = current("vm02").slice("releases/".length);
      const head = repo.head();
      await project.ok(["up", "--yes", "--skip-preview"]);
      for (const vm of fleet.vms) assert.equal(current(vm.id), `releases/${head}`, vm.id);
      // vm02 went from its first release to the head: the unchanged blob was linked, not sent again.
      const blobOf = (c: string) => fs.statSync(path.join(dir("vm02"), "releases", c, "assets/blob.bin")).ino;
      assert.equal(blobOf(head), blobOf(older));
      assert.equal(fs.readFileSync(hookLog, "utf8"), `${head} ${dir()}/releases/${head} releases/${head}\n`, "the hook ran once, in the release, after the switch");
      const clean = await project.run(["preview", "--expect-no-changes"]);
      assert.equal(clean.code, 0, `${clean.stdout}\n${clean.stderr}`);

      fs.writeFileSync(path.join(dir("vm01"), "current", "src/app.py"), "hand edit\n");
      fs.rmSync(path.join(dir("vm02"), "current"));
      fs.symlinkSync("releases/ffffffffffffffffffffffffffffffffffffffff", path.join(dir("vm02"), "current"));
      const st = json<StatusDoc>(await runCli(["status", "vm02", "--config", cfg, "--json"]));
      assert.equal(st.statuses[0].detail, `revision none (current does not point at a release folder (releases/<commit>)) (expected ${head.slice(0, 12)})`);
      const drift = await project.run(["preview", "--expect-no-changes", "--diff"]);
      assert.notEqual(drift.code, 0, "a hand edit in current, and current pointing at a missing release, are drift");
      assert.match(drift.stdout, /vm01[\s\S]*vm02|vm02[\s\S]*vm01/);
      await project.ok(["up", "--yes", "--skip-preview"]);
      assert.equal(fs.readFileSync(path.join(dir("vm01"), "current", "src/app.py"), "utf8"), "print('prune 2')\n");
      assert.equal(current("vm02"), `releases/${head}`);

      // The branch moved back to a commit vm02 still keeps: that release is switched to, not rebuilt.
      const blob = path.join(dir("vm02"), "releases", older, "assets/blob.bin");
      const inode = fs.statSync(blob).ino;
      const kept = releases("vm02");
      repo.git("reset", "-q", "--hard", older);
      // A reader on vm01 during this up (head -> older, through the provider): one release per read.
      const newer = `${fs.readFileSync(path.join(dir(), "current", "src/app.py"), "utf8")}${fs.readFileSync(path.join(dir(), "current", "mix/f00.txt"), "utf8")}`.replace(/\n/g, " ");
      const reader = spawn("/bin/sh", ["-c", `cd ${JSON.stringify(dir())} && while [ ! -e stop ]; do (cd current && cat src/app.py mix/f00.txt 2>/dev/null | tr '\\n' ' '; echo); done`], { stdio: ["ignore", "pipe", "inherit"] });
      let seen = "";
      reader.stdout.on("data", (d: Buffer) => (seen += d.toString()));
      try {
        await project.ok(["up", "--yes", "--skip-preview"]);
      } finally {
        fs.writeFileSync(path.join(dir(), "stop"), "");
        await new Promise((resolve) => reader.on("close", resolve));
        fs.rmSync(path.join(dir(), "stop"));
      }
      const reads = new Set(seen.split("\n").filter((l) => l !== ""));
      assert.deepEqual([...reads].filter((r) => r !== newer && r !== "print('hello from th_timmy') "), [], "every read saw one release");
      assert.equal(current("vm02"), `releases/${older}`);
      assert.equal(fs.statSync(blob).ino, inode, "the kept release was reused as it was");
      assert.deepEqual(releases("vm02"), kept);
      // vm01 no longer kept that commit: rebuilt, and pruned back to keep_releases (3) with head as previous.
      assert.equal(current("vm01"), `releases/${older}`);
      assert.equal(releases("vm01").length, 3);
      assert.ok(releases("vm01").includes(head));
      // destroy leaves the trees (the service keeps running) but no marker that claims a revision.
      await project.ok(["destroy", "--yes", "--skip-preview"]);
      for (const vm of ["vm01", "vm02"]) {
        assert.equal(current(vm), `releases/${older}`, `${vm}: current still serves the tree`);
        assert.equal(fs.existsSync(path.join(fleet.vm(vm).targetPath, "current", ".sync_rev")), false, `${vm}: no marker after destroy`);
      }
      const after = json<StatusDoc>(await runCli(["status", "--config", cfg, "--json", "--ref", older]));
      assert.deepEqual(after.statuses.map((x) => x.actual), [null, null], "status: no VM claims a revision");
      // The CLI takes the trees back (as the next stack would): the served release is whole again.
      assert.equal((await runCli(["sync", "--config", cfg, "--ref", older])).code, 0);
      assert.equal(fs.readFileSync(path.join(fleet.vm("vm01").targetPath, "current", ".sync_rev"), "utf8").trim(), older);
      repo.git("reset", "-q", "--hard", head);
    } finally {
      project.dispose();
    }
  });

  it("migrate: explicit both ways, by moves on the VM, deleting nothing; syncs go on in the new layout", async () => {
    const serving = current("vm02").slice("releases/".length);
    const kept = releases("vm02");
    // The config must name the layout first.
    const early = await runCli(["migrate", "vm02", "--to", "in_place", "--config", cfg, "--json"]);
    assert.equal(early.code, 2);
    assert.match(early.stderr, /repository\.layout is releases, not in_place: set it first/);
    // The fix line runs the same config again.
    assert.ok(early.stderr.includes(`\`repo-sync migrate --config '${cfg}' --to in_place\``), early.stderr);

    writeFleetConfig(fleet, cfg, { repoPath: repo.path });
    const back = await runCli(["migrate", "vm02", "--to", "in_place", "--config", cfg, "--json"]);
    assert.equal(back.code, 0, back.stderr);
    const doc = json<{ results: Array<{ action: string; revision: string; kept_releases: string }> }>(back).results[0];
    assert.deepEqual([doc.action, doc.revision], ["migrated", serving]);
    assert.equal(fs.readFileSync(path.join(dir("vm02"), ".sync_rev"), "utf8"), `${serving}\n`);
    assert.equal(fs.existsSync(path.join(dir("vm02"), "current")), false);
    assert.deepEqual(fs.readdirSync(path.join(dir("vm02"), doc.kept_releases)).sort(), kept, "every release kept");
    const inPlace = await sync("vm02");
    assert.equal(inPlace.results[0].action, "synced");
    assert.ok(fs.existsSync(path.join(dir("vm02"), doc.kept_releases)), "an in-place sync leaves the kept releases alone");

    write();
    const again = await runCli(["migrate", "vm02", "--to", "releases", "--config", cfg, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const head = repo.head();
    assert.equal(current("vm02"), `releases/${head}`);
    assert.equal(fs.readFileSync(path.join(dir("vm02"), "current", "src/app.py"), "utf8"), "print('prune 2')\n");
    assert.equal(fs.existsSync(path.join(dir("vm02"), "src")), false, "the tree moved into its release");
    const st = json<StatusDoc>(await runCli(["status", "vm02", "--config", cfg, "--json"]));
    assert.equal(st.statuses[0].state, "in-sync");
    const second = await runCli(["migrate", "vm02", "--to", "releases", "--config", cfg, "--json"]);
    assert.equal(json<{ results: Array<{ action: string }> }>(second).results[0].action, "already");
  });
});
