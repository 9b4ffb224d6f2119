/**
 * The RepoSyncWave provider's behaviour (loaded with `require()` at call time, like runtime.ts).
 * - check: the inputs as given.
 * - diff: the gate runs again when the commit, a VM of its waves (where it is, its hook or check, or
 *   what its target did: a switch or a failure is a new `deployment`), the rollout's knobs or the
 *   earlier failures changed, and while VMs of its wave failed at its last pass (the last gate: of any
 *   wave, since it fails the up for them). Not for the run id
 *   alone: a no-change `up` passes no gate again.
 * - create/update: lib/sync/waveGate.ts's passWave; its error (the rollout stopped, or failures within
 *   `max_failures` at the last wave) fails the gate with every VM named, with its outputs (what passed)
 *   recorded in the state, as a resource that failed to initialize is: else the next `up` would hook
 *   and check again the VMs that passed.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { HealthCheckSettings } from "../lib/config/types";
import { type DeployOutcome, passWave, type WaveGateSpec, type WaveMember } from "../lib/sync/waveGate";
import { resourceLogger } from "./engineLog";
import { hasUnknowns, normalizeInputs, plain, toSourceSettings, toTarget } from "./inputs";

/** The gate's inputs, plain. */
interface WaveInputs {
  wave: number;
  waves: number;
  commit: string;
  run: string;
  rollout: WaveGateSpec["rollout"];
  members: { target: Record<string, unknown>; wave: number; hook?: string; check?: HealthCheckSettings; outcome?: DeployOutcome }[];
  earlierFailures: string[];
  lockTimeoutS: number;
  parallelism: number;
  logUrn?: string;
}


function inputsOf(raw: Record<string, unknown>): WaveInputs {
  return raw as unknown as WaveInputs;
}

/** What a gate compares (pure): everything but the run id and the log address. */
export function comparedWave(raw: Record<string, unknown>): string {
  const i = inputsOf(raw);
  return JSON.stringify([i.wave, i.waves, i.commit, i.rollout, i.earlierFailures ?? [], (i.members ?? []).map((m) => {
    const t = normalizeInputs(m.target ?? {});
    return [t.vm, t.host, t.port, t.path, t.layout ?? "", m.wave, m.hook ?? null, m.check ?? null, m.outcome ?? null];
  })]);
}

export async function check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  return { inputs: news };
}

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  // The last gate fails the up while any wave's VMs failed (within max_failures): it runs again too.
  const last = news.wave === news.waves && Array.isArray(news.earlierFailures) && news.earlierFailures.length > 0;
  const retry = (Array.isArray(olds.failed) && olds.failed.length > 0) || last;
  const changes = hasUnknowns(news) || retry || comparedWave(olds) !== comparedWave(news);
  return { changes, replaces: [], deleteBeforeReplace: false };
}

/**
 * A gate that failed, as the engine takes a resource that exists but failed to initialize: its
 * message, and the outputs to keep (the dynamic provider host sends `id`, `properties` and `reasons`
 * as the engine's ErrorResourceInitFailed). So `passed` survives the failure: the next `up` retries
 * the gate (the engine updates a resource with init errors) without hooking and checking again the
 * VMs that passed.
 */
class GateFailed extends Error {
  constructor(message: string, readonly id: string, readonly properties: Record<string, unknown>) {
    super(message);
  }

  get reasons(): string[] {
    return [this.message];
  }
}

async function pass(id: string, raw: Record<string, unknown>, olds: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
  const i = inputsOf(raw);
  const members: WaveMember[] = i.members.map((m) => ({
    target: toTarget(normalizeInputs(m.target)),
    wave: m.wave,
    ...(m.hook ? { hook: m.hook } : {}),
    ...(m.check ? { check: m.check } : {}),
    ...(m.outcome ? { outcome: m.outcome } : {}),
  }));
  const first = i.members[0];
  const log = resourceLogger(`wave ${i.wave}`, i.logUrn);
  try {
    const spec: WaveGateSpec = {
      wave: i.wave, waves: i.waves, commit: i.commit, run: i.run, rollout: i.rollout, members,
      earlierFailures: i.earlierFailures ?? [],
      passed: (olds?.passed as Record<string, string> | undefined) ?? {},
      // A new gate has no record: it hooks only what this run switched (toHook).
      ...(olds ? { hooked: (olds.hooked as Record<string, string> | undefined) ?? {} } : {}),
      source: toSourceSettings(normalizeInputs(first.target)),
      lockTimeoutS: i.lockTimeoutS, parallelism: i.parallelism,
    };
    const r = await passWave(spec, log);
    const outs = plain({ ...raw, failed: r.failed, passed: r.passed, hooked: r.hooked, verdicts: r.verdicts });
    if (r.error) throw new GateFailed(r.error.message, id, outs);
    return outs;
  } finally {
    await log.flush();
  }
}

export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const id = `wave-${String(inputs.wave)}`;
  return { id, outs: await pass(id, inputs, undefined) };
}

export async function update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await pass(id, news, olds) };
}
