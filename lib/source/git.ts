/**
 * The source repository (the checkout on the machine running repo-sync): resolve the ref (see
 * ref.ts), pull a branch fast-forward only, falling back to the local state as the original service
 * did, and resolve the commit that will be pushed. A tag or a commit is never pulled. The Pulumi
 * program fetches instead (`fetchOnly`): origin's branch into its remote-tracking ref, leaving HEAD,
 * the index, the work tree and the local branches as they are.
 */
import * as fs from "node:fs";
import { invalidBranchReason } from "../config/safety";
import { RepoSyncError } from "../errors";
import { RefKind, ResolvedRef, resolveRef } from "./ref";
import { gitError, runGit } from "./runGit";

/** The exact message the original service used, kept so that runbooks still match. */
export const NOT_A_REPO_MESSAGE = "could not get commit hash (not a git repo or invalid state)";

/** What {@link resolveSource} found. */
export interface SourceState {
  repoPath: string;
  /** The branch deployed; "" when the ref named a tag or a commit. */
  branch: string;
  /** What named the commit: the branch or tag name, or the SHA (prefix) as given; its kind in `refKind`. */
  ref: string;
  refKind: RefKind;
  /** Full 40-hex commit hash that will be pushed (a branch's tip, a tag's commit, or the commit named). */
  commit: string;
  /** True when a pull/fetch from origin succeeded. */
  pulled: boolean;
  /** Non-fatal problems (pull failed, no origin): the run goes on with the local state. */
  warnings: string[];
}

/** Options for {@link resolveSource}. */
export interface ResolveOptions {
  repoPath: string;
  /** The branch deployed when no `ref` is given. */
  branch: string;
  /** A branch, tag or commit (ref.ts); wins over `branch` (callers refuse both: see refOrBranch). */
  ref?: string;
  /** Try to update the branch from origin first (default true). */
  pull?: boolean;
  /**
   * With `pull`: only `git fetch` origin's branch into `refs/remotes/origin/<branch>` and deploy that
   * ref's commit (the last fetched one when the fetch fails; the local branch when origin has none).
   * Nothing of the checkout changes: what a preview may do.
   */
  fetchOnly?: boolean;
  /** Upper bound for git network operations (default 60 s). */
  timeoutMs?: number;
}

/** How long a git network operation (fetch, pull) may take by default. */
const NETWORK_TIMEOUT_MS = 60_000;

/** The checkout's git, through the one runner (runGit.ts): its environment policy and its errors. */
class Checkout {
  constructor(readonly repoPath: string, private readonly timeoutMs: number) {}

  /** `git rev-parse ARGS`: its stdout, trimmed; throws naming the command when git fails. */
  async revparse(args: string[]): Promise<string> {
    const r = await runGit(this.repoPath, ["rev-parse", ...args], { timeoutMs: this.timeoutMs });
    if (r.exitCode !== 0) throw gitError(r, `reading ${args.at(-1) ?? "a ref"} in ${this.repoPath}`);
    return r.stdout.trim();
  }

  /** True when `ref` names a commit. */
  async hasCommit(ref: string): Promise<boolean> {
    const r = await runGit(this.repoPath, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { timeoutMs: this.timeoutMs });
    return r.exitCode === 0;
  }

  /** The remotes' names. */
  async remotes(): Promise<string[]> {
    const r = await runGit(this.repoPath, ["remote"], { timeoutMs: this.timeoutMs });
    return r.exitCode === 0 ? r.stdout.split("\n").filter((l) => l !== "") : [];
  }

  /**
   * A git command that talks to origin: non-interactive ssh with a bounded connect, and the user's CA
   * settings for https (the only `GIT_*` variables of the caller git sees here). Throws naming it.
   */
  async network(args: string[], what: string): Promise<void> {
    const ca = Object.fromEntries(["GIT_SSL_CAINFO", "GIT_SSL_CAPATH"].filter((k) => process.env[k]).map((k) => [k, process.env[k] ?? ""]));
    const r = await runGit(this.repoPath, args, { timeoutMs: this.timeoutMs, gitEnv: { ...ca, GIT_SSH_COMMAND: "ssh -o BatchMode=yes -o ConnectTimeout=10" } });
    if (r.exitCode !== 0) throw gitError(r, what);
  }
}

/**
 * Resolves the commit to push: a tag's or a commit's at once (no pull); a branch's after a pull
 * (ff-only, best effort), as its tip's hash.
 */
