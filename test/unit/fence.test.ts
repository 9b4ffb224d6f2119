import * as assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Target } from "../../lib/config/types";
import { parseSessionLine, type SessionFence } from "../../lib/target/fence";
import { parseTargetHeader, probeScript, sessionScript } from "../../lib/target/script";
import { fencedRemoteRsync, rsyncPushArgs } from "../../lib/transfer/rsyncArgs";

const BOOT = "12b4b312-738c-40ab-8026-c7d27c7991f0";
const target = (over: Partial<Target> = {}): Target => ({
  vm: "vm01", host: "10.0.0.11", port: 22, user: "deploy", keyPath: "/home/me/.ssh/id_ed25519", knownHostsPath: "/home/me/.ssh/known_hosts",
  connectTimeoutS: 10, acceptNewHostKeys: false, path: "/srv/app", ...over,
});
const fence: SessionFence = { pid: "4242", start: "70413", boot: BOOT };

/** What /proc says of a process: its start time, and whether it is still running (not a zombie). */
function proc(pid: number): { start: string; alive: boolean } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { start: f[19], alive: f[0] !== "Z" && f[0] !== "X" };
  } catch {
    return undefined;
  }
}
const bootId = () => fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the session/transfer fence (pure builders and parser, and the shell under /bin/sh)", () => {
  const lines: Array<[string, SessionFence | undefined]> = [
    [`SESSION 4242 70413 ${BOOT}`, fence],
    ["SESSION 1 0 -", { pid: "1", start: "0", boot: "-" }],
    [`SESSION 0 70413 ${BOOT}`, undefined],
    [`SESSION 04242 70413 ${BOOT}`, undefined],
    [`SESSION 4242 7041x ${BOOT}`, undefined],
    [`SESSION 4242 70413 ${BOOT.toUpperCase()}`, undefined],
    ["SESSION 4242 70413 $(reboot)", undefined],
    [`SESSION 4242 70413 ${BOOT} extra`, undefined],
    [`SESSION 4242  70413 ${BOOT}`, undefined],
    [`SESSION 42424242424 70413 ${BOOT}`, undefined],
    [`session 4242 70413 ${BOOT}`, undefined],
  ];
  for (const [line, want] of lines) it(`parseSessionLine: ${JSON.stringify(line)}`, () => assert.deepEqual(parseSessionLine(line), want));

  it("parseTargetHeader keeps the session's name; a malformed one is no name", () => {
    assert.deepEqual(parseTargetHeader(`STATE empty\nREV absent\nSESSION 4242 70413 ${BOOT}\n`).session, fence);
    assert.equal(parseTargetHeader("STATE empty\nREV absent\nSESSION 4242 70413 x;y\n").session, undefined);
  });

  const commands: Array<[string, Partial<Target>, RegExp]> = [
    ["plain", {}, /^\/bin\/sh -c '[^\n]+' repo-sync-transfer 4242 70413 12b4b312-738c-40ab-8026-c7d27c7991f0 '\/srv\/app' 'rsync'$/],
    ["sudo", { sudo: true }, /^sudo -n -- \/bin\/sh -c '.+' repo-sync-transfer 4242 70413 \S+ '\/srv\/app' 'rsync'$/],
    ["rsync_path", { rsyncPath: "/opt/rsync/bin/rsync" }, /^\/bin\/sh -c '.+' repo-sync-transfer 4242 70413 \S+ '\/srv\/app' '\/opt\/rsync\/bin\/rsync'$/],
    ["sudo and rsync_path", { sudo: true, rsyncPath: "/usr/bin/rsync" }, /^sudo -n -- \/bin\/sh -c '.+' repo-sync-transfer \S+ \S+ \S+ '\/srv\/app' '\/usr\/bin\/rsync'$/],
    ["a path with spaces and shell characters", { path: "/srv/my app;x&y|z" }, / '\/srv\/my app;x&y\|z' 'rsync'$/],
  ];
  for (const [name, over, want] of commands) it(`fencedRemoteRsync: ${name}`, () => assert.match(fencedRemoteRsync(target(over), fence), want));

  it("fencedRemoteRsync refuses a malformed session name, an unsafe path and an unsafe rsync_path", () => {
    for (const bad of [{ ...fence, pid: "1;reboot" }, { ...fence, start: "" }, { ...fence, boot: "$(id)" }, { ...fence, pid: "0" }]) {
      assert.throws(() => fencedRemoteRsync(target(), bad), /malformed session name/);
    }
    assert.throws(() => fencedRemoteRsync(target({ path: "/srv/a'b" }), fence), /target path/);
    assert.throws(() => fencedRemoteRsync(target({ rsyncPath: "/usr/bin/rsync; rm -rf /" }), fence), /rsync path/);
  });

  it("push argv: a fenced transfer always goes through the wrapper; an unfenced one (status's dry run) as before", () => {
    const spec = { sourceDir: "/cache/tree", excludes: [], excludeDotGit: true, ioTimeoutS: 60 };
    const fenced = rsyncPushArgs(target(), spec, false, "/tmp/c/m", fence).filter((a) => a.startsWith("--rsync-path="));
    assert.deepEqual(fenced, [`--rsync-path=${fencedRemoteRsync(target(), fence)}`]);
    assert.deepEqual(rsyncPushArgs(target({ sudo: true }), spec, true, "/tmp/c/m").filter((a) => a.startsWith("--rsync-path=")), ["--rsync-path=sudo -n rsync"]);
  });

  describe("run by /bin/sh", () => {
    let dir: string;
    const children: ChildProcess[] = [];
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-fence-"))));
    afterEach(() => {
      for (const c of children.splice(0)) c.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    });
    /** A stand-in process (its own process group, like a transfer under sshd). */
    const sleeper = (): number => {
      const c = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
      children.push(c);
      return c.pid as number;
    };
    const records = () => fs.readdirSync(dir).filter((f) => f.startsWith(".repo-sync.xfer."));
    const record = (name: string, text: string) => fs.writeFileSync(path.join(dir, `.repo-sync.xfer.${name}`), text);
    /** Runs the fenced command the way the VM's login shell gets it from rsync (`--server ...` appended). */
    const wrapper = (f: SessionFence, targetPath = dir) => spawnSync("/bin/sh", ["-c", `${fencedRemoteRsync(target({ path: targetPath, rsyncPath: "/bin/echo" }), f)} --server -logDtpre.iLsfxC . .`], { encoding: "utf8" });
    const liveFence = (pid: number): SessionFence => ({ pid: String(pid), start: proc(pid)?.start ?? "", boot: bootId() });
    /** What a session writes on the VM while it accepts transfers. */
    const named = (f: SessionFence, folder = dir) => fs.writeFileSync(path.join(folder, ".repo-sync.session"), `${f.pid} ${f.start} ${f.boot}\n`);

    it("the wrapper runs rsync (same pid, recorded) while its session lives and is named, and refuses otherwise", () => {
      const session = sleeper();
      named(liveFence(session));
      const ok = wrapper(liveFence(session));
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout, "--server -logDtpre.iLsfxC . .\n");
      assert.equal(records().length, 1, "the transfer is recorded for the next session");
      const [pid, start, boot] = fs.readFileSync(path.join(dir, records()[0]), "utf8").trim().split(" ");
      assert.deepEqual([/^\d+$/.test(pid), /^\d+$/.test(start), boot], [true, true, bootId()]);
      fs.rmSync(path.join(dir, records()[0]));
      const other = liveFence(sleeper());
      const refused: Array<[string, SessionFence, SessionFence | undefined]> = [
        ["a reused pid (another start time)", { ...liveFence(session), start: "1" }, { ...liveFence(session), start: "1" }],
        ["an earlier boot", { ...liveFence(session), boot: "00000000-0000-0000-0000-000000000000" }, { ...liveFence(session), boot: "00000000-0000-0000-0000-000000000000" }],
        ["a dead session", { pid: "999999999", start: "1", boot: bootId() }, { pid: "999999999", start: "1", boot: bootId() }],
        ["a live session that is ending (no longer named)", liveFence(session), undefined],
        ["a live session no longer named (another one is)", liveFence(session), other],
      ];
      for (const [why, dead, name] of refused) {
        fs.rmSync(path.join(dir, ".repo-sync.session"), { force: true });
        if (name) named(name);
        const r = wrapper(dead);
        assert.equal(r.status, 1, why);
        assert.equal(r.stdout, "", "rsync never started");
        assert.match(r.stderr, /repo-sync: refused: the session that started this transfer has ended/);
        assert.deepEqual(records(), [], "no record left");
      }
    });

    it("the wrapper takes odd target path characters literally", () => {
      const t = path.join(dir, "a b;touch PWNED&|#");
      fs.mkdirSync(t);
      const session = liveFence(sleeper());
      named(session, t);
      assert.equal(wrapper(session, t).status, 0);
      assert.equal(fs.readdirSync(t).filter((f) => f.startsWith(".repo-sync.xfer.")).length, 1);
      assert.equal(fs.existsSync(path.join(dir, "PWNED")), false);
      assert.equal(fs.existsSync("PWNED"), false);
    });

    it("a session kills a recorded live transfer (its process group) before READY, and drops stale or foreign records", () => {
      const victim = sleeper();
      const bystander = sleeper();
      const v = proc(victim);
      const b = proc(bystander);
      record("live", `${victim} ${v?.start} ${bootId()}\n`);
      record("reused", `${bystander} 1 ${bootId()}\n`); // pid reused: another start time
      record("reboot", `${bystander} ${b?.start} 00000000-0000-0000-0000-000000000000\n`); // an earlier boot
      record("garbage", "$(touch PWNED) 1 2\n");
      record("empty", "");
      fs.symlinkSync(`/proc/${bystander}/stat`, path.join(dir, ".repo-sync.xfer.link"));
      const r = spawnSync("/bin/sh", ["-c", sessionScript(dir, 0)], { input: "go\n", encoding: "utf8" });
      assert.match(r.stdout, /\nSESSION \d+ \d+ \S+\nREADY\n$/, r.stdout + r.stderr);
      assert.equal(proc(victim)?.alive ?? false, false, "the recorded transfer is dead");
      assert.equal(proc(bystander)?.alive, true, "nothing else was touched");
      assert.deepEqual(records(), []);
      assert.equal(fs.existsSync(path.join(dir, "PWNED")), false);
    });

    it("a planted directory or FIFO under a record's name blocks nothing; the fence's own files leave a folder empty", () => {
      fs.mkdirSync(path.join(dir, ".repo-sync.xfer.dir"));
      spawnSync("mkfifo", [path.join(dir, ".repo-sync.xfer.fifo")]);
      fs.writeFileSync(path.join(dir, ".repo-sync.session"), "1 2 -\n");
      assert.equal(parseTargetHeader(spawnSync("/bin/sh", ["-c", probeScript(dir)], { encoding: "utf8" }).stdout).state, "empty");
      const r = spawnSync("/bin/sh", ["-c", sessionScript(dir, 0)], { input: "go\n", encoding: "utf8", timeout: 10_000 });
      assert.match(r.stdout, /^STATE empty$/m, r.stdout + r.stderr);
      assert.match(r.stdout, /\nREADY\n$/);
    });

    it("a record owned by another user than its process: nothing is killed and the session refuses to go on", function () {
      if (process.getuid?.() !== 0) this.skip(); // chown needs root
      const victim = sleeper();
      record("foreign", `${victim} ${proc(victim)?.start} ${bootId()}\n`);
      fs.chownSync(path.join(dir, ".repo-sync.xfer.foreign"), 65534, 65534);
      const r = spawnSync("/bin/sh", ["-c", sessionScript(dir, 0)], { input: "go\n", encoding: "utf8" });
      assert.match(r.stdout, /^ERR transfer$/m);
      assert.match(r.stderr, new RegExp(`a transfer of an earlier run \\(pid ${victim}, recorded in .*\\.repo-sync\\.xfer\\.foreign\\) is still running`));
      assert.equal(proc(victim)?.alive, true);
    });

    it("a session whose input ends (its run died) kills the transfers it started", async () => {
      const s = spawn("/bin/sh", ["-c", sessionScript(dir, 0)], { stdio: ["pipe", "pipe", "inherit"] });
      children.push(s);
      let out = "";
      s.stdout.on("data", (d: Buffer) => (out += d.toString()));
      s.stdin.write("go\n");
      for (let i = 0; i < 100 && !out.includes("READY"); i++) await sleep(20);
      const m = /^SESSION (\S+) (\S+) (\S+)$/m.exec(out);
      assert.ok(m, out);
      assert.equal(fs.readFileSync(path.join(dir, ".repo-sync.session"), "utf8"), `${m[1]} ${m[2]} ${m[3]}\n`, "the session names itself on the VM");
      // A transfer started through the wrapper while the session lives (here: sleep as the "rsync").
      const t = spawn("/bin/sh", ["-c", `${fencedRemoteRsync(target({ path: dir, rsyncPath: "/bin/sleep" }), { pid: m[1], start: m[2], boot: m[3] })} 60`], { detached: true, stdio: "ignore" });
      children.push(t);
      for (let i = 0; i < 100 && records().length === 0; i++) await sleep(20);
      assert.equal(records().length, 1);
      s.stdin.end();
      await new Promise((r) => s.on("close", r));
      await sleep(100);
      assert.equal(proc(t.pid as number)?.alive ?? false, false, "the transfer died with its session");
      assert.deepEqual(records(), []);
      assert.deepEqual(fs.readdirSync(dir), [], "nothing of the session is left");
    });
  });
});
