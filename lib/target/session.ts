/**
 * The target scripts (script.ts) run over one SSH connection per target (remote/sshLink.ts): a
 * read-only probe that keeps the connection open for an rsync dry run, and a locking session that
 * guards one sync and carries its rsync.
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { SshLink } from "../remote/sshLink";
import type { SessionFence } from "./fence";
import {
  asShCommand, HISTORY_DONE, historyReadScript, holdingProbeScript, parseTargetHeader, PROBE_DONE, SCRIPT_ERRORS,
  sessionScript, TargetHeader,
} from "./script";
import { type HistoryEntry, historyLine, parseHistory, type HistoryRead } from "./history";

function scriptError(link: SshLink, code: string, stderr = ""): RepoSyncError {
  const t = link.target;
  const e = SCRIPT_ERRORS[code] ?? SCRIPT_ERRORS.unknown;
  return new RepoSyncError(e.kind, `${e.reason} (${t.path})`, {
    vm: t.vm, stderr: stderr.trim() || undefined, hint: e.hint,
  });
}

/**
 * Reads the script's header lines up to `end` (READY / DONE). An `ERR` line is the script's verdict;
 * a connection that ends first is an SSH failure (host key, auth, unreachable...).
 */
async function readHeader(link: SshLink, end: string, timeoutMs: number): Promise<TargetHeader> {
  const lines: string[] = [];
  try {
    for (;;) {
      const line = await link.nextLine(timeoutMs);
      if (line === undefined) throw await link.failure();
      if (line === end) return parseTargetHeader(lines.join("\n"));
      if (line.startsWith("ERR ")) throw scriptError(link, line.slice(4).trim(), link.errorOutput);
      lines.push(line);
    }
  } catch (err) {
    await link.close();
    throw err;
  }
}

/** Seconds allowed for a connection and a script's first answer, beyond any lock wait. */
function answerBudgetS(t: Target): number {
  return t.connectTimeoutS + 60;
}

/**
 * A read-only look at a target that keeps its connection for a dry run: `controlPath` carries rsync.
 * Close it when done.
 */
export class TargetProbe {
  private constructor(private readonly link: SshLink, readonly header: TargetHeader) {}

  /** Connects and reads the target's directory state and `.sync_rev` without changing anything. */
  static async open(target: Target): Promise<TargetProbe> {
    const link = SshLink.open(target, asShCommand(holdingProbeScript(target.path, target.layout), target.sudo));
    return new TargetProbe(link, await readHeader(link, PROBE_DONE, answerBudgetS(target) * 1000));
  }

  /** The connection's control socket (for rsync). */
  get controlPath(): string {
    return this.link.controlPath;
  }

  close(): Promise<void> {
    return this.link.close();
  }
}

/**
 * Reads a target's audit trail (history.ts) over a connection of its own, read-only and without the
 * lock (the trail is replaced by a rename: a read sees it whole).
 */
export async function readHistory(target: Target): Promise<HistoryRead> {
  const link = SshLink.open(target, asShCommand(historyReadScript(target.path), target.sudo));
  try {
    const lines: string[] = [];
    for (;;) {
      const line = await link.nextLine(answerBudgetS(target) * 1000);
      if (line === undefined) throw await link.failure();
      if (line === HISTORY_DONE) return parseHistory(lines.join("\n"));
      if (line.startsWith("ERR ")) throw scriptError(link, line.slice(4).trim(), link.errorOutput);
      lines.push(line);
    }
  } finally {
    await link.close();
  }
}

/** A full commit hash, or a refusal before anything is sent (it becomes part of a path on the VM). */
function checkedHash(commit: string): string {
  if (!/^[0-9a-f]{40}$/.test(commit)) {
    throw new RepoSyncError("transfer", `refusing a malformed revision ${JSON.stringify(commit)}`);
  }
  return commit;
}

/** Owner and group of what lands (already checked as names by the config). */
export interface Ownership {
  owner?: string;
  group?: string;
}

/** A connection whose session has not started (see {@link TargetSession.connect}). */
export interface PendingSession {
  /**
   * Takes the lock and reads the target's state; a connection failure surfaces here. `ownership`: the
   * owner and group what lands will have (rsync --chown), refused first when the VM lacks them.
   */
  start(ownership?: Ownership): Promise<TargetSession>;
  /** Ends the connection without touching the target. */
  abandon(): Promise<void>;
}

/**
 * Awaits the source side's `work` while `sessions` connect; when it fails, the connections are ended
 * untouched (no session started, so nothing happened on the VMs) and its error is thrown.
 */
export async function whileConnecting<T>(sessions: PendingSession[], work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    await Promise.all(sessions.map((s) => s.abandon()));
    throw err;
  }
}

/**
 * An exclusive session on a target: holds the target's lock until {@link TargetSession.close} (or until
 * the connection drops), changes the marker files on request, and carries rsync (`controlPath`).
 */
