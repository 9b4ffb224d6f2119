/**
 * The private known_hosts file behind a target's given host key (`Target.hostKey`): one line, mode
 * 600, in `<cache>/host-keys` (a private folder, checked like the cache itself: paths.ts), named by
 * the SHA-256 of its content. The same host, port and key always give the same file, and another key
 * another file, so a run never edits a file another run is reading, and nothing outside repo-sync's
 * private cache (no user's known_hosts) is read or written for such a target.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { cacheDir, ensurePrivateDir } from "../paths";
import { parseHostKey, pinnedKnownHostsLine } from "../config/hostKey";

/** The folder under the cache that holds the pinned files. */
export const HOST_KEYS_DIR = "host-keys";

/** True when `file` is ours, private, a plain file, and holds exactly `line`. */
function holds(file: string, line: string): boolean {
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.uid !== (process.getuid?.() ?? st.uid) || (st.mode & 0o077) !== 0) return false;
    return fs.readFileSync(file, "utf8") === line;
  } catch {
    return false;
  }
}

/**
 * The pinned known_hosts file for `t` (written when missing or not exactly as it must be); a
 * `config` RepoSyncError naming the VM when the key is not one (parseHostKey) or the file cannot be
 * written. `cache`: the cache folder (default: {@link cacheDir}).
 */
export function pinnedKnownHostsFile(t: Pick<Target, "vm" | "host" | "port" | "hostKey">, cache?: string): string {
  const parsed = parseHostKey(t.hostKey);
  if ("problem" in parsed) {
    throw new RepoSyncError("config", `hostKey ${parsed.problem}`, { vm: t.vm, hint: "pass the VM's public host key, as @pulumi/command's connection.hostKey takes it" });
  }
  const line = pinnedKnownHostsLine(t.host, t.port, parsed.key);
  const dir = ensurePrivateDir(path.join(cache ?? cacheDir(), HOST_KEYS_DIR));
  const file = path.join(dir, createHash("sha256").update(line).digest("hex"));
  if (holds(file, line)) return file;
  // Written aside and renamed over: a reader sees the whole line or the old file, never a part.
  const tmp = path.join(dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  try {
    fs.writeFileSync(tmp, line, { mode: 0o600, flag: "wx" });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new RepoSyncError("config", `cannot write the known_hosts file that pins ${t.vm}'s host key (${file}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { vm: t.vm, cause: err, hint: "check that repo-sync's cache folder can be written (REPO_SYNC_CACHE)" });
  }
  return file;
}

/**
 * `t` ready to connect: with a given host key, its pinned file in `hostKeyFile` (the argv builders
 * refuse a target with a key and no file); without one, `t` as it is (known_hosts).
 */
export function withPinnedHostKey(t: Target, cache?: string): Target {
  return t.hostKey === undefined ? t : { ...t, hostKeyFile: pinnedKnownHostsFile(t, cache) };
}
