/**
 * The secret gate: gitleaks over exactly the tree that will be pushed. Rules are always passed with
 * `--config` (ours or the user's), so a `.gitleaks.toml` inside the scanned tree cannot replace them.
 * gitleaks runs inside the tree on `.`, so that paths, fingerprints and `.gitleaksignore` entries are
 * relative to the top of the tree (an exported tree lives in a per-commit folder: absolute paths
 * would change with every commit). What is not scanned again, and under which identity, is decided
 * by scanIncremental.ts.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isRepoSyncError, RepoSyncError } from "../errors";
import { cachePath, ensurePrivateDir, isDirectory } from "../paths";
import { runProgram } from "../process/run";
import { Finding, parseGitleaksReport } from "./gitleaksReport";
import { loadRulesChain, rulesIdentityText } from "./rulesChain";
import { filesUnder, layOut, parseSkippedFiles, renameFindings, resolveReported } from "./rescuedFiles";
import { listFolders, readFolderVerdicts, rescueTarget, skippedFolders, writeFolderVerdicts } from "./skippedFolders";

/** Exit code we ask gitleaks to use for "leaks found", to tell it apart from errors (1). */
export const LEAKS_EXIT_CODE = 3;
/** gitleaks' built-in rules, made explicit. */
export const DEFAULT_RULES = "# repo-sync: gitleaks' default rules\n[extend]\nuseDefault = true\n";
/**
 * Part of the cache key: bumped when the way we run gitleaks changes what it reports, so results
 * computed the old way (absolute paths, where `.gitleaksignore` and `^`-anchored path allowlists
 * never matched; folders skipped whole because of their name, see skippedFolders.ts) are not reused.
 */
const SCAN_SCHEME = "dir-relative-v4-rescued-files";

/** Outcome of one scan. Never contains secret material. */
export interface SecretScanResult {
  hasSecrets: boolean;
  findings: Finding[];
  /** Always true: secrets are redacted by gitleaks and never read from its report. */
  redacted: true;
  tool: "gitleaks";
  toolVersion: string;
  durationMs: number;
  scannedPath: string;
  /** Rules file passed to gitleaks. */
  configPath: string;
  /** Whether inline `gitleaks:allow` comments were ignored (so they hid nothing). */
  ignoreInlineAllow: boolean;
  /** True when no scan ran: every file had been found clean before (scanIncremental.ts). */
  cached: boolean;
}

/** Options for {@link scanRepository}. */
export interface ScanOptions {
  /** gitleaks rules; default: gitleaks' built-in rules. */
  configPath?: string;
  cacheDir?: string;
  /** gitleaks binary (default: `gitleaks` on PATH). */
  gitleaksBin?: string;
  timeoutMs?: number;
  /**
   * Report findings on lines carrying a `gitleaks:allow` comment too (gitleaks'
   * `--ignore-gitleaks-allow`); default false, gitleaks' behaviour: such lines are skipped.
   */
  ignoreInlineAllow?: boolean;
}

/** Options of {@link gitleaksArgs}. */
export interface GitleaksArgsOptions {
  /** Adds `--ignore-gitleaks-allow`. */
  ignoreInlineAllow?: boolean;
  /** What `gitleaks dir` walks (default `.`; see skippedFolders.ts rescueTarget). */
  target?: string;
  /** Log at debug level: the files the walk skips by path are named on stderr (rescuedFiles.ts). */
  debug?: boolean;
}

/**
 * Builds gitleaks' argv for a scan of the current directory (pure): run it with the tree as cwd.
 * `rulesPath` and `reportPath` must be absolute, since they are not resolved against the tree.
 */
export function gitleaksArgs(rulesPath: string, reportPath: string, opts: GitleaksArgsOptions = {}): string[] {
  return [
    // `.` and not the tree's path: gitleaks puts the scanned path into File and Fingerprint verbatim
    // and matches `.gitleaksignore` against that, so only a relative scan gives stable fingerprints.
    "dir", opts.target ?? ".",
    "--config", rulesPath,
    "--gitleaks-ignore-path", ".",
    ...(opts.ignoreInlineAllow ? ["--ignore-gitleaks-allow"] : []),
    "--report-format", "json",
    "--report-path", reportPath,
    "--redact",
    "--no-banner",
    "--no-color",
    "--log-level", opts.debug ? "debug" : "error",
    "--exit-code", String(LEAKS_EXIT_CODE),
  ];
}

/** The text of the `.gitleaksignore` at the top of `dir` (a regular file, never a link), or undefined. */
export function readIgnoreFile(dir: string): string | undefined {
  const p = path.join(dir, ".gitleaksignore");
  try {
    return fs.lstatSync(p).isFile() ? fs.readFileSync(p, "utf8") : undefined;
  } catch {
    return undefined;
  }
}

