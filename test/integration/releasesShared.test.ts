/**
 * The releases layout keeps what it promises beyond the tree (real CLI, loopback fleet): VM-local data
 * under `rsync_excludes` lives in `shared/` and survives every deploy, prune, rollback and a migration
 * from in place; a release edited through a hard link is named by `status` and put back by `rollback`
 * before `current` points at it again.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { StatusDoc } from "../../cli/format";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { json, runCli } from "../support/cli";

type RollbackDoc = { ok: boolean; results: Array<{ vm: string; from: string | null; to: string | null; repaired: { modified: string[] } | null; error: { message: string } | null }> };
type ReleaseDoc = { commit: string; complete: boolean; drift?: { modified: string[] } };

// Names a shell or rsync could trip on: a space, both quote kinds, a folder below the top.
const ODD = `data dir/it's "here"`;
const EXCLUDES = ["uploads/", ".env", "/config/local.yml", `/${ODD}/`];

describe("releases layout: VM-local data and tampered releases (CLI)", function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  const write = (repository: Record<string, unknown> = {}) => writeFleetConfig(fleet, cfg, { repoPath: repo.path, repository: { layout: "releases", keep_releases: 2, rsync_excludes: EXCLUDES, ...repository } });
  const dir = (vm: string) => fleet.vm(vm).targetPath;
  const current = (vm: string) => fs.readlinkSync(path.join(dir(vm), "current"));
  const ok = async (...args: string[]) => {
    const run = await runCli([...args, "--config", cfg, "--json"]);
    assert.equal(run.code, 0, `${args.join(" ")}: ${run.stdout}\n${run.stderr}`);
    return run;
  };
  // What the service writes at run time, as the VM's user (the files are its, as an app's would be).
  const uid = () => Number(execFileSync("id", ["-u", fleet.vms[0].user], { encoding: "utf8" }).trim());
  const vmWrite = (root: string, files: Record<string, string>) => {
    for (const [rel, content] of Object.entries(files)) {
      const p = path.join(root, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
    execFileSync("chown", ["-R", `${uid()}`, fs.realpathSync(root)]);
  };
  const local = (extra: Record<string, string> = {}) => ({ "uploads/a.jpg": "photo a\n", ".env": "SECRET_KEY=vm-local\n", "config/local.yml": "db: local\n", [`${ODD}/x y.txt`]: "odd\n", ...extra });
  const assertLocal = (vm: string, files: Record<string, string>, when: string) => {
    for (const [rel, content] of Object.entries(files)) {
      const p = path.join(dir(vm), "current", rel);
      assert.equal(fs.existsSync(p) ? fs.readFileSync(p, "utf8") : "(missing)", content, `${vm} ${when}: current/${rel}`);
    }
  };

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: 244 });
    repo = makeSourceRepo();
    repo.commit({ "assets/data.txt": "shared by every release\n", "uploads/.gitkeep": "" }, "assets");
    cfg = path.join(fleet.baseDir, "config.yml");
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  it("an exclude the releases layout cannot share (a wildcard, a `..`) is a config error naming the key: exit 2", async () => {
    for (const [bad, why] of [["*.log", /repository\.rsync_excludes\[4\]: "\*\.log" is a pattern/], ["../up", /repository\.rsync_excludes\[4\]: "\.\.\/up" has an empty, `\.` or `\.\.` component/]] as const) {
      write({ rsync_excludes: [...EXCLUDES, bad] });
      const run = await runCli(["status", "--config", cfg]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, why);
    }
  });

  it("uploads/, .env and deeper excluded paths survive 3 deploys with keep_releases 2, a rollback, and migrate --to releases", async () => {
    // vm02 starts in place, with the service's own files beside the tree.
    writeFleetConfig(fleet, cfg, { repoPath: repo.path, repository: { rsync_excludes: EXCLUDES } });
    await ok("sync", "vm02");
    vmWrite(dir("vm02"), local());
    write();
    await ok("migrate", "vm02", "--to", "releases");
    assertLocal("vm02", local(), "after migrate --to releases");
    // vm01 is in releases from its first sync; the service writes into current/.
    await ok("sync", "vm01");
    vmWrite(path.join(dir("vm01"), "current"), local());
    const deployed: string[] = [];
    for (let i = 1; i <= 3; i++) {
      deployed.push(repo.commit({ "src/app.py": `print('deploy ${i}')\n` }, `deploy ${i}`));
      await ok("sync");
      for (const vm of ["vm01", "vm02"]) assertLocal(vm, local(), `after deploy ${i}`);
      if (i === 1) vmWrite(path.join(dir("vm01"), "current"), { "uploads/b.jpg": "photo b, uploaded after deploy 1\n" });
    }
    assert.equal(fs.readdirSync(path.join(dir("vm01"), "releases")).length, 2, "pruned to keep_releases");
    assertLocal("vm01", { "uploads/b.jpg": "photo b, uploaded after deploy 1\n" }, "after 3 deploys");
    const st = json<StatusDoc>(await runCli(["status", "--config", cfg, "--json"]));
    assert.deepEqual(st.statuses.map((s) => [s.vm, s.state]), [["vm01", "in-sync"], ["vm02", "in-sync"]], "the shared links are no drift");

    // --to: releases made within one second have equal stamps, so "the previous one" is not told by time.
    await ok("rollback", "--to", deployed[1]);
    assert.equal(fs.readFileSync(path.join(dir("vm01"), "current", "src/app.py"), "utf8"), "print('deploy 2')\n");
    for (const vm of ["vm01", "vm02"]) assertLocal(vm, local(), "after a rollback");
    assertLocal("vm01", { "uploads/b.jpg": "photo b, uploaded after deploy 1\n" }, "after a rollback");
    // The tree's own uploads/.gitkeep is not pushed: the folder is the VM's.
    assert.equal(fs.existsSync(path.join(dir("vm01"), "current", "uploads", ".gitkeep")), false);
    await ok("sync");
    for (const vm of ["vm01", "vm02"]) assertLocal(vm, local(), "after deploying again");
  });

  it("a hand edit through a hard link: status names the tampered older release; after sync repairs current, rollback serves the exact old tree", async () => {
    write();
    const vm = "vm01";
    await ok("sync", vm);
    const old = current(vm).slice("releases/".length);
    const next = repo.commit({ "src/app.py": "print('tamper test')\n" }, "tamper test");
    await ok("sync", vm);
    const file = path.join(dir(vm), "current", "assets/data.txt");
    assert.equal(fs.statSync(file).ino, fs.statSync(path.join(dir(vm), "releases", old, "assets/data.txt")).ino, "one file in both releases");
    fs.writeFileSync(file, "edited by hand on the VM\n"); // in place: every release sharing the file changes

    const release = (doc: StatusDoc, c: string) => (doc.statuses[0].releases as ReleaseDoc[] | undefined)?.find((r) => r.commit === c);
    const before = json<StatusDoc>(await runCli(["status", vm, "--config", cfg, "--json"]));
    assert.equal(before.statuses[0].state, "drift");
    assert.deepEqual([release(before, old)?.complete, release(before, old)?.drift?.modified], [false, ["assets/data.txt"]], "the older release is tampered too");

    await ok("sync", vm);
    assert.equal(fs.readFileSync(file, "utf8"), "shared by every release\n");
    const repaired = json<StatusDoc>(await runCli(["status", vm, "--config", cfg, "--json"]));
    assert.equal(repaired.statuses[0].state, "in-sync");
    assert.equal(release(repaired, old)?.complete, false, "a repair of current does not repair the older release");

    const back = json<RollbackDoc>(await ok("rollback", vm, "--to", old)).results[0];
    assert.deepEqual([back.from, back.to, back.repaired?.modified], [next, old, ["assets/data.txt"]]);
    assert.deepEqual(treeOf(path.join(dir(vm), "current")), archiveOf(repo, old), "the VM serves exactly the old commit's tree");
    const after = json<StatusDoc>(await runCli(["status", vm, "--config", cfg, "--json"]));
    assert.equal(release(after, old)?.complete, true);
  });
});

/** Every regular file under `root` (not following links; repo-sync's own files and shared links left out), path -> bytes. */
function treeOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && (e.name === ".sync_rev" || e.name.startsWith(".repo-sync."))) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[p] = fs.readFileSync(path.join(root, p)).toString("base64");
    }
  };
  walk("");
  return out;
}

/** The commit's tree as `git archive` writes it (the reference for what a release must hold). */
function archiveOf(repo: SourceRepo, commit: string): Record<string, string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-archive-"));
  try {
    execFileSync("sh", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", repo.path, commit, tmp]);
    const tree = treeOf(tmp);
    // uploads/ is the VM's (shared): the commit's own uploads/.gitkeep is never pushed.
    delete tree["uploads/.gitkeep"];
    return tree;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
