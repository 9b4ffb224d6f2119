/**
 * Runs the real `pulumi` CLI against a throw-away file backend, for end-to-end tests.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** What a finished child process printed. */
export interface Collected {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program, collects its output, kills it after `timeoutMs`; never throws on exit codes. */
export function runCollect(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Project root of this clone (dist/tools -> ../..). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/** What one CLI run produced. */
export interface PulumiRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  args: string[];
}

/** A Pulumi project folder with its own file backend and stack. */
export class PulumiProject {
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly dir: string, readonly backendDir: string, readonly stack = "dev", extraEnv: NodeJS.ProcessEnv = {}) {
    this.env = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${backendDir}`,
      PULUMI_CONFIG_PASSPHRASE: "test-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_CONFIRMATIONS: "true",
      NO_COLOR: "1",
      ...extraEnv,
    };
  }

  /** Runs `pulumi ARGS` in the project folder. Never throws on a non-zero exit. */
  async run(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PulumiRun> {
    const r = await runCollect("pulumi", [...args, "--non-interactive"], { cwd: this.dir, env: { ...this.env, ...opts.env }, timeoutMs: opts.timeoutMs ?? 180_000 });
    return { ...r, args };
  }

  /** Runs and throws with the full output when the exit code is not 0. */
  async ok(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PulumiRun> {
    const r = await this.run(args, opts);
    if (r.code !== 0) {
      throw new Error(`pulumi ${args.join(" ")} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    }
    return r;
  }

  /** `pulumi stack init` on a fresh backend. */
  async init(): Promise<void> {
    await this.ok(["stack", "init", this.stack]);
  }

  /** The stack's state (`pulumi stack export`). */
  async exportState(): Promise<StackState> {
    const r = await this.ok(["stack", "export", "--show-secrets"]);
    return JSON.parse(r.stdout) as StackState;
  }

  /** The stack's outputs (`pulumi stack output --json`). */
  async outputs(): Promise<Record<string, unknown>> {
    const r = await this.ok(["stack", "output", "--json", "--show-secrets"]);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  /** Removes the project folder and its backend. */
  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.rmSync(this.backendDir, { recursive: true, force: true });
  }
}

/** Shape of `pulumi stack export` we read. */
export interface StackState {
  deployment: {
    resources?: Array<{ urn: string; type: string; id?: string; parent?: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }>;
    pending_operations?: unknown[];
  };
}

/**
 * Copies a fixture project to a temp folder and links this clone's node_modules into it, so that
 * the program and the dynamic-provider process resolve @pulumi/pulumi from here.
 */
export function projectFromFixture(fixtureDir: string, stack = "dev"): PulumiProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-proj-"));
  fs.cpSync(fixtureDir, dir, { recursive: true });
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  const backend = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-backend-"));
  return new PulumiProject(dir, backend, stack);
}

/** The engine events of `pulumi up --json` (after its leading plan document). */
export interface EngineEvent {
  summaryEvent?: { resourceChanges: Record<string, number>; result?: string };
  diagnosticEvent?: { message: string; severity: string; urn?: string };
  resOutputsEvent?: { metadata: { op: string; urn: string } };
  [key: string]: unknown;
}

/**
 * Splits `pulumi up --json` output: a pretty-printed plan document, then one engine event per line.
 */
export function parseUpJson(run: PulumiRun): { plan: Record<string, unknown>; events: EngineEvent[] } {
  const lines = run.stdout.split("\n");
  const end = lines.findIndex((l) => l === "}");
  if (!lines[0]?.startsWith("{") || end < 0) {
    throw new Error(`pulumi ${run.args.join(" ")} did not print its JSON plan (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  const plan = JSON.parse(lines.slice(0, end + 1).join("\n")) as Record<string, unknown>;
  const events = lines.slice(end + 1).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as EngineEvent);
  return { plan, events };
}

/** Parses `pulumi preview --json` output (one JSON document). */
export function parseEngineJson<T = Record<string, unknown>>(run: PulumiRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch (err) {
    throw new Error(`pulumi ${run.args.join(" ")} did not print JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`, { cause: err });
  }
}

/**
 * A Pulumi project folder that runs this clone's compiled program (dist/index.js) with its own
 * backend, stack `dev`, and `repo-sync:configPath` set to `configPath`.
 */
export async function programProject(configPath: string, stack = "dev", backendDir?: string): Promise<PulumiProject> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-prog-"));
  const main = path.relative(dir, path.join(PROJECT_ROOT, "dist", "index.js"));
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    `name: repo-sync\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: ${main}\n`,
  );
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  const backend = backendDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-backend-"));
  const project = new PulumiProject(dir, backend, stack);
  await project.init();
  await project.ok(["config", "set", "repo-sync:configPath", configPath]);
  return project;
}