const versions = new Map<string, string>();

/**
 * Names the gitleaks binary that `bin` runs (PATH lookup) by file identity: a new build or install
 * changes it. Undefined when it cannot be found (then `gitleaks version` reports the problem).
 */
function binaryIdentity(bin: string): string | undefined {
  const dirs = bin.includes("/") ? [""] : (process.env.PATH ?? "").split(":").filter((d) => d !== "");
  for (const dir of dirs) {
    const file = dir ? path.join(dir, bin) : path.resolve(bin);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      const st = fs.statSync(file);
      if (st.isFile()) return `${file}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // not here: the next PATH entry
    }
  }
  return undefined;
}

/**
 * `gitleaks version`, once per binary: remembered in this process, and across runs in `cacheDir` by
 * the binary's file identity (the version is part of every scan's identity, and asking costs a start).
 * A missing binary is a clear error.
 */
export async function gitleaksVersion(bin = "gitleaks", cacheDir?: string): Promise<string> {
  const id = binaryIdentity(bin);
  const known = versions.get(id ?? bin);
  if (known) return known;
  const file = cacheDir && id ? path.join(cacheDir, "scans", "gitleaks-version.json") : undefined;
  const stored = file ? readVersionFile(file) : {};
  if (id && stored[id]) {
    versions.set(id, stored[id]);
    return stored[id];
  }
  const r = await runProgram(bin, ["version"], { timeoutMs: 30_000 });
  if (r.spawnError || r.exitCode !== 0) {
    throw new RepoSyncError("scan", `gitleaks is not available (${bin})`, {
      command: r.command,
      exitCode: r.spawnError ? undefined : r.exitCode,
      stderr: r.spawnError?.message ?? r.stderr,
      hint: "install it (./run.sh setup builds it; or `go install github.com/zricethezav/gitleaks/v8@v8.30.1`), or set repository.secret_scanning.enabled: false",
    });
  }
  const v = r.stdout.trim();
  versions.set(id ?? bin, v);
  if (file && id) {
    // Only the binary in use is kept: a file that cannot grow.
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ [id]: v }));
    fs.renameSync(tmp, file);
  }
  return v;
}

function readVersionFile(file: string): Record<string, string> {
  try {
    const doc: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return {};
    return Object.fromEntries(Object.entries(doc).filter((e): e is [string, string] => typeof e[1] === "string" && /^v?\d+\.\d+/.test(e[1])));
  } catch {
    return {};
  }
}

/**
 * Scans the folder `dir` with gitleaks and returns redacted findings, with fingerprints relative to
 * `dir` (what a `.gitleaksignore` at the top of `dir` takes).
 */
export async function scanRepository(dir: string, opts: ScanOptions = {}): Promise<SecretScanResult> {
  const bin = opts.gitleaksBin ?? "gitleaks";
  // Never a shared folder such as $TMPDIR/repo-sync-cache: another user could plant rules or a link there.
  const cacheDir = ensurePrivateDir(opts.cacheDir ?? cachePath());
  const toolVersion = await gitleaksVersion(bin, cacheDir);
  const ignoreInlineAllow = opts.ignoreInlineAllow === true;
  const root = path.resolve(dir);
  if (!isDirectory(root)) {
    throw new RepoSyncError("scan", `${root} is not a folder that can be scanned`, {
      hint: "pass an existing folder (repo-sync scan PATH), or check repository.main_repo_path",
    });
  }
  const { rulesPath, rulesText } = readRules(opts.configPath, cacheDir);

  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-scan-"));
  const timeoutMs = opts.timeoutMs ?? 600_000;
  try {
    // With gitleaks' own rules (no rules file of the user's), every path allowlist is gitleaks' default
    // one: what it skips by path is read again (rescuedFiles.ts), so the walk names it (debug level).
    const ownRules = rulesPath === path.resolve(defaultRulesFile(cacheDir));
    const scanOne = async (target: string, n: number, cwd = root) => {
      const listSkipped = ownRules && cwd === root;
      const reportPath = path.join(reportDir, `report-${n}.json`);
      const r = await runProgram(bin, gitleaksArgs(rulesPath, reportPath, { ignoreInlineAllow, target, debug: listSkipped }), { cwd, timeoutMs });
      if (r.exitCode !== 0 && r.exitCode !== LEAKS_EXIT_CODE) {
        throw new RepoSyncError("scan", `gitleaks failed scanning ${root}`, {
          command: r.command,
          exitCode: r.exitCode,
          // Debug lines can quote parts of what was found: never passed on.
          stderr: r.timedOut ? "timed out" : r.stderr.split("\n").filter((l) => !l.includes(" DBG ")).join("\n"),
          hint: `check the rules file and that the folder is readable; run the command above by hand in ${root} to see more`,
        });
      }
      let skippedFiles: string[];
      try {
        skippedFiles = listSkipped ? parseSkippedFiles(r.stderr).flatMap((p) => resolveReported(root, p)) : [];
      } catch (err) {
        throw new RepoSyncError("scan", `gitleaks skipped a file of ${root} whose name repo-sync cannot read back`, { hint: "rename the file (plain UTF-8 names)", cause: err });
      }
      return { findings: parseGitleaksReport(fs.existsSync(reportPath) ? fs.readFileSync(reportPath, "utf8") : "[]", cwd), durationMs: r.durationMs, skippedFiles };
    };
    // The walk skips a folder whose own name matches a file pattern (`assets.png/`): scanned again.
    const skeleton = path.join(reportDir, "skeleton");
    fs.mkdirSync(skeleton);
    const verdictFile = path.join(cacheDir, "scans", `folders-${sha256([rulesText, toolVersion, SCAN_SCHEME].join("\0")).slice(0, 16)}.json`);
    const verdicts = readFolderVerdicts(verdictFile);
    const known = verdicts.size;
    const [whole, skipped] = await Promise.all([scanOne(".", 0), skippedFolders(root, rulesPath, { bin, work: skeleton, reportPath: path.join(reportDir, "skeleton.json"), timeoutMs, verdicts })]);
    if (verdicts.size !== known) writeFolderVerdicts(verdictFile, verdicts, listFolders(root));
    const runs = [whole];
    for (const [i, folder] of skipped.entries()) runs.push(await scanOne(rescueTarget(folder), i + 1));
    // With gitleaks' own rules, the files it skips by path, and every file of a folder skipped whole
    // whose files all match too (`node_modules/`), are read under neutral names (rescuedFiles.ts). A
    // user's rules file keeps its allowlists as written: its paths are the user's decision.
    const skipFolders = ownRules ? listFolders(root).filter((f) => verdicts.get(f) === "skip") : [];
    const rescued = ownRules ? [...new Set([...runs.flatMap((x) => x.skippedFiles), ...skipFolders.flatMap((f) => filesUnder(root, f))])] : [];
    const findings = runs.flatMap((x) => x.findings);
    if (rescued.length > 0) {
      const neutral = path.join(reportDir, "rescued");
      fs.mkdirSync(neutral);
      layOut(root, rescued, neutral);
      const run = await scanOne(".", runs.length, neutral);
      runs.push(run);
      findings.push(...renameFindings(run.findings, rescued, readIgnoreFile(root)));
    }
    const result: SecretScanResult = {
      hasSecrets: findings.length > 0,
      findings,
      redacted: true,
      tool: "gitleaks",
      toolVersion,
      durationMs: runs.reduce((t, x) => t + x.durationMs, 0),
      scannedPath: dir,
      configPath: rulesPath,
      ignoreInlineAllow,
      cached: false,
    };
    return result;
  } finally {
    fs.rmSync(reportDir, { recursive: true, force: true });
  }
}

/**
 * What makes two scans of the same file agree: the rules, the gitleaks version, the way we run it, its
 * options and the tree's `.gitleaksignore`. A verdict (a file or a history found clean) is reused only
 * under the same identity.
 */
export function scanIdentity(rulesText: string, toolVersion: string, ignoreInlineAllow: boolean, ignoreFile: string | undefined): string {
  const tool = sha256([rulesText, toolVersion, SCAN_SCHEME, `ignoreInlineAllow=${ignoreInlineAllow}`].join("\0")).slice(0, 16);
  return sha256(`${tool}\0${ignoreFile ?? "-"}`).slice(0, 16);
}

/**
 * The rules file a scan passes with --config (absolute), and the text that stands for the rules in the
 * scan identity: that file's, and every file it extends (rulesChain.ts).
 */
export function readRules(configPath: string | undefined, cacheDir: string): { rulesPath: string; rulesText: string } {
  // gitleaks runs with the tree as cwd: a relative rules path would resolve against the tree.
  const rulesPath = path.resolve(configPath ?? defaultRulesFile(cacheDir));
  try {
    return { rulesPath, rulesText: rulesIdentityText(loadRulesChain(rulesPath)) };
  } catch (err) {
    if (isRepoSyncError(err)) throw err;
    throw new RepoSyncError("scan", `gitleaks rules file ${rulesPath} cannot be read`, {
      hint: "fix repository.secret_scanning.config_path (relative paths resolve against the config file's folder)",
      cause: err,
    });
  }
}

function defaultRulesFile(cacheDir: string): string {
  const p = path.join(cacheDir, "gitleaks-default-rules.toml");
  if (!fs.existsSync(p) || fs.readFileSync(p, "utf8") !== DEFAULT_RULES) {
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(p, DEFAULT_RULES);
  }
  return p;
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}
