/**
 * Read-only look at a target: which revision its `.sync_rev` names and, when that is the expected one,
 * whether the tree itself drifted (rsync dry run: files edited, added or deleted on the target).
 */
import type { Target } from "../config/types";
import { isRepoSyncError, RepoSyncError } from "../errors";
import { servedRevision, type DirState, type MarkerState } from "../target/script";
import { describeHops } from "../remote/jumpHosts";
import type { CurrentState, Release } from "../target/releases";
import { TargetProbe } from "../target/session";
import { refuseOtherLayout, releaseFolder } from "../target/layout";
import { driftOf, releaseDrift } from "./keptRelease";
import type { TransferSpec } from "../transfer/rsyncArgs";
import { changeCount, describeChanges, TreeChanges } from "../transfer/rsyncOutput";
import { runRsync } from "../transfer/runRsync";

/** The state of one target (the seed's RepoStatus, plus tree drift). */
export interface RepoStatus {
  vm: string;
  host: string;
  /** The jump hosts on the way, `user@host:port -> ...` (absent: direct). */
  via?: string;
  path: string;
  /** Commit the target should hold. */
  expected?: string;
  /** Commit its `.sync_rev` names (undefined: no marker). */
  actual?: string;
  inSync: boolean;
  state?: DirState;
  /** What `.sync_rev` is: a valid marker, absent, or something that is not one (never trusted). */
  marker?: MarkerState;
  /**
   * Tree differences when the marker matches (undefined when not checked), from the target's point of
   * view: `added` exist only on the target, `deleted` are missing there, `modified` differ.
   */
  drift?: TreeChanges;
  error?: RepoSyncError;
  /** Releases layout: what `current` is and the releases kept on the VM, oldest first. */
  releases?: { current: CurrentState; kept: KeptRelease[] };
}

/**
 * A release on the VM as status reports it: `complete` only when its marker names its commit and, when
 * compared (`verified`), its tree is that commit's; `drift` says how a tampered one differs.
 */
export interface KeptRelease extends Release {
  /** Compared with its commit's tree (false: that tree could not be built; absent: not compared). */
  verified?: boolean;
  /** How it differs from its commit's tree (only when it does). */
  drift?: TreeChanges;
}

/** What the expected state is: a commit and how its tree would be pushed. */
export interface Expected {
  commit: string;
  transfer: TransferSpec;
}

/** Options for {@link checkTarget}. */
export interface CheckOptions {
  /** Compare the tree when the marker matches (default true). */
  checkTree?: boolean;
  /** Compare file contents, not size + mtime (reads every byte on both ends). */
  checksum?: boolean;
  /**
   * Releases layout: the tree a sync of a kept release's commit pushes (undefined: none can be built),
   * to compare every kept release with (keptRelease.ts); absent: only the served one is compared.
   */
  keptTree?: (commit: string) => Promise<TransferSpec | undefined>;
}

/** Probes one target. Never throws for target problems: they land in `error`. */
export async function checkTarget(target: Target, expected: Expected | undefined, opts: CheckOptions = {}): Promise<RepoStatus> {
  const base = { vm: target.vm, host: target.host, ...(target.jumpHosts?.length ? { via: describeHops(target) } : {}), path: target.path, expected: expected?.commit };
  try {
    // One connection: the probe's, which the dry run joins.
    const probe = await TargetProbe.open(target);
    const header = probe.header;
    // Releases: a link to a missing, partial or foreign release serves no commit (drift for the preview).
    const actual = servedRevision(header);
    let drift: TreeChanges | undefined;
    let kept: KeptRelease[] | undefined;
    try {
      refuseOtherLayout(target, header.otherLayout);
      if (expected && actual === expected.commit && opts.checkTree !== false) {
        const destination = header.releases ? { destination: releaseFolder(actual) } : {};
        drift = driftOf((await runRsync(target, { ...expected.transfer, checksum: opts.checksum === true, ...destination }, true, { controlPath: probe.controlPath })).changes);
      }
      if (header.releases && opts.keptTree && opts.checkTree !== false) {
        kept = await checkKept(target, header.releases.releases, opts.keptTree, opts.checksum === true, probe.controlPath, drift && actual ? { [actual]: drift } : {});
      }
    } finally {
      await probe.close();
    }
    const inSync = !!expected && actual === expected.commit && (!drift || changeCount(drift) === 0);
    const releases = header.releases ? { releases: { current: header.releases.current, kept: kept ?? header.releases.releases } } : {};
    return { ...base, actual, inSync, state: header.state, marker: header.marker, drift, ...releases };
  } catch (err) {
    if (!isRepoSyncError(err)) throw err;
    return { ...base, inSync: false, error: err };
  }
}

