/**
 * A run killed with SIGKILL (the CLI alone, as `kill -9` of repo-sync or of `pulumi up` does) must
 * not leave its transfer writing on the VM: a later run that writes `.sync_rev` = A must find, and
 * leave, A's tree, however long the dead run's rsync would have gone on. Both layouts, through the
 * real CLI; then the fence itself: a transfer whose session is gone is refused, and one whose session
 * shell died without cleaning up is killed by the next session before it changes anything.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../lib/config/load";
import type { Target } from "../../lib/config/types";
import { RepoSyncError } from "../../lib/errors";
import { readProcStat } from "../../lib/process/procStat";
import { TargetSession } from "../../lib/target/session";
import type { TransferSpec } from "../../lib/transfer/rsyncArgs";
import { runRsync } from "../../lib/transfer/runRsync";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { PROJECT_ROOT } from "../../tools/pulumiCli";
import { runCli } from "../support/cli";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds (true) or `ms` pass (false). */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  if (!(await until(check, ms))) throw new Error(`timed out waiting for ${what}`);
}

/** A folder as { relative path: what it is } (files by content hash), leaving out repo-sync's own names at its top. */
function treeOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      if (rel === "" && (name === ".sync_rev" || name.startsWith(".repo-sync."))) continue;
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, r));
      if (st.isSymbolicLink()) out[r] = `link ${fs.readlinkSync(path.join(root, r))}`;
      else if (st.isDirectory()) {
        out[r] = "dir";
        walk(r);
      } else out[r] = `file ${createHash("sha256").update(fs.readFileSync(path.join(root, r))).digest("hex")}`;
    }
  };
  walk("");
  return out;
}

