/**
 * Two push targets on one machine whose folders are the same or nested (`/x/app` and `/x/app/staging`)
 * would destroy each other: a sync of one runs `rsync --delete` over the other's tree, VM-local files
 * included. Refused when the config is loaded. One machine is recognised by its address (the host,
 * canonical, its port and the hops that lead to it) or, where known_hosts pins them, by a host key the
 * two share. Target paths are normal already (safety.ts: absolute, no `.`, `..`, `//` or trailing
 * slash), so comparing their segments is exact; a symlink on the VM cannot be seen from here.
 */
import type { ConfigProblem, Target } from "./types";

/** The host as OpenSSH would reach it, for comparing (pure): lower case, IPv4 and IPv6 in their canonical forms, no trailing dot. */
export function canonicalHost(host: string): string {
  const h = host.toLowerCase().replace(/\.$/, "");
  try {
    // WHATWG URL parsing canonicalizes what getaddrinfo also accepts: 127.1, 0x7f.0.0.1, ::0:1.
    return new URL(`http://${h.includes(":") ? `[${h}]` : h}/`).hostname.replace(/^\[(.*)\]$/, "$1");
  } catch {
    return h;
  }
}

/** Where a target's sshd is reached (pure): every hop, then the VM, as host:port. */
export function targetAddress(t: Pick<Target, "host" | "port" | "jumpHosts">): string {
  return [...(t.jumpHosts ?? []), t].map((h) => `[${canonicalHost(h.host)}]:${h.port}`).join(" -> ");
}

/** True when the two absolute, normal paths are the same folder or one holds the other (pure). */
export function treesOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/**
 * Problems for every pair of push targets on one machine with overlapping folders (pure).
 * `sameMachine(a, b)` says why two targets are one machine (e.g. "both at [10.0.0.5]:22"), or
 * undefined. Targets whose host is not known yet (supplied by a program) are left out.
 */
export function overlapProblems(targets: Target[], sameMachine: (a: Target, b: Target) => string | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const known = targets.filter((t) => t.host !== "");
  for (const [i, a] of known.entries()) {
    for (const b of known.slice(i + 1)) {
      if (!treesOverlap(a.path, b.path)) continue;
      const why = sameMachine(a, b);
      if (!why) continue;
      const how = a.path === b.path ? "are the same folder" : a.path.length < b.path.length ? `${a.path} holds ${b.path}` : `${b.path} holds ${a.path}`;
      problems.push({
        key: `repository.vm_repo_paths.${b.vm}`,
        message: `${b.vm} (${b.path}) and ${a.vm} (${a.path}) are on one machine (${why}) and ${how}: a sync of either would delete the other's files (rsync --delete), VM-local files included; give each its own folder side by side (e.g. ${siblingExample(a.path, b.path)}), or list only one of them in push_targets`,
      });
    }
  }
  return problems;
}

/** The address rule: the same host, port and hops. */
export function sameAddress(a: Target, b: Target): string | undefined {
  const where = targetAddress(a);
  return where === targetAddress(b) ? `both at ${where}` : undefined;
}

function siblingExample(a: string, b: string): string {
  const [outer, inner] = a.length <= b.length ? [a, b] : [b, a];
  return outer === inner ? `${outer} and ${outer}-2` : `${outer} and ${outer}-${inner.slice(inner.lastIndexOf("/") + 1)}`;
}
