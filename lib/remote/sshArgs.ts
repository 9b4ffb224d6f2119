/**
 * The ssh arguments of a connection to a target: its port, key, user, the pinned host key options
 * (sshOptions.ts), the jump hosts' file (jumpHosts.ts) and the shared connection (ControlMaster). Used
 * by the target session (sshLink.ts), rsync's ssh (transfer/rsyncArgs.ts) and health checks. Pure.
 */
import * as path from "node:path";
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { hopAlias, JUMP_CONFIG_NAME } from "./jumpHosts";
import { sshFileOption, targetOptions } from "./sshOptions";

/** A shared connection: the master (our target session) or a client joining it (rsync's ssh). */
export interface ControlSpec {
  /** The control socket. */
  path: string;
  master: boolean;
}

/**
 * The ssh options every connection uses: strict host key checking against the configured file (or
 * the target's given host key: targetOptions), no connection sharing unless `control` says so (a
 * user's ControlMaster settings must not carry our runs).
 */
export function sshOptionArgs(t: Target, control?: ControlSpec): string[] {
  return [
    ...jumpArgs(t, control),
    "-p", String(t.port),
    "-o", sshFileOption("IdentityFile", t.keyPath),
    "-l", t.user,
    ...targetOptions(t).flatMap(([name, value]) => ["-o", `${name}=${value}`]),
    "-o", `ControlMaster=${control?.master ? "yes" : "no"}`,
    "-o", control ? sshFileOption("ControlPath", control.path) : "ControlPath=none",
    // The master lives exactly as long as our session on it: never left behind in the background.
    ...(control?.master ? ["-o", "ControlPersist=no"] : []),
    "-o", "LogLevel=ERROR",
  ];
}

/**
 * A target behind jump hosts: its connection reads the hops from the file written beside the control
 * socket (remote/jumpHosts.ts) and jumps through the last one. Without that folder there is no file:
 * refused rather than connecting around the bastion.
 */
function jumpArgs(t: Target, control?: ControlSpec): string[] {
  const hops = t.jumpHosts ?? [];
  // Resolved from ssh.config_path: no other client config may add to it (the hops' file already replaces it).
  if (hops.length === 0) return t.noUserSshConfig ? ["-F", "/dev/null"] : [];
  if (!control) throw new RepoSyncError("config", `${t.vm}: a connection through jump hosts needs its control folder (a bug in repo-sync; please report it)`, { vm: t.vm });
  return ["-F", path.join(path.dirname(control.path), JUMP_CONFIG_NAME), "-o", `ProxyJump=${hopAlias(hops.length - 1)}`];
}
