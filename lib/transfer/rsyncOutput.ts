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

/**
 * A name as rsync prints it, back to text (pure): bytes it cannot print in its locale come as `\#ooo`
 * (octal), so `caf\#303\#251` is `café`; bytes that are not UTF-8 show as U+FFFD.
 */
export function unescapeRsyncName(name: string): string {
  if (!name.includes("\\#")) return name;
  const bytes: Buffer[] = [];
  let last = 0;
  for (const m of name.matchAll(/\\#([0-7]{3})/g)) {
    bytes.push(Buffer.from(name.slice(last, m.index), "utf8"), Buffer.from([parseInt(m[1], 8) & 0xff]));
    last = (m.index ?? 0) + m[0].length;
  }
  bytes.push(Buffer.from(name.slice(last), "utf8"));
  return Buffer.concat(bytes).toString("utf8");
}

/** Splits itemized output into added / modified / deleted paths (stats lines are ignored). */
export function parseItemizedChanges(stdout: string): TreeChanges {
  const out: TreeChanges = { added: [], modified: [], deleted: [] };
  // --info=progress2 records are \r-separated within the lines: every segment is read on its own.
  for (const line of stdout.split(/[\r\n]/)) {
    if (line.startsWith("*deleting ")) {
      out.deleted.push(unescapeRsyncName(line.slice("*deleting ".length).trim()));
      continue;
    }
    const m = ITEM.exec(line);
    if (!m) continue;
    const [, update, type, attrs, rawName] = m;
    const name = unescapeRsyncName(type === "L" ? rawName.replace(/ -> .*$/, "") : rawName);
    // A directory's time alone is no drift (pushes use --omit-dir-times; a probe may still list it).
    const compared = type === "d" ? attrs.slice(0, 2) + attrs.slice(3) : attrs;
    if (attrs.startsWith("+++++++")) out.added.push(name);
    else if ((update !== "." && type !== "d") || /[^. ]/.test(compared)) out.modified.push(name);
  }
  return out;
}

/** One `--info=progress2` record: the whole transfer so far. */
export interface RsyncProgress {
  /** Bytes of file data done (of the files that change). */
  bytes: number;
  percent: number;
  /** As rsync prints it, e.g. `25.73MB/s`. */
  rate: string;
  /** `h:mm:ss`: time left while running, time taken on a file's last record. */
  eta: string;
  /** Files transferred so far, and files left to check of those known (`to-chk=1/4`). */
  files?: number;
  left?: number;
  total?: number;
}

const PROGRESS = /^\s*([\d,]+)\s+(\d+)%\s+(\S+)\s+(\d+:\d\d:\d\d)(?:\s+\(xfr#([\d,]+), (?:to|ir)-chk=([\d,]+)\/([\d,]+)\))?\s*$/;

/** Reads one progress record (a `\r`-separated segment of rsync's stdout), or undefined (pure). */
export function parseProgress(segment: string): RsyncProgress | undefined {
  const m = PROGRESS.exec(segment);
  if (!m) return undefined;
  const p: RsyncProgress = { bytes: Number(m[1].replace(/,/g, "")), percent: Number(m[2]), rate: m[3], eta: m[4] };
  const n = (x: string) => Number(x.replace(/,/g, ""));
  if (m[5] !== undefined) Object.assign(p, { files: n(m[5]), left: n(m[6]), total: n(m[7]) });
  return p;
}

/** `45% 12.3MB/s ETA 0:00:03 (12 files, 30/40 checked)` (pure). */
export function describeProgress(p: RsyncProgress): string {
  const files = p.files !== undefined && p.total !== undefined ? ` (${p.files} files, ${p.total - (p.left ?? 0)}/${p.total} checked)` : "";
  return `${p.percent}% ${p.rate} ETA ${p.eta}${files}`;
}

/** The last progress record in a chunk of stdout, or undefined (pure). */
export function lastProgress(chunk: string): RsyncProgress | undefined {
  const segments = chunk.split(/[\r\n]/);
  for (let i = segments.length - 1; i >= 0; i--) {
    const p = parseProgress(segments[i]);
    if (p) return p;
  }
  return undefined;
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
