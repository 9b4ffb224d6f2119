/**
 * The CopyToRemote column: @pulumi/command's remote.CopyToRemote of the same tree to the same VMs,
 * with the same key and pinned host keys (bench/copyToRemote is the program). Needs the
 * pulumi-resource-command plugin on PATH (./run.sh setup builds it).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Target } from "../lib/config/types";
import { pinnedHostKey } from "../providers/postSyncHook";
import { PROJECT_ROOT, projectFromFixture, PulumiProject } from "../tools/pulumiCli";
import { must, timed, Timed } from "./timing";

/** True when the engine can load the plugin. */
export async function copyToRemoteAvailable(): Promise<boolean> {
  return (await timed("sh", ["-c", "command -v pulumi-resource-command"])).code === 0;
}

/** A fresh CopyToRemote stack pushing `source` (a folder) to `targets`. */
export async function copyToRemoteProject(targets: Target[], source: string): Promise<PulumiProject> {
  const p = projectFromFixture(path.join(PROJECT_ROOT, "bench", "copyToRemote"));
  await p.init();
  const known = fs.readFileSync(targets[0].knownHostsPath, "utf8");
  const list = targets.map((t) => ({ vm: t.vm, host: t.host, port: t.port, user: t.user, path: t.path, hostKey: pinnedHostKey(known, t.host, t.port) }));
  await p.ok(["config", "set", "targets", JSON.stringify(list)]);
  await p.ok(["config", "set", "keyPath", targets[0].keyPath]);
  await p.ok(["config", "set", "source", source]);
  return p;
}

/** One timed `pulumi up` of a CopyToRemote stack. */
export function copyUp(p: PulumiProject): Promise<Timed> {
  return must(timed("pulumi", ["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: p.dir, env: p.env }), "pulumi up (CopyToRemote)");
}