export class TargetSession {
  private constructor(private readonly link: SshLink, readonly header: TargetHeader) {}

  /** Connects and takes the target's lock, waiting up to `lockWaitS` for another run's. */
  static open(target: Target, lockWaitS: number, migrate = false): Promise<TargetSession> {
    return TargetSession.connect(target, lockWaitS, migrate).start();
  }

  /**
   * Starts the connection only: the target is not touched (no folder created, no lock taken) until
   * {@link PendingSession.start}. Lets the SSH handshake overlap the work on the source side.
   */
  static connect(target: Target, lockWaitS: number, migrate = false): PendingSession {
    const link = SshLink.open(
      target,
      asShCommand(sessionScript(target.path, lockWaitS, target.layout, migrate, target.shared ?? []), target.sudo),
    );
    return {
      async start(ownership = {}) {
        link.send(["go", ownership.owner || "-", ownership.group || "-"].join(" "));
        return new TargetSession(link, await readHeader(link, "READY", (lockWaitS + answerBudgetS(target)) * 1000));
      },
      abandon: () => link.close(),
    };
  }

  /** The connection's control socket (for rsync). */
  get controlPath(): string {
    return this.link.controlPath;
  }

  /** Who this session is on the VM: a transfer started with it runs only while the session lives (fence.ts). */
  get fence(): SessionFence {
    const fence = this.header.session;
    if (!fence) {
      throw new RepoSyncError(
        "transfer",
        `the target session on ${this.link.target.host} did not name itself (a bug in repo-sync; please report it)`,
        { vm: this.link.target.vm },
      );
    }
    return fence;
  }

  /** Sends one command; resolves with the `KEPT` lines it printed before its `OK`. */
  private async command(line: string): Promise<string[]> {
    if (this.link.closed) throw scriptError(this.link, "unknown", "the session is closed (connection lost)");
    this.link.send(line);
    const kept: string[] = [];
    for (;;) {
      const answer = await this.link.nextLine(60_000);
      if (answer === "OK") return kept;
      if (answer === undefined) throw await this.link.failure();
      if (answer.startsWith("KEPT ")) kept.push(answer.slice(5));
      else throw scriptError(this.link, answer.startsWith("ERR ") ? answer.slice(4).trim() : "unknown");
    }
  }

  /** Removes `.sync_rev` (and marks the folder as ours) before the tree changes. */
  async invalidate(): Promise<void> {
    await this.command("invalidate");
  }

  /** Writes `.sync_rev` atomically; call only after the tree fully arrived. */
  async commit(revision: string): Promise<void> {
    await this.command(`commit ${checkedHash(revision)}`);
  }

  /** Releases layout: makes `releases/<commit>` ready to receive the tree (its marker removed until it is whole). */
  async prepareRelease(commit: string): Promise<void> {
    await this.command(`prepare ${checkedHash(commit)}`);
  }

  /** Releases layout: the release's `.sync_rev` (and its first-completion stamp); after the transfer only. */
  async completeRelease(commit: string): Promise<void> {
    await this.command(`release ${checkedHash(commit)}`);
  }

  /** Releases layout: points `current` at a complete release with one rename (readers see one or the other). */
  async switchTo(commit: string): Promise<void> {
    await this.command(`switch ${checkedHash(commit)}`);
  }

  /**
   * Releases layout: links the shared paths (target/shared.ts) into `releases/<commit>`, moving what
   * the release holds there to `shared/` the first time; returns the folders it moved anything aside to.
   */
  async share(commit: string): Promise<string[]> {
    if (!this.link.target.shared?.length) return [];
    return this.command(`share ${checkedHash(commit)}`);
  }

  /** Releases layout: removes a release that `current` does not point at. */
  async dropRelease(commit: string): Promise<void> {
    await this.command(`drop ${checkedHash(commit)}`);
  }

  /** Migration: the in-place tree whose marker names `commit` becomes releases/<commit>, served by `current`. */
  async adopt(commit: string): Promise<void> {
    await this.command(`adopt ${checkedHash(commit)}`);
  }

  /** Migration: the release `current` serves goes back in place; returns the folder that keeps every release. */
  async flatten(commit: string): Promise<string> {
    const [kept] = await this.command(`flatten ${checkedHash(commit)}`);
    return kept ?? "";
  }

  /** Appends an entry to the target's audit trail (history.ts), under the lock this session holds. */
  async appendHistory(entry: HistoryEntry): Promise<void> {
    await this.command(`log ${historyLine(entry)}`);
  }

  /** Removes what marks the folder as managed (`.sync_rev`, `.repo-sync.managed`). */
  async unmanage(): Promise<void> {
    await this.command("unmanage");
  }

  /** Removes the whole target directory (its path passed the safety check). */
  async purge(): Promise<void> {
    await this.command("purge");
  }

  /** Ends the session, releases the lock and waits for the connection to close. */
  close(): Promise<void> {
    return this.link.close();
  }
}
