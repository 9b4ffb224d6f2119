import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isRepoSyncError } from "../../lib/errors";
import { ancestorProblem, cachePath, ensurePrivateDir, privateDirProblem } from "../../lib/paths";

/** Asserts a `config` RepoSyncError whose message matches `re`. */
function refused(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => isRepoSyncError(err) && err.kind === "config" && re.test(err.message) && /fix: set REPO_SYNC_CACHE/.test(err.message));
}

describe("the cache folder: private to the user who runs repo-sync", () => {
  it("comes from REPO_SYNC_CACHE, XDG_CACHE_HOME or the home folder, never from TMPDIR or the current folder", () => {
    const passwd = () => "/home/pw";
    const table: [NodeJS.ProcessEnv, string][] = [
      [{ REPO_SYNC_CACHE: "/var/cache/rs/", HOME: "/home/u" }, "/var/cache/rs"],
      [{ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" }, "/x/cache/repo-sync"],
      [{ XDG_CACHE_HOME: "relative/cache", HOME: "/home/u" }, "/home/u/.cache/repo-sync"],
      [{ HOME: "/home/u", TMPDIR: "/tmp" }, "/home/u/.cache/repo-sync"],
      // `HOME=` (empty) or relative: the password database's home, not `.cache` in the current folder.
      [{ HOME: "" }, "/home/pw/.cache/repo-sync"],
      [{ HOME: "somewhere" }, "/home/pw/.cache/repo-sync"],
      [{}, "/home/pw/.cache/repo-sync"],
    ];
    for (const [env, want] of table) assert.equal(cachePath(env, passwd), want, JSON.stringify(env));
    refused(() => cachePath({ REPO_SYNC_CACHE: "cache" }, passwd), /REPO_SYNC_CACHE="cache" is relative/);
    refused(() => cachePath({ HOME: "" }, () => ""), /no home folder to keep the cache in \(HOME=""\)/);
    refused(() => cachePath({ HOME: "" }, () => "/"), /no home folder/);
  });

  it("an existing folder is used only when it is a real folder of ours that no one else can write", () => {
    const dir = { isDirectory: true, isSymbolicLink: false, uid: 1000, mode: 0o40700 };
    assert.equal(privateDirProblem(dir, 1000), undefined);
    assert.equal(privateDirProblem({ ...dir, mode: 0o40755 }, 1000), undefined);
    assert.match(privateDirProblem({ ...dir, isSymbolicLink: true }, 1000) ?? "", /is a symbolic link/);
    assert.match(privateDirProblem({ ...dir, isDirectory: false }, 1000) ?? "", /is not a folder/);
    assert.match(privateDirProblem(dir, 0) ?? "", /belongs to another user \(uid 1000, repo-sync runs as uid 0\)/);
    assert.match(privateDirProblem({ ...dir, mode: 0o40777 }, 1000) ?? "", /writable by every user \(mode 777\)/);
    assert.match(privateDirProblem({ ...dir, mode: 0o40770 }, 1000) ?? "", /writable by its group \(mode 770\)/);
    // Above it: root's or ours, and a world-writable folder only with the sticky bit (/tmp).
    assert.equal(ancestorProblem({ isDirectory: true, uid: 0, mode: 0o41777 }, 1000), undefined);
    assert.equal(ancestorProblem({ isDirectory: true, uid: 1000, mode: 0o40775 }, 1000), undefined);
    assert.match(ancestorProblem({ isDirectory: true, uid: 0, mode: 0o40777 }, 1000) ?? "", /writable by every user without the sticky bit \(mode 777\)/);
    assert.match(ancestorProblem({ isDirectory: true, uid: 1001, mode: 0o40755 }, 1000) ?? "", /belongs to another user \(uid 1001\)/);
  });

  describe("on disk", () => {
    let tmp: string;
    beforeEach(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rs-cachedir-"));
    });
    afterEach(() => {
      fs.chmodSync(tmp, 0o700);
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("creates a missing folder (and the levels above) with mode 700", () => {
      const dir = path.join(tmp, "a", "b", "repo-sync");
      assert.equal(ensurePrivateDir(dir), dir);
      for (const p of [path.join(tmp, "a"), path.join(tmp, "a", "b"), dir]) assert.equal(fs.statSync(p).mode & 0o777, 0o700, p);
      assert.deepEqual(fs.readdirSync(dir), [], "the write test leaves nothing");
    });

    it("refuses a link planted where the cache goes, and writes nothing through it", () => {
      const victim = path.join(tmp, "victim");
      fs.mkdirSync(victim);
      const planted = path.join(tmp, "cache");
      fs.symlinkSync(victim, planted);
      refused(() => ensurePrivateDir(planted), new RegExp(`cache folder ${planted} is a symbolic link`));
      assert.deepEqual(fs.readdirSync(victim), []);
    });

    it("refuses a file, a folder others can write, and a folder in one others can write", () => {
      const file = path.join(tmp, "file");
      fs.writeFileSync(file, "x");
      refused(() => ensurePrivateDir(file), /exists and is not a folder/);
      refused(() => ensurePrivateDir(path.join(file, "sub")), /cannot be kept private: .*file is not a folder/);
      const open = path.join(tmp, "open");
      fs.mkdirSync(open);
      fs.chmodSync(open, 0o777);
      refused(() => ensurePrivateDir(open), /is writable by every user \(mode 777\)/);
      refused(() => ensurePrivateDir(path.join(open, "repo-sync")), /cannot be kept private: .*open is writable by every user without the sticky bit/);
      fs.chmodSync(open, 0o1777);
      assert.doesNotThrow(() => ensurePrivateDir(path.join(open, "repo-sync")), "a sticky folder like /tmp is fine above the cache");
    });

    it("refuses what cannot be written, without spinning: /proc", () => {
      refused(() => ensurePrivateDir("/proc/repo-sync-cache"), /cache folder \/proc\/repo-sync-cache cannot be created: mkdir \/proc\/repo-sync-cache failed/);
      refused(() => ensurePrivateDir("/proc"), /cache folder \/proc cannot be written/);
    });
  });
});
