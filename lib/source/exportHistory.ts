/**
 * The `.git` that is pushed when `exclude_dot_git` is false: built fresh for one commit, holding that
 * commit's history and nothing else of the checkout's `.git` (no other branches, stashes, reflogs or
 * unreachable objects, no remote URLs or credentials from its config, no hooks). What this folder holds
 * is exactly what the history scan (scan/scanHistory.ts) reads, so the gate sees everything pushed.
 * Built once per commit into the export cache, renamed into place when complete.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { runGit } from "./runGit";
import { OWN_EXCLUDES } from "../config/ownFiles";
import { exportRoot } from "./exportTree";

/**
 * Returns the path of a `.git` folder for `commit` on `branch` (HEAD on that branch, an index matching
 * the commit's tree, a config with no remotes), building it on first use.
 */
export async function exportHistory(repoPath: string, commit: string, branch: string, cacheDir: string): Promise<string> {
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new RepoSyncError("source", `not a commit hash: ${JSON.stringify(commit)}`);
  const root = exportRoot(cacheDir, repoPath);
  const final = path.join(root, `${commit}.history`);
  const gitDir = path.join(final, ".git");
  if (fs.existsSync(gitDir)) return gitDir;
  fs.mkdirSync(root, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(root, `.tmp-history-${commit.slice(0, 12)}-`));
  const tmpGit = path.join(tmp, ".git");
  try {
    // An empty template: no sample hooks, no description; the config git init writes has no remote.
    await git(tmp, ["init", "-q", "--bare", "--template=", tmpGit]);
    const ref = `refs/heads/${branch}`;
    // push (not fetch): any commit can be sent, also one that is no longer a branch tip.
    // Only the commit's history: no tags a checkout's push.followTags would add (their messages are not scanned).
    await git(repoPath, ["push", "-q", "--no-verify", "--no-follow-tags", tmpGit, `${commit}:${ref}`]);
    await git(tmp, [`--git-dir=${tmpGit}`, "symbolic-ref", "HEAD", ref]);
    await git(tmp, [`--git-dir=${tmpGit}`, "config", "core.bare", "false"]);
    await git(tmp, [`--git-dir=${tmpGit}`, "read-tree", commit]);
    // On the target, `git status` should not list repo-sync's own files as untracked.
    fs.mkdirSync(path.join(tmpGit, "info"), { recursive: true });
    fs.writeFileSync(path.join(tmpGit, "info", "exclude"), `# repo-sync's own files on this target\n${OWN_EXCLUDES.join("\n")}\n`);
    try {
      fs.renameSync(tmp, final);
    } catch (err) {
      if (!fs.existsSync(gitDir)) throw err; // another run built the same commit meanwhile
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return gitDir;
}

async function git(cwd: string, args: string[]): Promise<void> {
  // The .git built for the VMs owes nothing to this machine's git config (user or system).
  const r = await runGit(cwd, args, { gitEnv: { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" } });
  if (r.exitCode !== 0) {
    throw new RepoSyncError("source", `git ${args.find((a) => !a.startsWith("-"))} failed while building the .git to push (exclude_dot_git: false)`, {
      command: r.command,
      exitCode: r.exitCode,
      stderr: r.stderr,
      hint: "check that the repository is intact (git fsck), or set repository.exclude_dot_git: true",
    });
  }
}
