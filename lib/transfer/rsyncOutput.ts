/**
 * Pure parsers for rsync's output: `--itemize-changes` lines (what changed, per path) and `--stats`
 * (how much moved). Tested from tables of captured real output.
 */

/**
 * Tree differences found by an itemized run. Directories count too (named with a trailing `/`): an
 * extra empty directory or a changed directory mode on a target is drift like any file.
 */
export interface TreeChanges {
  added: string[];
  modified: string[];
  deleted: string[];
}

/** Parsed `--stats` figures (bytes). */
export interface RsyncStats {
  filesTotal: number;
  filesTransferred: number;
  /** Sum of the sizes of the files that were (or would be) transferred. */
  transferredFileSize: number;
  literalData: number;
  matchedData: number;
  bytesSent: number;
  bytesReceived: number;
}

const ITEM = /^([<>ch.*])([fdLDS])([.+ ?a-zA-Z]{9,10}) (.+)$/;

/** Splits itemized output into added / modified / deleted paths (stats lines are ignored). */
export function parseItemizedChanges(stdout: string): TreeChanges {
  const out: TreeChanges = { added: [], modified: [], deleted: [] };
  for (const line of stdout.split("\n")) {
    if (line.startsWith("*deleting ")) {
      out.deleted.push(line.slice("*deleting ".length).trim());
      continue;
    }
    const m = ITEM.exec(line);
    if (!m) continue;
    const [, update, type, attrs, rawName] = m;
    const name = type === "L" ? rawName.replace(/ -> .*$/, "") : rawName;
    // A directory's time alone is no drift (pushes use --omit-dir-times; a probe may still list it).
    const compared = type === "d" ? attrs.slice(0, 2) + attrs.slice(3) : attrs;
    if (attrs.startsWith("+++++++")) out.added.push(name);
    else if ((update !== "." && type !== "d") || /[^. ]/.test(compared)) out.modified.push(name);
  }
  return out;
}

/** Total number of changed paths. */
export function changeCount(c: TreeChanges): number {
  return c.added.length + c.modified.length + c.deleted.length;
}

/** "N modified, M added, K deleted (first: a, b, c)" for messages and previews. */
export function describeChanges(c: TreeChanges, firstN = 3): string {
  const first = [...c.modified, ...c.added, ...c.deleted].slice(0, firstN);
  return `${c.modified.length} modified, ${c.added.length} added, ${c.deleted.length} deleted` + (first.length ? ` (first: ${first.join(", ")})` : "");
}

function statNumber(stdout: string, label: string): number {
  const m = new RegExp(`^${label}: ([\\d,.]+)`, "m").exec(stdout);
  return m ? Number(m[1].replace(/,/g, "")) : 0;
}

/** Reads the `--stats` block. Missing fields count as 0. */
export function parseRsyncStats(stdout: string): RsyncStats {
  return {
    filesTotal: statNumber(stdout, "Number of files"),
    filesTransferred: statNumber(stdout, "Number of regular files transferred"),
    transferredFileSize: statNumber(stdout, "Total transferred file size"),
    literalData: statNumber(stdout, "Literal data"),
    matchedData: statNumber(stdout, "Matched data"),
    bytesSent: statNumber(stdout, "Total bytes sent"),
    bytesReceived: statNumber(stdout, "Total bytes received"),
  };
}
