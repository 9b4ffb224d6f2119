/**
 * A VM's OpenSSH connection kept for a short while after a run (OpenSSH `ControlPersist`; Ansible keeps
 * its connections 60 s the same way), so that the next command within that time (a preview then an
 * up, `status` then `sync`) opens its sessions over it instead of paying a new handshake.
 *
 * Safety: the control socket lives in a private folder of the user (mode 700, checked like the cache:
 * paths.ts), named by a hash of everything that identifies the connection (the user running repo-sync,
 * the ssh program, every option: host, port, login, key path, known_hosts path, host key checking, jump
 * hosts; and the contents of the key files, of the known_hosts or pinned host key file, of the jump
 * hosts' config and of the OpenSSH client config files read), so another user, key, login, host key
 * pin or config never reaches it. Before use, whatever sits at that path must be a socket of this user;
 * anything else is removed, never trusted (a stale socket, its master gone, ssh replaces itself:
 * `ControlMaster=auto`). The master exits on its own `REPO_SYNC_SSH_PERSIST_S` seconds (default 60;
 * 0: no master is kept) after its last session. OpenSSH detaches it from every pipe of ours (and a
 * ProxyJump hop's stderr with it), so no command waits for it.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { cachePath, ensurePrivateDir } from "../paths";
import { sshOptionArgs } from "./sshArgs";
import { sshFileOption } from "./sshOptions";
import { jumpConfigPath, jumpConfigText } from "./jumpHosts";
import { sshConfigFiles } from "./sshConfigFiles";
import { mark } from "../timeline";

/** The environment variable that sets how long an idle master stays (seconds; 0: none kept). */
export const PERSIST_ENV = "REPO_SYNC_SSH_PERSIST_S";
export const DEFAULT_PERSIST_S = 60;
const MAX_PERSIST_S = 3600;
/** ssh binds `<path>.<16 random characters>` first, then links it: all of it must fit sun_path (108). */
const MAX_SOCKET_PATH = 88;
/** Bumped when a master's options change meaning: masters of an older repo-sync are not joined. */
const IDENTITY_VERSION = "repo-sync ssh master 1";
/**
 * A master is joined for at most this long after it was opened, however busy (ControlPersist only
 * counts idle time): then it is retired (`-O stop`: its sessions finish, new ones open a new
 * connection), so that a key taken out of a VM's authorized_keys, or a rotated host key, is met by a
 * fresh handshake within this time.
 */
export const MAX_MASTER_AGE_S = 600;
/** Past its opener's limit, a claim is stale by this much more (the claim is written just before ssh starts). */
const CLAIM_SLACK_MS = 5_000;

/** Seconds an idle master stays (pure but for the environment); a config error for a bad value. */
export function persistSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[PERSIST_ENV];
  if (raw === undefined || raw === "") return DEFAULT_PERSIST_S;
  if (!/^[0-9]{1,4}$/.test(raw) || Number(raw) > MAX_PERSIST_S) {
    throw new RepoSyncError("config", `${PERSIST_ENV}=${JSON.stringify(raw)} is not a number of seconds from 0 to ${MAX_PERSIST_S}`, { hint: `set it to 0 to keep no SSH connection after a run, or unset it for ${DEFAULT_PERSIST_S} s` });
  }
  return Number(raw);
}

let dirChosen: { dir: string | undefined } | undefined;

/**
 * The private folder for the sockets: `<cache>/ssh`, or `/tmp/repo-sync-<uid>/ssh` when the cache's path
 * is too long for a socket; undefined when neither can be made private (then no master is kept).
 */
export function mastersDir(): string | undefined {
  if (dirChosen) return dirChosen.dir;
  const uid = process.getuid?.() ?? -1;
  const candidates: string[] = [];
  try {
    candidates.push(path.join(cachePath(), "ssh"));
  } catch {
    // no cache folder: the /tmp one may still do
  }
  candidates.push(path.join("/tmp", `repo-sync-${uid}`, "ssh"));
  dirChosen = { dir: undefined };
  for (const c of candidates) {
    if (c.length + 1 + 32 > MAX_SOCKET_PATH) continue;
    try {
      dirChosen = { dir: ensurePrivateDir(c) };
      sweep(dirChosen.dir as string);
      break;
    } catch {
      // refused (another user's, writable by others...): never used
    }
  }
  return dirChosen.dir;
}

