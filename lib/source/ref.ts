/**
 * `ref`: the commit to deploy, named by a branch, a tag or a commit SHA (all 40 hex digits, or a
 * unique prefix of at least 4). {@link parseRef} sorts what was written (pure); {@link resolveRef}
 * asks the local repository, never the network.
 *
 * Revision syntax (`HEAD~1`, `v1^{}`, `main@{1}`, `a..b`, `rev:path`) is refused, not evaluated: a
 * ref is stored in stack config and state and read again at every preview and `up`, so it must name
 * the same commit each time and on every machine; `HEAD~1` or `main@{yesterday}` would move with the
 * checkout and its reflog. The fix is one command away (`git rev-parse 'HEAD~1'` gives the SHA).
 */
import { invalidBranchReason } from "../config/safety";
import { RepoSyncError } from "../errors";
import { runGit } from "./runGit";

/** What a ref names. */
export type RefKind = "branch" | "tag" | "commit";

/** A ref as written, sorted before git is asked. */
export type ParsedRef =
  /** `refs/heads/<name>` or `refs/tags/<name>`: only that kind is looked up. */
  | { kind: "branch" | "tag"; name: string }
  /** All 40 hex digits: that commit (as git reads a full SHA, even when a branch has that name). */
  | { kind: "commit"; sha: string }
  /** A name: a branch or a tag, and a commit prefix too when `hex` (which makes it ambiguous when both). */
  | { name: string; hex: boolean };

/** What {@link resolveRef} found. */
export interface ResolvedRef {
  kind: RefKind;
  /** The branch or tag name (without refs/...), or the SHA or prefix as given. */
  name: string;
  /** Full 40-hex hash of the commit it names (a tag peeled to its commit). */
  commit: string;
}

const HINT = "name a branch (main), a tag (v1.2.0) or a commit SHA (all 40 hex digits, or a unique prefix of at least 4); for a relative revision such as HEAD~1 give its SHA (git rev-parse 'HEAD~1')";

