/**
 * One OpenSSH connection per target and run. Its own session runs one remote command (one of the
 * target scripts, target/script.ts), spoken to line by line over stdin/stdout; as a ControlMaster it
 * also carries rsync (rsync's ssh joins it through `ControlPath`), so a run pays one SSH handshake
 * per VM.
 *
 * The connection lives as long as its script: closing stdin ends the script (releasing the target's
 * lock) and ssh exits once rsync's channels are done. If this process dies, the pipe closes and the
 * same happens, so no lock or connection outlives the run. The control socket sits in a fresh 0700
 * folder of its own; should it be gone, rsync's ssh falls back to a connection of its own.
 */
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Target } from "../config/types";
import { isRepoSyncError, RepoSyncError } from "../errors";
import { sshOptionArgs } from "../transfer/rsyncArgs";
import { describeHops, JUMP_CONFIG_NAME, jumpConfigText } from "./jumpHosts";
import { privateKeyProblem } from "../config/load";
import { withPinnedHostKey } from "./pinnedHostKey";
import { sshFailure, sshWhere } from "./sshErrors";
import { mark } from "../timeline";

/** stderr kept for an error message (the end matters: that is where ssh says why it stopped). */
const MAX_STDERR = 64 * 1024;

/** Folder for control sockets: a socket path must stay under ~100 bytes, so a long TMPDIR is skipped. */
function socketParent(): string {
  const tmp = os.tmpdir();
  return tmp.length <= 40 ? tmp : "/tmp";
}

/** argv for the master connection running `command` (one shell word list, as ssh sends it) on the target (pure). */
export function masterArgs(t: Target, controlPath: string, command: string): string[] {
  return [...sshOptionArgs(t, { path: controlPath, master: true }), "-T", "--", t.host, command];
}

/** A running connection to one target, with its script's output as lines. */
export class SshLink {
  private buffer = "";
  private readonly lines: string[] = [];
  private waiters: Array<(line: string | undefined) => void> = [];
  private stderr = "";
  private exitCode: number | null = null;
  private ended = false;
  private readonly exited: Promise<void>;

  private constructor(
    readonly target: Target,
    readonly controlPath: string,
    private readonly dir: string,
    private readonly child: ChildProcessWithoutNullStreams | undefined,
    private readonly command: string[],
    /** Why no connection was tried (an unusable key): the link is born closed with this failure. */
    private readonly refused?: RepoSyncError,
  ) {
    if (!child) {
      this.ended = true;
      fs.rmSync(dir, { recursive: true, force: true });
      this.exited = Promise.resolve();
      return;
    }
    let first = true;
    child.stdout.on("data", (d: Buffer) => {
      if (first) mark("ssh.answer", { vm: target.vm });
      first = false;
      this.onData(d.toString());
    });
    child.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-MAX_STDERR);
    });
    // A closed pipe when the far end is gone is reported by 'close' below; it must not crash the run.
    child.stdin.on("error", () => undefined);
    this.exited = new Promise((resolve) => {
      child.on("error", (err) => {
        this.stderr += `cannot start ssh: ${err.message}`;
      });
      child.on("close", (code) => {
        mark("ssh.exit", { vm: target.vm, code: code ?? undefined });
        this.exitCode = code;
        this.ended = true;
        for (const w of this.waiters.splice(0)) w(undefined);
        fs.rmSync(this.dir, { recursive: true, force: true });
        resolve();
      });
    });
  }

  /** Connects to `target` and starts `command` there (returns at once; output arrives as lines). */
  static open(given: Target, command: string, opts: { sshBin?: string } = {}): SshLink {
    const dir = fs.mkdtempSync(path.join(socketParent(), "repo-sync-ssh-"));
    const controlPath = path.join(dir, "m");
    let target: Target;
    try {
      target = withPinnedHostKey(given);
    } catch (err) {
      if (!isRepoSyncError(err)) throw err;
      return new SshLink(given, controlPath, dir, undefined, ["ssh", given.host], err);
    }
    const args = masterArgs(target, controlPath, command);
    // The script is long and says nothing to a reader: messages show where it would be.
    const shown = ["ssh", ...args.slice(0, -1), "<repo-sync target script>"];
    // A missing key makes OpenSSH say only "Permission denied": checked here, it is named with its fix.
    const keyWhy = [target.keyPath, ...(target.jumpHosts ?? []).map((h) => h.keyPath)].map((k) => privateKeyProblem(k)).find((why) => why !== undefined);
    if (keyWhy) {
      return new SshLink(target, controlPath, dir, undefined, shown, new RepoSyncError("config", `cannot use the SSH key for ${sshWhere(target)}${target.jumpHosts ? ` (via ${describeHops(target)})` : ""}: ${keyWhy}`, { vm: target.vm }));
    }
    // The hops' options: only a -F file reaches a ProxyJump hop's own ssh (see remote/jumpHosts.ts).
    if (target.jumpHosts?.length) fs.writeFileSync(path.join(dir, JUMP_CONFIG_NAME), jumpConfigText(target), { mode: 0o600 });
    mark("ssh.spawn", { vm: target.vm });
    const child = spawn(opts.sshBin ?? "ssh", args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    return new SshLink(target, controlPath, dir, child, shown);
  }

  private onData(s: string): void {
    this.buffer += s;
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const waiter = this.waiters.shift();
      if (waiter) waiter(line);
      else this.lines.push(line);
    }
  }

  /** The script's next output line; undefined once its output has ended; a RepoSyncError (timeout) after `timeoutMs`. */
  nextLine(timeoutMs: number): Promise<string | undefined> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new RepoSyncError("timeout", `the target session on ${this.target.host} did not answer within ${Math.round(timeoutMs / 1000)} s`, { vm: this.target.vm, command: this.command, hint: "check that the VM is responsive (load, a hung file system under the target path)" }));
      }, timeoutMs);
      const done = (line: string | undefined) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push(done);
    });
  }

  /** Sends one line to the script. */
  send(line: string): void {
    if (!this.ended) this.child?.stdin.write(line + "\n");
  }

  /** True once ssh has exited. */
  get closed(): boolean {
    return this.ended;
  }

  /** Why the connection ended (call once it has): the connection failure as ssh reported it. */
  async failure(): Promise<RepoSyncError> {
    await this.exited;
    return this.refused ?? sshFailure(this.target, this.exitCode, this.stderr, this.command);
  }

  /** The stderr ssh and the script wrote so far. */
  get errorOutput(): string {
    return this.stderr;
  }

  /** Ends the script (and with it the lock) and waits for ssh to exit; kills it after `graceMs`. */
  async close(graceMs = 10_000): Promise<void> {
    if (!this.ended) this.child?.stdin.end();
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