export async function resolveSource(opts: ResolveOptions): Promise<SourceState> {
  const { repoPath } = opts;
  let branch = opts.branch;
  const why = opts.ref === undefined ? invalidBranchReason(branch) : undefined;
  if (why) throw new RepoSyncError("config", `branch ${JSON.stringify(branch)} ${why}`, { hint: "pass a plain branch name such as main" });
  const git = await openRepository(repoPath, opts.timeoutMs ?? NETWORK_TIMEOUT_MS);
  if (opts.ref !== undefined) {
    const r = await resolveRef(repoPath, opts.ref);
    if (r.kind !== "branch") return { repoPath, branch: "", ref: r.name, refKind: r.kind, commit: r.commit, pulled: false, warnings: [] };
    branch = r.name;
  }

  const warnings: string[] = [];
  let pulled = false;
  let tip = `refs/heads/${branch}`;
  if (opts.pull !== false) {
    if (!(await git.remotes()).includes("origin")) {
      warnings.push(`no remote "origin" in ${repoPath}: using the local state of ${branch} (to skip the pull and this warning: sync --no-pull; through Pulumi, leave pull unset)`);
    } else if (opts.fetchOnly) {
      const tracking = `refs/remotes/origin/${branch}`;
      try {
        // `+`: a remote-tracking ref follows origin, as `git fetch` keeps it; no tags, no FETCH_HEAD.
        await git.network(["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", "origin", `+refs/heads/${branch}:${tracking}`], `fetching ${branch} from origin`);
        pulled = true;
      } catch (err) {
        warnings.push(`fetch of ${branch} from origin failed (${firstLine(err)}): using origin/${branch} as last fetched, else the local branch`);
      }
      if (await git.hasCommit(tracking)) tip = tracking;
    } else {
      try {
        const current = await git.revparse(["--abbrev-ref", "HEAD"]);
        if (current === branch) await git.network(["pull", "--quiet", "--ff-only", "--no-rebase", "origin", branch], `pulling ${branch} from origin`);
        // Not checked out: update the local branch from origin, fast-forward only (no `+` in the refspec).
        else await git.network(["fetch", "--quiet", "origin", `refs/heads/${branch}:refs/heads/${branch}`], `fetching ${branch} from origin`);
        pulled = true;
      } catch (err) {
        warnings.push(`pull of ${branch} from origin failed (${firstLine(err)}): using the local state`);
      }
    }
  }

  let commit: string;
  try {
    commit = await git.revparse(["--verify", "--quiet", `${tip}^{commit}`]);
  } catch (err) {
    throw new RepoSyncError("source", `branch ${branch} does not exist in ${repoPath}`, {
      hint: `create it, or set repository.default_branch / --branch to an existing branch`,
      cause: err,
    });
  }
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new RepoSyncError("source", `branch ${branch} does not exist in ${repoPath}`);
  return { repoPath, branch, ref: branch, refKind: "branch", commit, pulled, warnings };
}

/**
 * Looks a ref up in the checkout, locally (no pull, no network): what a run checks before it connects
 * to any VM, so that a ref naming nothing, or several things, leaves every VM untouched.
 */
export async function lookUpRef(repoPath: string, ref: string): Promise<ResolvedRef> {
  await openRepository(repoPath, 60_000);
  return resolveRef(repoPath, ref);
}

/** The checkout as a git repository: a SHA-1 repository's top level with at least one commit. */
async function openRepository(repoPath: string, timeoutMs: number): Promise<Checkout> {
  if (!isDirectory(repoPath)) throw notARepo(repoPath);
  const git = new Checkout(repoPath, timeoutMs);
  const head = await git.revparse(["--verify", "--quiet", "HEAD^{commit}"]).catch((err: unknown) => {
    throw notARepo(repoPath, err);
  });
  if (/^[0-9a-f]{64}$/.test(head.trim())) {
    throw new RepoSyncError("source", `${repoPath} is a SHA-256 git repository (object format sha256), which repo-sync does not support yet: its markers on the VMs hold 40-hex SHA-1 commit hashes`, { hint: "push from a SHA-1 repository (git init --object-format=sha1, the default)" });
  }
  if (!/^[0-9a-f]{40}$/.test(head.trim())) throw notARepo(repoPath);
  // A folder inside some other repository is not "a git repo": its commit's tree is a different tree.
  const top = await git.revparse(["--show-toplevel"]);
  if (fs.realpathSync(top) !== fs.realpathSync(repoPath)) {
    throw notARepo(repoPath, new Error(`${repoPath} is inside the repository ${top}, not its top level`));
  }
  return git;
}

/** Paths of tracked files with uncommitted changes (for the worktree source mode). */
export async function modifiedTrackedFiles(repoPath: string): Promise<string[]> {
  const r = await runGit(repoPath, ["status", "--porcelain=v1", "-z", "--untracked-files=no"], { timeoutMs: NETWORK_TIMEOUT_MS });
  if (r.exitCode !== 0) throw gitError(r, `reading the status of ${repoPath}`);
  return parseStatusZ(r.stdout);
}

/**
 * The paths of `git status --porcelain=v1 -z` (pure): `XY path`, NUL-separated; a rename or copy is
 * followed by its source path, which is skipped.
 */
export function parseStatusZ(out: string): string[] {
  const fields = out.split("\0");
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f.length < 4) continue;
    paths.push(f.slice(3));
    if (f[0] === "R" || f[0] === "C") i++;
  }
  return paths;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function notARepo(repoPath: string, cause?: unknown): RepoSyncError {
  return new RepoSyncError("source", `${NOT_A_REPO_MESSAGE}: ${repoPath}`, {
    hint: `make ${repoPath} a git repository with at least one commit (git init && git add . && git commit -m initial)`,
    cause,
  });
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim().split("\n")[0].slice(0, 200);
}
