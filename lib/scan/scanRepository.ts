/**
 * The secret gate: gitleaks over exactly the tree that will be pushed. Rules are always passed with
 * `--config` (ours or the user's), so a `.gitleaks.toml` inside the scanned tree cannot replace them.
 * Results are cached by tree identity (commit) + rules + gitleaks version.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { runProgram } from "../process/run";
import { Finding, parseGitleaksReport } from "./gitleaksReport";

/** Exit code we ask gitleaks to use for "leaks found", to tell it apart from errors (1). */
export const LEAKS_EXIT_CODE = 3;
/** gitleaks' built-in rules, made explicit. */
export const DEFAULT_RULES = "# repo-sync: gitleaks' default rules\n[extend]\nuseDefault = true\n";

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
  /** True when this result came from the cache (no scan ran). */
  cached: boolean;
}

/** Options for {@link scanRepository}. */
export interface ScanOptions {
  /** gitleaks rules; default: gitleaks' built-in rules. */
  configPath?: string;
  /** Identity of the tree (a commit hash); when set, the result is cached under it. */
  cacheKey?: string;
  cacheDir?: string;
  /** gitleaks binary (default: `gitleaks` on PATH). */
  gitleaksBin?: string;
  timeoutMs?: number;
}

/** Builds gitleaks' argv for a directory scan (pure). */
export function gitleaksArgs(dir: string, rulesPath: string, reportPath: string): string[] {
  return [
    "dir", dir,
    "--config", rulesPath,
    "--gitleaks-ignore-path", dir,
    "--report-format", "json",
    "--report-path", reportPath,
    "--redact",
    "--no-banner",
    "--no-color",
    "--log-level", "error",
    "--exit-code", String(LEAKS_EXIT_CODE),
  ];
}

const versions = new Map<string, string>();

/** `gitleaks version`, once per binary; a missing binary is a clear error. */
export async function gitleaksVersion(bin = "gitleaks"): Promise<string> {
  const known = versions.get(bin);
  if (known) return known;
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
  versions.set(bin, v);
  return v;
}

/** Scans `dir` with gitleaks and returns redacted findings. */
export async function scanRepository(dir: string, opts: ScanOptions = {}): Promise<SecretScanResult> {
  const bin = opts.gitleaksBin ?? "gitleaks";
  const toolVersion = await gitleaksVersion(bin);
  const cacheDir = opts.cacheDir ?? path.join(os.tmpdir(), "repo-sync-cache");
  const rulesPath = opts.configPath ?? defaultRulesFile(cacheDir);
  let rulesText: string;
  try {
    rulesText = fs.readFileSync(rulesPath, "utf8");
  } catch (err) {
    throw new RepoSyncError("scan", `gitleaks rules file ${rulesPath} cannot be read`, {
      hint: "fix repository.secret_scanning.config_path (relative paths resolve against the config file's folder)",
      cause: err,
    });
  }
  const cacheFile = opts.cacheKey
    ? path.join(cacheDir, "scans", `${opts.cacheKey}-${sha256(rulesText + "\0" + toolVersion).slice(0, 16)}.json`)
    : undefined;
  if (cacheFile && fs.existsSync(cacheFile)) {
    const hit = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as SecretScanResult;
    return { ...hit, scannedPath: dir, cached: true };
  }

  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-scan-"));
  const reportPath = path.join(reportDir, "report.json");
  try {
    const args = gitleaksArgs(dir, rulesPath, reportPath);
    const r = await runProgram(bin, args, { cwd: dir, timeoutMs: opts.timeoutMs ?? 600_000 });
    if (r.exitCode !== 0 && r.exitCode !== LEAKS_EXIT_CODE) {
      throw new RepoSyncError("scan", `gitleaks failed scanning ${dir}`, {
        command: r.command,
        exitCode: r.exitCode,
        stderr: r.timedOut ? "timed out" : r.stderr,
        hint: "check the rules file and that the folder is readable; run the command above by hand to see more",
      });
    }
    const findings = parseGitleaksReport(fs.existsSync(reportPath) ? fs.readFileSync(reportPath, "utf8") : "[]", dir);
    const result: SecretScanResult = {
      hasSecrets: findings.length > 0,
      findings,
      redacted: true,
      tool: "gitleaks",
      toolVersion,
      durationMs: r.durationMs,
      scannedPath: dir,
      configPath: rulesPath,
      cached: false,
    };
    if (cacheFile) {
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      fs.writeFileSync(cacheFile + ".tmp", JSON.stringify(result));
      fs.renameSync(cacheFile + ".tmp", cacheFile);
    }
    return result;
  } finally {
    fs.rmSync(reportDir, { recursive: true, force: true });
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