/** A day: jump hosts' files and claims older than this, with no master beside them, are removed. */
const SWEEP_AGE_MS = 24 * 3600 * 1000;

/** Removes the files left beside masters long gone (once per process; they would pile up otherwise). */
function sweep(dir: string): void {
  const now = Date.now();
  for (const name of fs.readdirSync(dir)) {
    const m = /^([0-9a-f]{32})\.(jump\.conf|opening)$/.exec(name);
    if (!m || fs.existsSync(path.join(dir, m[1]))) continue;
    try {
      if (now - fs.lstatSync(path.join(dir, name)).mtimeMs > SWEEP_AGE_MS) fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

const digests = new Map<string, string>();

/** SHA-256 of a file's bytes (or why it cannot be read); read again whenever the file changed. */
function fileDigest(p: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code ?? "?"}`;
  }
  const key = `${p}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  let d = digests.get(key);
  if (d === undefined) {
    try {
      d = createHash("sha256").update(fs.readFileSync(p)).digest("hex");
    } catch (err) {
      return `unreadable:${(err as NodeJS.ErrnoException).code ?? "?"}`;
    }
    digests.set(key, d);
  }
  return d;
}

/** The identity of `t`'s connection (see the file comment): 32 hex characters (pure but for file reads). */
export function connectionIdentity(t: Target, sshBin = "ssh"): string {
  const h = createHash("sha256");
  const add = (label: string, value: string) => h.update(`${label}\0${value}\0`);
  add("version", IDENTITY_VERSION);
  add("uid", String(process.getuid?.() ?? -1));
  add("ssh", sshBin);
  // Every option of the connection, with a fixed stand-in for the socket's own path.
  add("args", JSON.stringify([...sshOptionArgs(t, { path: "/control", master: true }), t.host]));
  for (const key of [t.keyPath, ...(t.jumpHosts ?? []).map((j) => j.keyPath)]) add("key", fileDigest(key));
  add("known_hosts", fileDigest(t.knownHostsPath));
  if (t.hostKeyFile) add("pinned", fileDigest(t.hostKeyFile));
  if (t.jumpHosts?.length) add("jump", jumpConfigText(t));
  else if (!t.noUserSshConfig) for (const f of sshConfigFiles()) add("config", `${f}\0${fileDigest(f)}`);
  return h.digest("hex").slice(0, 32);
}

/** Where `t`'s kept connection lives, and for how long; undefined when none is kept. */
export function keptConnection(t: Target, sshBin = "ssh"): { controlPath: string; persistS: number } | undefined {
  const persistS = persistSeconds();
  if (persistS === 0) return undefined;
  const dir = mastersDir();
  if (!dir) return undefined;
  return { controlPath: path.join(dir, connectionIdentity(t, sshBin)), persistS };
}

/**
 * Makes `controlPath` safe to hand to ssh: whatever sits there must be a socket of this user (a
 * master of ours, or a stale one that ssh itself replaces), opened less than {@link MAX_MASTER_AGE_S}
 * ago (the socket's mtime is when its master bound it); an older master is retired, anything else (a
 * file, a link, another user's socket) is removed, never joined. Writes the jump hosts' file the
 * connection reads. Returns true when a socket was left there (a master to join, most likely).
 */
export function prepareKept(t: Target, controlPath: string, sshBin = "ssh"): boolean {
  if (t.jumpHosts?.length) writePrivately(jumpConfigPath(controlPath), jumpConfigText(t));
  let st: fs.Stats;
  try {
    st = fs.lstatSync(controlPath);
  } catch {
    return false;
  }
  if (st.isSocket() && st.uid === (process.getuid?.() ?? st.uid)) {
    if (Date.now() - st.mtimeMs <= MAX_MASTER_AGE_S * 1000) return true;
    // Stops listening (its own sessions, maybe another run's transfer, go on); the path is then free.
    spawnSync(sshBin, ["-o", sshFileOption("ControlPath", controlPath), "-O", "stop", "repo-sync-master"], { stdio: "ignore", timeout: 5_000 });
  }
  fs.rmSync(controlPath, { force: true });
  return false;
}

/** Writes `text` to `file` (mode 600) through a temporary name, so a reader sees all of it or none. */
function writePrivately(file: string, text: string): void {
  try {
    if (fs.readFileSync(file, "utf8") === text) return;
  } catch {
    // missing: written below
  }
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  fs.writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
  fs.renameSync(tmp, file);
}

/** For tests: forget the folder chosen (the environment changed). */
export function resetKeptConnections(): void {
  dirChosen = undefined;
  digests.clear();
}

/** Asks the master on `controlPath` to exit now (`ssh -O exit`); true when one did. */
export function closeMaster(controlPath: string, sshBin = "ssh"): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(sshBin, ["-o", sshFileOption("ControlPath", controlPath), "-O", "exit", "repo-sync-master"], { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}

/**
 * Opens the kept masters of `targets` in the background, `parallelism` at a time, and never fails (a
 * VM that cannot be reached is reported by its probe, which tries again). The Pulumi program calls it
 * while it prepares the source, before the engine starts the provider: a preview's or an up's
 * handshakes then overlap that work, and the probes join live masters. Few at a time, so that the
 * program itself, on the critical path, keeps its CPU; from the last target back, so that the probes
 * (first target first) and these meet once, instead of opening the same VM's master twice. Does
 * nothing when no master is kept.
 */
export async function openKeptMasters(targets: readonly Target[], parallelism: number, prepare: (t: Target) => Target = (t) => t): Promise<void> {
  if (parallelism <= 0) return;
  const queue = [...targets].reverse();
  const one = async (): Promise<void> => {
    for (let given = queue.shift(); given; given = queue.shift()) {
      try {
        const t = prepare(given);
        const kept = keptConnection(t);
        if (!kept || prepareKept(t, kept.controlPath)) continue; // none kept, or one there already
        // Claimed, so that a probe starting meanwhile waits for this master instead of opening a second.
        const claim = openingPath(kept.controlPath);
        try {
          fs.writeFileSync(claim, String(process.pid), { flag: "wx", mode: 0o600 });
        } catch {
          continue; // another process is opening it
        }
        mark("ssh.master", { vm: t.vm, early: 1 });
        const args = [...sshOptionArgs(t, { path: kept.controlPath, master: true, persistS: kept.persistS }), "-T", "--", t.host, "true"];
        await new Promise<void>((resolve) => {
          // Nothing of ours for the master to hold: its output is not read (the probe reports failures).
          const child = spawn("ssh", args, { stdio: "ignore", env: { ...process.env, LC_ALL: "C" } });
          const timer = setTimeout(() => child.kill("SIGKILL"), openingLimitMs(t));
          child.on("error", () => resolve());
          child.on("exit", () => {
            clearTimeout(timer);
            resolve();
          });
        });
        fs.rmSync(claim, { force: true });
        mark("ssh.master.ready", { vm: t.vm });
      } catch {
        // a setting the probe will report
      }
    }
  };
  await Promise.all(Array.from({ length: parallelism }, one));
}

/** How long opening `t`'s master may take: its opener kills its ssh then, and nobody waits longer. */
export function openingLimitMs(t: Pick<Target, "connectTimeoutS">): number {
  return (t.connectTimeoutS + 10) * 1000;
}

/** The claim of a master being opened by {@link openKeptMasters}: its opener's pid. */
function openingPath(controlPath: string): string {
  return `${controlPath}.opening`;
}

/**
 * True while another live process is opening the master of `controlPath` (within `limitMs`, see
 * {@link openingLimitMs}). A claim whose opener is dead is removed, and so is one older than that
 * limit: its opener died without removing it, and its pid may name another process by now.
 */
export function openingElsewhere(controlPath: string, limitMs: number): boolean {
  const claim = openingPath(controlPath);
  let pid: number;
  try {
    const st = fs.lstatSync(claim);
    if (!st.isFile() || st.uid !== (process.getuid?.() ?? st.uid)) throw new Error("not ours");
    if (Date.now() - st.mtimeMs > limitMs + CLAIM_SLACK_MS) throw new Error("stale");
    const text = fs.readFileSync(claim, "utf8");
    if (text === "") return true; // created, its pid not written yet
    pid = Number(text);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) throw new Error("not a pid");
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") fs.rmSync(claim, { force: true });
    return false;
  }
}

/** Waits (up to `limitMs`) while another process opens the master of `controlPath`. */
export async function whileOpeningElsewhere(controlPath: string, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline && openingElsewhere(controlPath, limitMs)) await new Promise((r) => setTimeout(r, 20));
}