/**
 * Every complete release compared with its commit's tree (`known`: the drift already found for one),
 * over the probe's connection. A hand edit through a file shared by hard links changes older releases
 * too; their markers still say complete, so only this tells.
 */
async function checkKept(target: Target, releases: Release[], keptTree: NonNullable<CheckOptions["keptTree"]>, checksum: boolean, controlPath: string, known: Record<string, TreeChanges>): Promise<KeptRelease[]> {
  const out: KeptRelease[] = [];
  for (const r of releases) {
    if (!r.complete) {
      out.push(r);
      continue;
    }
    // A commit whose tree cannot be built (no longer in the repository) leaves its release unchecked.
    const tree = r.commit in known ? undefined : await keptTree(r.commit).catch((err: unknown) => {
      if (isRepoSyncError(err)) return undefined;
      throw err;
    });
    const drift = known[r.commit] ?? (tree ? await releaseDrift(target, tree, r.commit, controlPath, checksum) : undefined);
    if (!drift) out.push({ ...r, verified: false });
    else out.push(changeCount(drift) > 0 ? { ...r, complete: false, verified: true, drift } : { ...r, verified: true });
  }
  return out;
}

/**
 * What a target is compared with what it should be: the one model behind the CLI's status line and
 * JSON, the provider's `observed` and its diff decision.
 */
export type TargetState =
  | { kind: "in-sync"; revision: string }
  /** `.sync_rev` names another commit, or none, or is not a marker at all (see `marker`). */
  | { kind: "revision"; actual?: string; expected?: string; marker?: MarkerState; current?: string }
  /** The marker matches but the tree differs (`drift` undefined: not compared). */
  | { kind: "drift"; revision: string; drift?: TreeChanges }
  | { kind: "error"; error: RepoSyncError };

/** The state a probe found (pure). */
export function stateOf(s: RepoStatus): TargetState {
  if (s.error) return { kind: "error", error: s.error };
  if (s.inSync && s.actual) return { kind: "in-sync", revision: s.actual };
  if (!s.actual || s.actual !== s.expected) {
    // Releases layout: a `current` that serves no release says why there is no revision.
    const current = s.releases?.current.kind === "bad" ? `current ${s.releases.current.why}` : undefined;
    return { kind: "revision", actual: s.actual, expected: s.expected, marker: s.marker, ...(current ? { current } : {}) };
  }
  return { kind: "drift", revision: s.actual, drift: s.drift };
}

/**
 * The sentence for a state (pure), e.g. `tree drift: 1 modified, 0 added, 0 deleted (first: src/app.py)`,
 * `revision 3fdbb618140e (expected 9df045bc7140)`, `error: connection to ... refused`.
 */
export function describeState(st: TargetState): string {
  switch (st.kind) {
    case "in-sync":
      return `in sync at ${short(st.revision)}`;
    case "revision": {
      const why = st.current ?? markerProblem(st.marker);
      return `revision ${short(st.actual) || "none"}${why ? ` (${why})` : ""} (expected ${short(st.expected)})`;
    }
    case "drift":
      return `tree drift: ${st.drift ? describeChanges(st.drift) : "unknown"}`;
    case "error":
      return `error: ${st.error.reason}`;
  }
}

/** One line describing a status: the VM, then {@link describeState}. */
export function describeStatus(s: RepoStatus): string {
  return `${s.vm} ${describeState(stateOf(s))}`;
}

/** Why a target's `.sync_rev` is not trusted (undefined when it is valid or simply absent). */
export function markerProblem(marker?: MarkerState): string | undefined {
  if (marker === "malformed") return ".sync_rev is not a commit hash";
  if (marker === "symlink") return ".sync_rev is a symlink";
  if (marker === "notfile") return ".sync_rev is not a regular file";
  return undefined;
}

function short(c?: string): string {
  return c ? c.slice(0, 12) : "";
}
