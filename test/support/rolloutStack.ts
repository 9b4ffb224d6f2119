/**
 * A fleet in the releases layout, a source repo and a Pulumi stack of repo-sync's program on them,
 * deployed once: what the gated-rollout e2e files share. The file's own config (its waves, checks and
 * hooks) is written by `configure`, which may write it again between cases.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Fleet, startFleet } from "../../tools/fleet/fleet";
import { makeSourceRepo, type SourceRepo } from "../../tools/fleet/sourceRepo";
import { programProject, type PulumiProject } from "../../tools/pulumiCli";

/** The parts of a rollout stack a test uses. */
export interface RolloutStack {
  fleet: Fleet;
  repo: SourceRepo;
  /** A folder every VM's user may write (flag files, hook logs). */
  flags: string;
  /** The config file the stack reads. */
  cfg: string;
  project: PulumiProject;
  ids(): string[];
  dir(vm: string): string;
  /** The commit `current` points at. */
  served(vm: string): string;
  dispose(): Promise<void>;
}

/** What `configure` gets: the stack before its Pulumi project exists. */
export type StackParts = Omit<RolloutStack, "project" | "dispose">;

/**
 * Starts `count` VMs from `firstOctet`, a repo (with `initial` committed when given), lets `configure`
 * write the config, and runs a first `pulumi up` that lands the head on every VM.
 */
export async function startRolloutStack(count: number, firstOctet: number, configure: (s: StackParts) => void, initial?: Record<string, string>): Promise<RolloutStack> {
  const fleet = await startFleet({ count, firstOctet });
  const repo = makeSourceRepo();
  if (initial) repo.commit(initial, "initial");
  const flags = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-rollout-"));
  fs.chmodSync(flags, 0o777);
  const dir = (vm: string) => fleet.vm(vm).targetPath;
  const parts: StackParts = {
    fleet, repo, flags, cfg: path.join(fleet.baseDir, "config.yml"),
    ids: () => fleet.vms.map((v) => v.id),
    dir,
    served: (vm: string) => fs.readlinkSync(path.join(dir(vm), "current")).slice("releases/".length),
  };
  configure(parts);
  const project = await programProject(parts.cfg);
  const stack: RolloutStack = {
    ...parts,
    project,
    async dispose() {
      project.dispose();
      await fleet.stop();
      fs.rmSync(repo.path, { recursive: true, force: true });
      fs.rmSync(flags, { recursive: true, force: true });
    },
  };
  await project.ok(["up", "--yes", "--skip-preview"]);
  for (const vm of stack.ids()) assert.equal(stack.served(vm), repo.head(), vm);
  return stack;
}
