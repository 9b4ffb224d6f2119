/**
 * Runs the target scripts over an ssh2 connection: a read-only probe, and a locking session that
 * guards one sync (see targetScript.ts for the protocol).
 */
import type { ClientChannel } from "ssh2";
import { RepoSyncError } from "../errors";
import type { SshConnection } from "./ssh";
import { asShCommand, parseTargetHeader, probeScript, SCRIPT_ERRORS, sessionScript, TargetHeader } from "./targetScript";

/** Reads the target's directory state and `.sync_rev` without changing anything. */
export async function probeTarget(conn: SshConnection): Promise<TargetHeader> {
  const t = conn.target;
  const r = await conn.exec(asShCommand(probeScript(t.path)), { timeoutMs: 60_000 });
  const header = parseTargetHeader(r.stdout);
  if (header.error || r.code !== 0) throw scriptError(t.vm, t.path, header.error ?? "cd", r.stderr);
  return header;
}

function scriptError(vm: string, path: string, code: string, stderr = ""): RepoSyncError {
  const e = SCRIPT_ERRORS[code] ?? SCRIPT_ERRORS.unknown;
  return new RepoSyncError(e.kind, `${e.reason} (${path})`, { vm, stderr: stderr.trim() || undefined, hint: e.hint });
}

/**
 * An exclusive session on a target: holds the target's lock until {@link TargetSession.close}
 * (or until the connection drops), and changes the marker files on request.
 */
export class TargetSession {
  private buffer = "";
  private lines: string[] = [];
  private waiters: Array<(line: string) => void> = [];
  private closed = false;

  private constructor(private readonly conn: SshConnection, private readonly channel: ClientChannel, public header: TargetHeader) {}

  /** Opens the session; waits up to `lockWaitS` for another run's lock. */
  static async open(conn: SshConnection, lockWaitS: number): Promise<TargetSession> {
    const t = conn.target;
    const channel = await conn.open(asShCommand(sessionScript(t.path, lockWaitS)));
    const session = new TargetSession(conn, channel, { state: "missing", marker: "absent" });
    let stderr = "";
    channel.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    channel.on("data", (d: Buffer) => session.onData(d.toString()));
    channel.on("close", () => session.onClose());
    const headerLines: string[] = [];
    for (;;) {
      const line = await session.nextLine((lockWaitS + 60) * 1000);
      if (line.startsWith("ERR ")) {
        session.close();
        throw scriptError(t.vm, t.path, line.slice(4).trim(), stderr);
      }
      if (line === "READY") break;
      if (line === "\0closed") throw scriptError(t.vm, t.path, "unknown", stderr || "the session ended before it was ready");
      headerLines.push(line);
    }
    session.header = parseTargetHeader(headerLines.join("\n"));
    return session;
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

  private onClose(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w("\0closed");
  }

  private nextLine(timeoutMs: number): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve("\0closed");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new RepoSyncError("timeout", `the target session on ${this.conn.target.vm} did not answer within ${timeoutMs} ms`, { vm: this.conn.target.vm }));
      }, timeoutMs);
      const done = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push(done);
    });
  }

  private async command(line: string): Promise<void> {
    const t = this.conn.target;
    if (this.closed) throw scriptError(t.vm, t.path, "unknown", "the session is closed (connection lost)");
    this.channel.write(line + "\n");
    const answer = await this.nextLine(60_000);
    if (answer === "OK") return;
    throw scriptError(t.vm, t.path, answer.startsWith("ERR ") ? answer.slice(4).trim() : "unknown", answer === "\0closed" ? "connection lost" : "");
  }

  /** Removes `.sync_rev` (and marks the folder as ours) before the tree changes. */
  invalidate(): Promise<void> {
    return this.command("invalidate");
  }

  /** Writes `.sync_rev` atomically; call only after the tree fully arrived. */
  commit(revision: string): Promise<void> {
    if (!/^[0-9a-f]{40}$/.test(revision)) throw new RepoSyncError("transfer", `refusing to write a malformed revision ${JSON.stringify(revision)}`);
    return this.command(`commit ${revision}`);
  }

  /** Removes what marks the folder as managed (`.sync_rev`, `.repo-sync.managed`). */
  unmanage(): Promise<void> {
    return this.command("unmanage");
  }

  /** Removes the whole target directory (its path passed the safety check). */
  purge(): Promise<void> {
    return this.command("purge");
  }

  /** Ends the session and releases the lock. */
  close(): void {
    if (this.closed) return;
    this.channel.end();
  }
}
