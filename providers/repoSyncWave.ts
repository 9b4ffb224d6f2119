/**
 * `RepoSyncWave`: the gate after one wave of a rollout that can roll back or tolerate failures
 * (lib/sync/waveGate.ts says what it decides). The RepoSync component declares one per wave,
 * `<name>-wave-<n>`, after that wave's targets; the next wave's targets wait on it. So `pulumi preview`
 * shows the waves as these resources, and `pulumi up` fails on the gate that stopped the rollout,
 * with every VM named. Like RepoSyncTarget, the serialized provider only loads the implementation
 * (providers/waveRuntime.ts) at call time.
 */
import * as pulumi from "@pulumi/pulumi";
import type { HealthCheckSettings } from "../lib/config/types";
import type { RepoSyncTargetArgs, TargetPlumbing } from "./repoSyncTarget";
import { ownUrn } from "./repoSyncTarget";
import type { DeployOutcome } from "../lib/sync/waveGate";

/** One VM of the gate's waves: how to reach it, what runs after its sync, and what its target did. */
export interface WaveMemberArgs {
  /** The VM's target inputs, as its RepoSyncTarget got them (connection, path, layout, source). */
  target: pulumi.Input<RepoSyncTargetArgs & TargetPlumbing>;
  /** Its wave, 1-based. */
  wave: number;
  /** Its post-sync hook (run by the gate, after the sync, before the check). */
  hook?: string;
  check?: HealthCheckSettings;
  /** Its target's `deployment` output. */
  outcome: pulumi.Input<DeployOutcome | undefined>;
}

/** Inputs of a RepoSyncWave. */
export interface RepoSyncWaveArgs {
  wave: number;
  waves: number;
  commit: pulumi.Input<string>;
  /** The run id its targets got (`rolloutRun`): not compared. */
  run: string;
  rollout: { maxFailures: { count: number } | { percent: number }; bakeS: number; onFailure: "stop" | "rollback" };
  /** The VMs of this wave and of every wave before. */
  members: WaveMemberArgs[];
  /** Every earlier gate's `failed` (VMs of the earlier waves that failed within `max_failures`). */
  earlierFailures: pulumi.Input<string[]>;
  lockTimeoutS: number;
  parallelism: number;
}

// The same few lines as RepoSyncTarget's provider, not shared: each serialized provider carries its own
// loader, so that neither resource's stored provider text changes with the other's module.
const runtimeModule: string = require.resolve("./waveRuntime");

type Runtime = typeof import("./waveRuntime");

function load(): Runtime {
  const candidates = [runtimeModule, `${process.cwd()}/dist/providers/waveRuntime.js`, `${process.cwd()}/node_modules/repo-sync/dist/providers/waveRuntime.js`];
  for (const c of candidates) {
    try {
      return require(c) as Runtime;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
    }
  }
  throw new Error(`repo-sync: cannot load the wave gate's implementation (tried ${candidates.join(", ")}); run \`npm run build\` in the project`);
}

const provider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    return load().check(olds, news);
  },
  async diff(id, olds, news) {
    return load().diff(id, olds, news);
  },
  async create(inputs) {
    return load().create(inputs);
  },
  async update(id, olds, news) {
    return load().update(id, olds, news);
  },
  async delete() {
    // A gate holds nothing on the VMs.
  },
};

/** The gate after one wave of a rollout (see the file comment). */
export class RepoSyncWave extends pulumi.dynamic.Resource {
  /** VMs of this wave that failed within `max_failures`. */
  declare readonly failed: pulumi.Output<string[]>;

  constructor(name: string, args: RepoSyncWaveArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, logUrn: ownUrn("RepoSyncWave", name, opts?.parent), failed: undefined }, opts, "repo-sync", "RepoSyncWave");
  }
}
