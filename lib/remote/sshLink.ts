/**
 * One OpenSSH connection per target, kept a short while for the next command (remote/sshMaster.ts):
 * a run pays at most one SSH handshake per VM, and none when a master of the same connection is still
 * there. The link's session runs one remote command (one of the target scripts, target/script.ts),
 * spoken to line by line over stdin/stdout; rsync's ssh joins the same master through `ControlPath`.
 *
 * The session lives as long as its script: closing stdin ends the script (releasing the target's
 * lock) and ssh exits once the session is done. If this process dies, the pipe closes and the same
 * happens, so no lock outlives the run (the kept master holds no session and exits on its own). With
 * `REPO_SYNC_SSH_PERSIST_S=0` (or no private folder for the socket) the connection is this run's only:
 * its socket in a fresh 0700 folder, the master ending with the session. Should the socket be gone,
 * rsync's ssh falls back to a connection of its own.
 */
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Target } from "../config/types";
import { isRepoSyncError, RepoSyncError } from "../errors";
import { sshOptionArgs } from "./sshArgs";
import { describeHops, jumpConfigPath, jumpConfigText } from "./jumpHosts";
import { keptConnection, openingElsewhere, openingLimitMs, prepareKept, whileOpeningElsewhere } from "./sshMaster";
import { privateKeyProblem } from "../config/load";
import { withPinnedHostKey } from "./pinnedHostKey";
import { connectionFailure, sshFailure, sshWhere } from "./sshErrors";
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
  private closing = false;
  private child: ChildProcessWithoutNullStreams | undefined;
  /** Every line sent to the script (replayed when a kept connection is retried as this run's). */
  private readonly sent: string[] = [];
  /** Starts the connection again as this run's only (see `attach`); unset once used or not wanted. */
  private retry: (() => void) | undefined;
  private readonly exited: Promise<void>;
  private markExited: () => void = () => undefined;

  private constructor(
    readonly target: Target,
    private socket: string,
    /** This link's own folder (its control socket when no master is kept, a jump hosts' file), removed at the end. */
    private dir: string | undefined,
    private command: string[],
    /** Why no connection was tried (an unusable key): the link is born closed with this failure. */
    private readonly refused?: RepoSyncError,
  ) {
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    if (refused) this.finish();
  }

  /** The link's end: no more lines, its folder gone. */
  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.markExited();
  }

  /** Wires a started ssh to the link. */
  private attach(child: ChildProcessWithoutNullStreams): void {
    this.child = child;
    let first = true;
    child.stdout.on("data", (d: Buffer) => {
      if (first) mark("ssh.answer", { vm: this.target.vm });
      first = false;
      this.onData(d.toString());
    });
    child.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-MAX_STDERR);
    });
    // A closed pipe when the far end is gone is reported by 'close' below; it must not crash the run.
    child.stdin.on("error", () => undefined);
    child.on("error", (err) => {
      this.stderr += `cannot start ssh: ${err.message}`;
    });
    child.on("close", (code) => {
      mark("ssh.exit", { vm: this.target.vm, code: code ?? undefined });
      this.exitCode = code;
      const retry = this.retry;
      this.retry = undefined;
      // OpenSSH silences a ProxyJump hop's (or a ProxyCommand's) stderr under ControlPersist: a kept
      // connection that failed before its script said anything, for no cause ssh named, is tried again
      // as a connection of this run (the same lines replayed), whose errors name the hop.
      if (retry && first && code === 255 && (this.target.jumpHosts?.length || !connectionFailure(this.target, code, this.stderr, this.command))) {
        this.stderr = "";
        this.child = undefined;
        retry();
        return;
      }
      this.finish();
    });
    for (const line of this.sent) child.stdin.write(line + "\n");
    if (this.closing) child.stdin.end();
  }

  /** Connects to `target` and starts `command` there (returns at once; output arrives as lines). */
  static open(given: Target, command: string, opts: { sshBin?: string } = {}): SshLink {
    let target: Target;
    let kept: { controlPath: string; persistS: number } | undefined;
    try {
      target = withPinnedHostKey(given);
      kept = keptConnection(target, opts.sshBin);
    } catch (err) {
      if (!isRepoSyncError(err)) throw err;
      return new SshLink(given, "", undefined, ["ssh", given.host], err);
    }
    // The script is long and says nothing to a reader: messages show where it would be.
    const shownArgs = (args: string[]) => ["ssh", ...args.slice(0, -1), "<repo-sync target script>"];
    // A missing key makes OpenSSH say only "Permission denied": checked here, it is named with its fix.
    const keyWhy = [target.keyPath, ...(target.jumpHosts ?? []).map((h) => h.keyPath)].map((k) => privateKeyProblem(k)).find((why) => why !== undefined);
    if (keyWhy) {
      return new SshLink(target, "", undefined, ["ssh", target.host], new RepoSyncError("config", `cannot use the SSH key for ${sshWhere(target)}${target.jumpHosts ? ` (via ${describeHops(target)})` : ""}: ${keyWhy}`, { vm: target.vm }));
    }
    if (!kept) return SshLink.direct(target, command, opts, shownArgs);
    // The first session of a kept connection: ssh joins the live master, or connects, leaves the master
    // in the background (ControlPersist) and runs the session on it.
    const args = [...sshOptionArgs(target, { path: kept.controlPath, master: true, persistS: kept.persistS }), "-T", "--", target.host, command];
    const link = new SshLink(target, kept.controlPath, undefined, shownArgs(args));
    link.retry = () => link.startDirect(command, opts, shownArgs);
    const start = () => {
      if (link.closing) return link.finish();
      mark(prepareKept(target, kept.controlPath) ? "ssh.reuse" : "ssh.master", { vm: target.vm });
      link.attach(spawn(opts.sshBin ?? "ssh", args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } }));
    };
    // The program may be opening this master right now (sshMaster.ts openKeptMasters): joined once it is up.
    const limitMs = openingLimitMs(target);
    if (openingElsewhere(kept.controlPath, limitMs)) void whileOpeningElsewhere(kept.controlPath, limitMs).then(start);
    else start();
    return link;
  }

  /** A connection of this run only. */
  private static direct(target: Target, command: string, opts: { sshBin?: string }, shownArgs: (args: string[]) => string[]): SshLink {
    const link = new SshLink(target, "", undefined, []);
    link.startDirect(command, opts, shownArgs);
    return link;
  }

  /** Starts a connection of this run only: its master's socket in a fresh 0700 folder of its own. */
  private startDirect(command: string, opts: { sshBin?: string }, shownArgs: (args: string[]) => string[]): void {
    const target = this.target;
    this.dir = fs.mkdtempSync(path.join(socketParent(), "repo-sync-ssh-"));
    this.socket = path.join(this.dir, "m");
    const args = masterArgs(target, this.socket, command);
    this.command = shownArgs(args);
    if (this.closing) return this.finish();
    // The hops' options: only a -F file reaches a ProxyJump hop's own ssh (see remote/jumpHosts.ts).
    if (target.jumpHosts?.length) fs.writeFileSync(jumpConfigPath(this.socket), jumpConfigText(target), { mode: 0o600 });
    mark("ssh.spawn", { vm: target.vm });
    this.attach(spawn(opts.sshBin ?? "ssh", args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } }));
  }

  /** The connection's control socket (rsync's ssh joins it). */
  get controlPath(): string {
    return this.socket;
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
    if (this.ended) return;
    this.sent.push(line);
    this.child?.stdin.write(line + "\n");
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
    this.closing = true;
    if (!this.ended) this.child?.stdin.end();
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
