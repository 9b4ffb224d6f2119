/**
 * Every script repo-sync sends to a VM, as it generates it, passes `shellcheck -s sh` (POSIX sh, every
 * severity), except the findings listed below, each one on purpose. The set-up installs shellcheck.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hookScript } from "../../providers/postSyncHook";
import { FENCE_CLOSE, TRANSFER_WRAPPER } from "../../lib/target/fence";
import { holdingProbeScript, probeScript, sessionScript } from "../../lib/target/script";
import { healthCheckLoop, healthCheckScript } from "../../lib/sync/healthCheck";
import type { Target } from "../../lib/config/types";

/** Findings accepted, by code, each with the reason and the source text it may point at. */
const ACCEPTED: Array<{ code: string; at: RegExp; why: string }> = [
  // /proc/PID/stat after the command name: the fields are split on purpose (no file names in them).
  { code: "SC2086", at: /set -- \$L/, why: "word splitting of /proc/PID/stat fields is the point" },
  // `A && B || C` everywhere means "unless A and B both hold, C": C running when B fails is intended.
  { code: "SC2015", at: /&&.*\|\|/, why: "unless (A and B), C" },
];

const target = { vm: "vm01", host: "10.0.0.1", port: 22, user: "deploy", keyPath: "/k", knownHostsPath: "/kh", connectTimeoutS: 5, acceptNewHostKeys: false, path: "/srv/app/x" } as Target;
const check = { command: "curl -fsS http://localhost/health", timeoutS: 10, retries: 2, intervalS: 3 };

/** The script inside healthCheckLoop's `/bin/sh -c '...'` (unquoted back). */
function healthLoopInner(): string {
  const outer = healthCheckLoop(check);
  const q = outer.slice("/bin/sh -c ".length);
  return q.slice(1, -1).replace(/'\\''/g, "'");
}

/** Every generated script, in each variant that changes its text. */
function scripts(): Record<string, string> {
  const t = "/srv/app/x";
  return {
    probe: probeScript(t),
    "probe (releases)": probeScript(t, "releases"),
    "holding probe": holdingProbeScript(t),
    "holding probe (releases)": holdingProbeScript(t, "releases"),
    session: sessionScript(t, 30),
    "session (releases, migrate, shared)": sessionScript(t, 30, "releases", true, ["uploads", "config/local.yml"]),
    "transfer wrapper": TRANSFER_WRAPPER,
    "fence close": FENCE_CLOSE,
    hook: hookScript(t, "systemctl restart app"),
    "hook (releases)": hookScript(t, "true", "a".repeat(40)),
    "health check": healthCheckScript(target, check, "a".repeat(40)),
    "health check (releases)": healthCheckScript({ ...target, layout: "releases" }, check, "a".repeat(40)),
    // The Pulumi health resource's command: the loop, and the loop's own text as /bin/sh reads it.
    "health loop": healthCheckLoop(check),
    "health loop (inner)": healthLoopInner(),
  };
}

describe("shellcheck -s sh over every script repo-sync runs on a VM", () => {
  it("finds nothing but the accepted findings", function () {
    this.timeout(60_000);
    const which = spawnSync("sh", ["-c", "command -v shellcheck"], { encoding: "utf8" });
    assert.equal(which.status, 0, "shellcheck is not installed: run ./run.sh setup (it installs Debian's shellcheck)");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-shellcheck-"));
    try {
      const unexpected: string[] = [];
      for (const [name, text] of Object.entries(scripts())) {
        const file = path.join(dir, `${name.replace(/\W+/g, "_")}.sh`);
        fs.writeFileSync(file, `${text}\n`);
        const lines = text.split("\n");
        const r = spawnSync("shellcheck", ["-s", "sh", "-f", "json", file], { encoding: "utf8" });
        assert.ok(r.status === 0 || r.status === 1, `shellcheck failed to run on ${name}: ${r.stderr}`);
        const findings = JSON.parse(r.stdout || "[]") as Array<{ line: number; column: number; code: number; message: string }>;
        for (const f of findings) {
          const code = `SC${f.code}`;
          const source = lines[f.line - 1] ?? "";
          // The text around the finding (its column points into the construct).
          const at = source.slice(Math.max(0, f.column - 21), f.column + 200);
          if (!ACCEPTED.some((a) => a.code === code && a.at.test(at))) unexpected.push(`${name}:${f.line}:${f.column} ${code} ${f.message}\n    ${source.trim().slice(0, 160)}`);
        }
      }
      assert.deepEqual(unexpected, []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
