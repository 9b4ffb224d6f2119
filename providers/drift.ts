/**
 * A target's drift as the Pulumi surface shows it: the structured `drift` output (counts, then the
 * paths of each kind up to a cap) and the one-line sentence of a preview. Pure.
 */
import type { TreeChanges } from "../lib/transfer/rsyncOutput";

/** Paths listed per kind in the `drift` output; the rest are counted in `more`. */
export const DRIFT_PATHS_MAX = 100;

/** Paths named per kind in the one-line sentence. */
const SENTENCE_PATHS = 3;

/**
 * How the files on a VM differ from the commit its `.sync_rev` names, from the VM's point of view:
 * `modified` differ, `added` exist only on the VM, `deleted` are missing there. Directories count too
 * (named with a trailing `/`).
 */
export interface Drift {
  /**
   * False when the tree was not compared: the VM holds another commit or none (then every file may
   * differ; `revision` says which), or it could not be reached. The counts are then 0.
   */
  compared: boolean;
  counts: { modified: number; added: number; deleted: number };
  /** At most {@link DRIFT_PATHS_MAX} paths each, in rsync's order. */
  modified: string[];
  added: string[];
  deleted: string[];
  /** Paths left out of the three lists (beyond the cap). */
  more: number;
}

/** The `drift` output for a comparison (`undefined`: the tree was not compared). */
export function driftOutput(changes: TreeChanges | undefined): Drift {
  const c = changes ?? { modified: [], added: [], deleted: [] };
  const cap = (paths: string[]) => paths.slice(0, DRIFT_PATHS_MAX);
  const over = (paths: string[]) => Math.max(0, paths.length - DRIFT_PATHS_MAX);
  return {
    compared: changes !== undefined,
    counts: { modified: c.modified.length, added: c.added.length, deleted: c.deleted.length },
    modified: cap(c.modified),
    added: cap(c.added),
    deleted: cap(c.deleted),
    more: over(c.modified) + over(c.added) + over(c.deleted),
  };
}

/**
 * One line naming the count of each kind and its first paths, e.g.
 * `tree drift: 1 modified, 2 added, 0 deleted (modified: src/app.py; added: cache/, notes.txt)`.
 */
export function describeDrift(c: TreeChanges | undefined): string {
  if (!c) return "tree drift: unknown";
  const kinds = [["modified", c.modified], ["added", c.added], ["deleted", c.deleted]] as const;
  const named = kinds.filter(([, paths]) => paths.length > 0).map(([kind, paths]) => {
    const rest = paths.length - SENTENCE_PATHS;
    return `${kind}: ${paths.slice(0, SENTENCE_PATHS).map(printable).join(", ")}${rest > 0 ? ` +${rest} more` : ""}`;
  });
  const counts = kinds.map(([kind, paths]) => `${paths.length} ${kind}`).join(", ");
  return `tree drift: ${counts}${named.length > 0 ? ` (${named.join("; ")})` : ""}`;
}

/** A path as text on one line: a name made on the VM cannot start a line of its own in the output. */
function printable(p: string): string {
  return p.replace(/[\u0000-\u001f\u007f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
