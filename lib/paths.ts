/** Where repo-sync keeps its caches (exports, scan results): outside any work tree. */
import * as os from "node:os";
import * as path from "node:path";

/** `$REPO_SYNC_CACHE`, else `$XDG_CACHE_HOME/repo-sync`, else `~/.cache/repo-sync`. */
export function cacheDir(): string {
  return process.env.REPO_SYNC_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "repo-sync");
}