/** The tree of `commit` as `git archive` exports it. */
function archiveOf(repo: SourceRepo, commit: string): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-archive-"));
  try {
    execFileSync("/bin/sh", ["-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "sh", repo.path, commit, dir]);
    return treeOf(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Live (not zombie) processes matching `test`, by pid. */
function processesWhere(test: (pid: string, argv: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const st = readProcStat(pid);
      if (!st || st.state === "Z") continue;
      if (test(pid, fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0"))) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** Processes working inside `dir` on the "VM" (the remote rsync chdirs to where it writes). */
const workingIn = (dir: string) =>
  processesWhere((pid) => {
    const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    return cwd === dir || cwd.startsWith(`${dir}/`);
  });

/** This machine's rsync and ssh clients talking to `host`. */
const clientsOf = (host: string) => processesWhere((_pid, argv) => ["rsync", "ssh"].includes(path.basename(argv[0])) && argv.some((a) => a === host || a.startsWith(`${host}:`)));

/** `n` files of `kb` KB of random bytes (incompressible: the rate limit holds). */
function slowFiles(n: number, kb: number): Record<string, Buffer> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`data/f${i}.bin`, randomBytes(kb * 1024)]));
}

describe("a killed run leaves no transfer running: the marker never lies", function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  const cfgPath = (vm: string) => path.join(fleet.baseDir, `${vm}.yml`);
  const writeCfg = (vm: string, repository: Record<string, unknown>) => writeFleetConfig(fleet, cfgPath(vm), { repoPath: repo.path, repository: { io_timeout_s: 30, ...repository } });

  before(async () => {
    fleet = await startFleet({ count: 2, firstOctet: 242 });
    repo = makeSourceRepo();
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
  });

  /**
   * The reproduction: sync A; commit B (n x kb KB); `sync` at `bwlimit_kbps: 40`, SIGKILL of
   * the CLI once the transfer is under way; sync A again; wait until the dead run's rsync would have
   * finished. `served`: where the VM's tree is read (the target, or its `current`).
   */
  async function killedRunThenA(vm: string, layout: Record<string, unknown>, n: number, kb: number, served: (dir: string) => string, dir = fleet.vm(vm).targetPath): Promise<string> {
    layout = { ...layout, vm_repo_paths: { ...Object.fromEntries(fleet.vms.map((v) => [v.id, v.targetPath])), [vm]: dir } };
    const a = repo.commit(slowFiles(n, kb), `A for ${vm}`);
    repo.git("branch", "-f", `a-${vm}`, a);
    writeCfg(vm, layout);
    assert.equal((await runCli(["sync", vm, "--config", cfgPath(vm)])).code, 0);
    repo.commit(slowFiles(n, kb), `B for ${vm}`);
    writeCfg(vm, { ...layout, bwlimit_kbps: 40 });
    const started = Date.now();
    const killed = spawn(path.join(PROJECT_ROOT, "bin", "repo-sync"), ["sync", vm, "--config", cfgPath(vm)], { stdio: "ignore" });
    const closed = new Promise((r) => killed.on("close", r));
    // Under way: a file of B being written on the VM (rsync's temporary names start with a dot).
    const busy = () => {
      for (const d of [path.join(dir, ".~tmp~"), path.join(dir, "data"), ...(fs.existsSync(path.join(dir, "releases")) ? fs.readdirSync(path.join(dir, "releases")).map((r) => path.join(dir, "releases", r, "data")) : [])]) {
        if (fs.existsSync(d) && fs.readdirSync(d).some((f) => f.startsWith(".f"))) return true;
      }
      return false;
    };
    await waitFor(busy, 20_000, "the transfer of B to be under way");
    killed.kill("SIGKILL"); // the CLI only, as `kill -9 <pid>` does: its rsync and ssh are left to themselves
    await closed;
    // Its session on the VM sees its input end and stops the transfer it started: on the VM, and so here
    // (asserted last: the marker and the tree come first).
    const stoppedWithSession = await until(() => workingIn(dir).length === 0 && clientsOf(fleet.vm(vm).host).length === 0, 3000);
    const again = await runCli(["sync", vm, "--branch", `a-${vm}`, "--config", cfgPath(vm)]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const afterSync = treeOf(dir);
    // The dead run's rsync, left alone, would finish after n*kb KB at 40 KB/s: wait past that.
    await sleep(Math.max(0, started + ((n * kb) / 40) * 1000 + 3000 - Date.now()));
    const tree = served(dir);
    assert.equal(fs.readFileSync(path.join(tree, ".sync_rev"), "utf8"), `${a}\n`);
    assert.deepEqual(treeOf(tree), archiveOf(repo, a), `${vm}: the tree .sync_rev names is A's, byte for byte`);
    assert.deepEqual(treeOf(dir), afterSync, `${vm}: nothing wrote on the VM after the second sync`);
    assert.deepEqual(workingIn(dir), [], "nothing of the killed run still works in the target directory");
    assert.deepEqual(clientsOf(fleet.vm(vm).host), [], "no rsync or ssh of the killed run is left on this machine");
    assert.ok(stoppedWithSession, "the killed run's transfer stopped with its session (within 3 s), before any other run");
    return a;
  }

  it("in place: `kill -9` mid-transfer, then sync A: the tree is A's, byte for byte, and .sync_rev = A", async () => {
    await killedRunThenA("vm01", {}, 8, 80, (dir) => dir);
  });

  it("releases: `kill -9` mid-transfer, then sync A: current serves A's tree, and nothing writes the killed release any more", async () => {
    await killedRunThenA("vm02", { layout: "releases" }, 8, 32, (dir) => path.join(dir, "current"));
    assert.equal(fs.existsSync(path.join(fleet.vm("vm02").targetPath, "releases", repo.head(), ".sync_rev")), false, "the killed release claims nothing");
  });

  it("through sudo with rsync_path (a root transfer, sudo's own processes): the same", async function () {
    if (process.getuid?.() !== 0) this.skip(); // a sudoers rule needs root (CI runs as root)
    const sudoers = `/etc/sudoers.d/repo-sync-killed-${process.pid}`;
    fs.writeFileSync(sudoers, `${fleet.vm("vm01").user} ALL=(root) NOPASSWD: /bin/sh, /usr/bin/rsync\n`, { mode: 0o440 });
    try {
      await killedRunThenA("vm01", { sudo: true, rsync_path: "/usr/bin/rsync" }, 8, 32, (dir) => dir, path.join(fleet.vm("vm01").root, "srv", "app-sudo"));
    } finally {
      fs.rmSync(sudoers, { force: true });
    }
  });

  describe("the fence itself (library level, vm01 in place)", () => {
    let target: Target;
    let src: string;
    let spec: TransferSpec;
    before(async () => {
      writeCfg("vm01", {});
      assert.equal((await runCli(["sync", "vm01", "--config", cfgPath("vm01")])).code, 0);
      writeCfg("vm01", { bwlimit_kbps: 40 });
      target = loadConfig(cfgPath("vm01")).targets.find((t) => t.vm === "vm01") as Target;
      src = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-fence-src-"));
      for (const [name, bytes] of Object.entries(slowFiles(8, 40))) {
        fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
        fs.writeFileSync(path.join(src, name), bytes);
      }
      spec = { sourceDir: src, excludes: [], excludeDotGit: true, ioTimeoutS: 30, delayUpdates: true };
    });
    after(() => fs.rmSync(src, { recursive: true, force: true }));

    it("a transfer whose session has ended is refused on the VM before rsync starts: nothing lands, no record is left", async () => {
      const dir = fleet.vm("vm01").targetPath;
      const before = treeOf(dir);
      const session = await TargetSession.open(target, 5);
      const fence = session.fence;
      await session.close();
      // The dead session's transfer, as an orphan whose rsync reached the VM only now would run it.
      const err = await runRsync(target, spec, false, { fence }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof RepoSyncError, `refused: ${String(err)}`);
      assert.match(err.stderr ?? "", /repo-sync: refused: the session that started this transfer has ended/);
      assert.deepEqual(treeOf(dir), before);
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith(".repo-sync.xfer.")), []);
    });

    it("a session shell killed without cleaning up: the next session kills its transfer before anything changes", async () => {
      const dir = fleet.vm("vm01").targetPath;
      const before = treeOf(dir);
      const first = await TargetSession.open(target, 5);
      const transfer = runRsync(target, spec, false, { controlPath: first.controlPath, fence: first.fence }).then(() => undefined, (e: unknown) => e);
      const staged = path.join(dir, "data", ".~tmp~");
      await waitFor(() => fs.existsSync(staged) && fs.readdirSync(staged).length > 0, 20_000, "the transfer to be under way");
      // The VM's session shell dies at once (no end-of-session cleanup): its lock goes, its rsync writes on.
      process.kill(Number(first.fence.pid), "SIGKILL");
      const second = await TargetSession.open(target, 10);
      try {
        assert.ok((await transfer) instanceof RepoSyncError, "the orphaned transfer was stopped");
        assert.deepEqual(workingIn(dir).filter((pid) => pid !== Number(second.fence.pid)), [], "nothing but the second session works in the target directory");
        const atStart = treeOf(dir);
        await sleep(2500);
        assert.deepEqual(treeOf(dir), atStart, "nothing writes on the VM under the second session's lock");
        // rsync writes a file as .NAME.XXXXXX, stages it in .~tmp~ and renames it at the very end: not
        // one reached its name (the debris goes with the next sync's --delete).
        const debris = (k: string) => k.split("/").includes(".~tmp~") || /(^|\/)\.[^/]+\.[A-Za-z0-9]{6}$/.test(k);
        const named = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([k]) => !debris(k)));
        assert.deepEqual(named(atStart), named(before));
      } finally {
        await second.close();
        await first.close();
      }
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith(".repo-sync.xfer.")), []);
    });
  });
});