/** A ref that is refused as written: why. */
function syntaxProblem(ref: string): string | undefined {
  if (ref.length === 0) return "is empty";
  if (ref.length > 256) return "is longer than 256 characters";
  if (ref.startsWith("-")) return "starts with `-` and would be read as an option";
  // Unicode spaces and format characters (a right-to-left override) would make messages lie about the ref.
  if (/[\x00-\x20\x7f\p{Cc}\p{Cf}\p{Z}]/u.test(ref)) return "contains a space or control character";
  if (ref === "@" || /^[A-Z_]*HEAD$/.test(ref)) return "names whatever the checkout holds at the time, which moves; name a branch, a tag or a commit";
  if (ref.includes("@{")) return "is reflog syntax (`@{...}`), which differs between machines and over time; give the commit's SHA";
  if (ref.includes("..")) return "is a range (`..`), not one commit";
  if (ref.includes(":")) return "contains `:` (a path inside a revision, or a refspec); name a branch, a tag or a commit";
  if (/[~^]/.test(ref)) return "is revision syntax (`~`, `^`: relative to another revision, so it moves); give the commit's SHA";
  if (/[?*[\\]/.test(ref)) return "contains a pattern character (? * [ \\)";
  return undefined;
}

/** Sorts a ref as written (pure), or says why it is refused. */
export function parseRef(ref: string): ParsedRef | { problem: string } {
  const problem = syntaxProblem(ref);
  if (problem) return { problem };
  if (/^[0-9a-f]{40}$/.test(ref)) return { kind: "commit", sha: ref };
  const explicit = /^refs\/(heads|tags)\/(.*)$/.exec(ref);
  if (ref.startsWith("refs/") && !explicit) return { problem: "is a ref outside refs/heads/ and refs/tags/ (only branches, tags and commits are deployed)" };
  const name = explicit ? explicit[2] : ref;
  const why = invalidBranchReason(name);
  if (why) return { problem: `is not a valid git ref name (${name === ref ? "it" : JSON.stringify(name)} ${why})` };
  if (explicit) return { kind: explicit[1] === "heads" ? "branch" : "tag", name };
  return { name, hex: /^[0-9a-f]{4,39}$/.test(name) };
}

/** Why a ref is refused as written (pure), for input validation; undefined when it may be looked up. */
export function invalidRefReason(ref: string): string | undefined {
  const p = parseRef(ref);
  return "problem" in p ? p.problem : undefined;
}

/** The config error for a ref, naming it. */
function refError(ref: string, reason: string, hint = HINT): RepoSyncError {
  return new RepoSyncError("config", `ref ${JSON.stringify(ref)} ${reason}`, { hint });
}

/**
 * `branch` and `ref` say the same thing twice: refused when both are given, naming both. Returns the
 * one given (`ref`), or undefined when only a branch (or neither) is.
 */
export function refOrBranch(opts: { branch?: string; ref?: string }): string | undefined {
  if (opts.ref !== undefined && opts.branch !== undefined) {
    throw new RepoSyncError("config", `both branch ${JSON.stringify(opts.branch)} and ref ${JSON.stringify(opts.ref)} are set; set one of them`, {
      hint: `ref takes a branch too: use ref ${JSON.stringify(opts.ref)} alone, or branch ${JSON.stringify(opts.branch)} alone`,
    });
  }
  return opts.ref;
}

/** `git cat-file -t` of an object name, or undefined when there is none. */
async function objectType(repoPath: string, name: string): Promise<string | undefined> {
  const r = await runGit(repoPath, ["cat-file", "-t", "--end-of-options", name], { timeoutMs: 60_000 });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** The commit a ref or object name peels to, or undefined when it peels to none. */
async function peelToCommit(repoPath: string, name: string): Promise<string | undefined> {
  const r = await runGit(repoPath, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${name}^{commit}`], { timeoutMs: 60_000 });
  const sha = r.stdout.trim();
  return r.exitCode === 0 && /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
}

/** Which of refs/heads/<name> and refs/tags/<name> exist (exactly: for-each-ref also lists refs below them). */
async function refsNamed(repoPath: string, name: string, kinds: Array<"branch" | "tag">): Promise<Array<"branch" | "tag">> {
  const full = (k: "branch" | "tag") => `refs/${k === "branch" ? "heads" : "tags"}/${name}`;
  const r = await runGit(repoPath, ["for-each-ref", "--format=%(refname)", ...kinds.map(full)], { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new RepoSyncError("source", `git for-each-ref failed while looking up ref ${JSON.stringify(name)} in ${repoPath}`, { command: r.command, exitCode: r.exitCode, stderr: r.stderr, hint: "check that the repository is intact (git fsck)" });
  const found = new Set(r.stdout.split("\n"));
  return kinds.filter((k) => found.has(full(k)));
}

/** Objects whose hash starts with `prefix`, with their types. */
async function objectsByPrefix(repoPath: string, prefix: string): Promise<Array<{ sha: string; type: string }>> {
  const r = await runGit(repoPath, ["rev-parse", `--disambiguate=${prefix}`], { timeoutMs: 60_000 });
  const shas = r.exitCode === 0 ? r.stdout.split("\n").filter((l) => /^[0-9a-f]{40}$/.test(l)) : [];
  if (shas.length === 0) return [];
  const types = await runGit(repoPath, ["cat-file", "--batch-check=%(objectname) %(objecttype)"], { input: shas.join("\n") + "\n", timeoutMs: 60_000 });
  return types.stdout.split("\n").map((l) => l.split(" ")).filter((p) => p.length === 2).map(([sha, type]) => ({ sha, type }));
}

/** A tag's commit; a tag on a tree or a blob (or on nothing) is refused, naming what it points at. */
async function tagCommit(repoPath: string, ref: string, name: string): Promise<string> {
  const commit = await peelToCommit(repoPath, `refs/tags/${name}`);
  if (commit) return commit;
  const type = (await objectType(repoPath, `refs/tags/${name}^{}`)) ?? "missing object";
  throw refError(ref, `names the tag ${name}, which points at a ${type}, not a commit`, "tag a commit (git tag -f <tag> <commit>), or name the commit");
}

/**
 * Resolves a ref against the local repository: a branch, a tag (lightweight or annotated, peeled to
 * its commit) or a commit. A ref that is refused as written, names nothing, names a tree or a blob,
 * or is ambiguous (a branch and a tag of that name; a name that is also a commit prefix; a prefix of
 * several commits) is a `config` error naming the ref; git runs only after the ref passed the syntax
 * check, with `--end-of-options` where an object name is passed.
 */
export async function resolveRef(repoPath: string, ref: string): Promise<ResolvedRef> {
  const parsed = parseRef(ref);
  if ("problem" in parsed) throw refError(ref, parsed.problem);
  if ("sha" in parsed) {
    const commit = await peelToCommit(repoPath, parsed.sha);
    if (commit === parsed.sha) return { kind: "commit", name: ref, commit };
    const type = await objectType(repoPath, parsed.sha);
    throw refError(ref, type ? `names a ${type}, not a commit` : `names no commit in ${repoPath}`, type ? HINT : fetchHint());
  }
  if ("kind" in parsed) {
    const [found] = await refsNamed(repoPath, parsed.name, [parsed.kind]);
    if (!found) throw refError(ref, `names no ${parsed.kind} in ${repoPath}`, fetchHint());
    if (parsed.kind === "tag") return { kind: "tag", name: parsed.name, commit: await tagCommit(repoPath, ref, parsed.name) };
    return { kind: "branch", name: parsed.name, commit: (await peelToCommit(repoPath, ref)) ?? "" };
  }
  const [named, objects] = await Promise.all([refsNamed(repoPath, parsed.name, ["branch", "tag"]), parsed.hex ? objectsByPrefix(repoPath, parsed.name) : []]);
  const commits = objects.filter((o) => o.type === "commit").map((o) => o.sha);
  const meanings = [...named.map((k) => `the ${k} ${parsed.name}`), ...commits.map((c) => `the commit ${c}`)];
  if (meanings.length > 1) {
    const spell = named.length > 0 ? `write ${named.map((k) => `refs/${k === "branch" ? "heads" : "tags"}/${parsed.name}`).join(" or ")}` : "";
    throw refError(ref, `is ambiguous in ${repoPath}: it names ${meanings.join(" and ")}`, [spell, commits.length > 0 ? "give more hex digits of the commit (or all 40)" : ""].filter(Boolean).join(", or "));
  }
  if (named[0] === "tag") return { kind: "tag", name: parsed.name, commit: await tagCommit(repoPath, ref, parsed.name) };
  if (named[0] === "branch") return { kind: "branch", name: parsed.name, commit: (await peelToCommit(repoPath, `refs/heads/${parsed.name}`)) ?? "" };
  if (commits.length === 1) return { kind: "commit", name: ref, commit: commits[0] };
  const other = objects[0];
  if (other) throw refError(ref, `names a ${other.type} (${other.sha}), not a commit`);
  throw refError(ref, `names no branch, tag or commit in ${repoPath}`, fetchHint());
}

function fetchHint(): string {
  return "check the spelling (git branch, git tag, git log --oneline); refs are looked up in the local checkout and no tag or commit is fetched: for a new one run git fetch --tags origin first";
}

/** "tag v1", "branch main", "commit 1a2b3c4d5e6f": a ref and what it named, for messages. */
export function describeRef(kind: RefKind, name: string): string {
  return `${kind} ${kind === "commit" ? name.slice(0, 12) : name}`;
}
