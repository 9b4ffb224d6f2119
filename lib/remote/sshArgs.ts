/**
 * The ssh arguments of a connection to a target: its port, key, user, the pinned host key options
 * (sshOptions.ts), the jump hosts' file (jumpHosts.ts) and the shared connection (ControlMaster). Used
 * by the target session (sshLink.ts), rsync's ssh (transfer/rsyncArgs.ts) and health checks. Pure.
 */
import type { Target } from "../config/types";
import { RepoSyncError } from "../errors";
import { hopAlias, jumpConfigPath } from "./jumpHosts";
import { sshFileOption, targetOptions } from "./sshOptions";

/** A shared connection: the master (our target session) or a client joining it (rsync's ssh). */
export interface ControlSpec {
  /** The control socket. */
  path: string;
  master: boolean;
  /**
   * A master kept this many seconds after its last session (remote/sshMaster.ts): it joins a live one
   * on the same socket if there is one (`ControlMaster=auto`); absent: a master of this run only.
   */
  persistS?: number;
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
    "-o", `ControlMaster=${control?.master ? (control.persistS ? "auto" : "yes") : "no"}`,
    "-o", control ? sshFileOption("ControlPath", control.path) : "ControlPath=none",
    // A master of this run lives exactly as long as our session on it; a kept one (sshMaster.ts) exits
    // on its own that many seconds after its last session.
    ...(control?.master ? ["-o", `ControlPersist=${control.persistS ? `${control.persistS}s` : "no"}`] : []),
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
  return ["-F", jumpConfigPath(control.path), "-o", `ProxyJump=${hopAlias(hops.length - 1)}`];
}
