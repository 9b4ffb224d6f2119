/**
 * rsync skips a file whose size and mtime match ("quick check"), and exports carry blob-derived mtimes
 * (blobWriter.ts): two different blobs of one size whose derived mtimes coincide look unchanged to
 * rsync. By chance that is about one in 630 million per changed file; a crafted commit finds such a
 * pair in a minute. So before a target moves from the commit it holds to another, the paths changed
 * between the two are checked for it, and a push where one is found compares contents (`--checksum`).
 */
import { blobMtime } from "./blobWriter";
import { parseRawDiff, RawChange } from "./exportTree";
import { runGit } from "./runGit";
import type { TreePath } from "./treeListing";

/** Changes between two commits that rsync's quick check could take for no change, given blob sizes (pure). */
export function quickCheckBlind(changes: RawChange[], sizeOf: Map<string, number>): TreePath[] {
  return changes
    .filter((c) => /^100(644|755)$/.test(c.oldMode) && /^100(644|755)$/.test(c.newMode) && c.oldHash !== c.newHash)
    .filter((c) => blobMtime(c.oldHash) === blobMtime(c.newHash) && sizeOf.get(c.oldHash) === sizeOf.get(c.newHash))
    .map((c) => c.path);
}

/**
 * The paths rsync's quick check would miss going from `from` to `to`, or undefined when that cannot
 * be told (`from` unknown to the repository: the caller compares contents to be sure).
 */
export async function quickCheckBlindPaths(repoPath: string, from: string, to: string): Promise<TreePath[] | undefined> {
  const diff = await runGit(repoPath, ["diff", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff", from, to, "--"]);
  if (diff.exitCode !== 0) return undefined;
  const suspects = parseRawDiff(diff.stdoutBytes.toString("latin1")).filter((c) => c.oldHash !== c.newHash && blobMtime(c.oldHash) === blobMtime(c.newHash));
  if (suspects.length === 0) return [];
  const hashes = [...new Set(suspects.flatMap((c) => [c.oldHash, c.newHash]))];
  const sizes = await runGit(repoPath, ["cat-file", "--batch-check=%(objectname) %(objectsize)"], { input: hashes.join("\n") + "\n" });
  if (sizes.exitCode !== 0) return undefined;
  const sizeOf = new Map<string, number>();
  for (const line of sizes.stdout.split("\n")) {
    const [hash, size] = line.split(" ");
    if (hash && /^\d+$/.test(size ?? "")) sizeOf.set(hash, Number(size));
  }
  return quickCheckBlind(suspects, sizeOf);
}
