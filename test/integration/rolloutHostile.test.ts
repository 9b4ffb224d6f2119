/**
 * Rollouts against a hostile VM and a careless health check, through the real CLI on a 3-VM loopback
 * fleet: whoever can write a target directory plants a symlink under the temp name repo-sync writes
 * its markers and trail through, or swaps the trail for a link between the test and the read (repo-sync,
 * maybe root through sudo, must write and copy nothing outside the target); a health check that prints
 * without end (the run must not die mid-rollout, leaving switched VMs unrolled back); a forged trail
 * line full of terminal escapes (`repo-sync history` must not print them raw).
 *
 * The races are made deterministic: the VMs' sshd put a folder first in PATH (`SetEnv`) whose
 * `mktemp`, `tail` and `dd` act, when told to, as a process racing repo-sync would (one watching the
 * folder with inotify wins these races every time), then run the real program.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { HistoryDoc, SyncDoc } from "../../cli/format";
import { Fleet, startFleet } from "../../tools/fleet/fleet";
import { writeFleetConfig } from "../../tools/fleet/fleetConfig";
import { makeSourceRepo, SourceRepo } from "../../tools/fleet/sourceRepo";
import { json, runCli } from "../support/cli";

const real = (name: string) => execFileSync("/bin/sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();

/** The PATH folder of the racing tools (see the file comment); `state` is where they are told what to do. */
function racingTools(bin: string, state: string): void {
  const swapLog = `if [ -f ${state}/swap-log ]; then for a in "$@"; do case "$a" in .repo-sync.log|if=.repo-sync.log) ln -sfn ${state}/secret .repo-sync.log.swap && mv -fT .repo-sync.log.swap .repo-sync.log ;; esac; done; fi`;
  const tools: Record<string, string> = {
    // The Nth name handed out (not a folder's) is already a link to the victim when the caller gets it.
    mktemp: [
      `name=$(${real("mktemp")} "$@") || exit $?`,
      `n=$(( $(cat ${state}/calls 2>/dev/null || echo 0) + 1 )); echo "$n" > ${state}/calls`,
      `if [ -f ${state}/at ] && [ "$n" = "$(cat ${state}/at)" ]; then case " $* " in *" -d "*) ;; *) ln -sfn ${state}/victim "$name" ;; esac; fi`,
      `printf '%s\\n' "$name"`,
    ].join("\n"),
    // Reading the trail: it is a link to the secret by the time the real program opens it.
    tail: `${swapLog}\nexec ${real("tail")} "$@"`,
    dd: `${swapLog}\nexec ${real("dd")} "$@"`,
  };
  for (const [name, body] of Object.entries(tools)) fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

describe("rollouts against a hostile VM and a careless health check (CLI)", function () {
  this.timeout(240_000);
  let fleet: Fleet;
  let repo: SourceRepo;
  let cfg: string;
  let tools: string;
  let state: string;
  const dir = (vm: string) => fleet.vm(vm).targetPath;
  const served = (vm: string) => fs.readlinkSync(path.join(dir(vm), "current")).slice("releases/".length);
  const write = (repository: Record<string, unknown> = {}, vms: Record<string, Record<string, unknown>> = {}) =>
    writeFleetConfig(fleet, cfg, { repoPath: repo.path, repository: { layout: "releases", keep_releases: 3, ...repository }, vms });
  /** A file of the login user outside every target, with its bytes and mode. */
  const plant = (name: string, text: string) => {
    const p = path.join(state, name);
    fs.writeFileSync(p, text, { mode: 0o600 });
    execFileSync("chown", [`${fleet.vms[0].user}:`, p]);
    return p;
  };
  const look = (p: string) => ({ text: fs.readFileSync(p, "utf8"), mode: (fs.statSync(p).mode & 0o777).toString(8) });

  before(async () => {
    tools = fs.mkdtempSync(path.join(os.tmpdir(), "repo-sync-racing-"));
    state = path.join(tools, "state");
    fs.mkdirSync(path.join(tools, "bin"), { recursive: true });
    fs.mkdirSync(state);
    fs.chmodSync(tools, 0o755);
    fleet = await startFleet({ count: 3, firstOctet: 224, extraSshdConfig: [`SetEnv PATH=${path.join(tools, "bin")}:/usr/local/bin:/usr/bin:/bin`] });
    execFileSync("chown", [`${fleet.vms[0].user}:`, state]);
    racingTools(path.join(tools, "bin"), state);
    repo = makeSourceRepo();
    cfg = path.join(fleet.baseDir, "config.yml");
    write();
    const run = await runCli(["sync", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, run.stderr);
  });
  after(async () => {
    await fleet?.stop();
    if (repo) fs.rmSync(repo.path, { recursive: true, force: true });
    if (tools) fs.rmSync(tools, { recursive: true, force: true });
  });

  it("a symlink planted under any temp name it writes through: nothing outside the target is written or chmod-ed, the marker never lies", async () => {
    const victim = plant("victim", "VICTIM\n");
    let n = 0;
    let unrecorded = 0;
    for (let at = 1; ; at++) {
      repo.commit({ "race.txt": `${at}\n` }, `race ${at}`);
      fs.writeFileSync(path.join(state, "at"), `${at}\n`);
      fs.writeFileSync(path.join(state, "calls"), "0\n");
      const run = await runCli(["sync", "vm01", "--config", cfg, "--json"]);
      assert.ok(run.code === 0 || run.code === 1, `name ${at}: exit ${run.code}\n${run.stderr}`);
      assert.deepEqual(look(victim), { text: "VICTIM\n", mode: "600" }, `the file linked under temp name ${at} was written or chmod-ed`);
      // Whatever failed, what `current` points at is a complete release whose marker is a file naming it.
      const marker = path.join(dir("vm01"), "current", ".sync_rev");
      assert.ok(fs.lstatSync(marker).isFile(), `name ${at}: .sync_rev is not a plain file`);
      assert.equal(fs.readFileSync(marker, "utf8"), `${served("vm01")}\n`);
      if (/was not recorded in the VM's history/.test(run.stdout + run.stderr)) unrecorded++;
      n = at;
      if (Number(fs.readFileSync(path.join(state, "calls"), "utf8")) < at) break;
    }
    assert.ok(n >= 5, `only ${n} temp names in a sync`);
    assert.equal(unrecorded, 1, "the trail's own temp name was among them (that deploy said it was not recorded)");
    fs.rmSync(path.join(state, "at"));
    // With nobody racing, the next run deploys and records as usual.
    const next = repo.commit({ "race.txt": "calm\n" }, "calm");
    const run = await runCli(["sync", "vm01", "--config", cfg, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(served("vm01"), next);
    const h = await runCli(["history", "vm01", "--config", cfg, "--json"]);
    assert.deepEqual(json<HistoryDoc>(h).vms[0].entries.at(-1)?.commit, next);
  });

  it("the trail swapped for a link to a secret between its test and its read: the secret is not copied into the trail", async () => {
    const secret = plant("secret", "SECRET-ONLY-ITS-OWNER-READS\n");
    const next = repo.commit({ "swap.txt": "1\n" }, "swap");
    fs.writeFileSync(path.join(state, "swap-log"), "");
    let run;
    try {
      run = await runCli(["sync", "vm02", "--config", cfg, "--json"]);
    } finally {
      fs.rmSync(path.join(state, "swap-log"));
    }
    assert.equal(run.code, 0, run.stderr);
    assert.equal(served("vm02"), next);
    const trail = path.join(dir("vm02"), ".repo-sync.log");
    assert.ok(fs.lstatSync(trail).isFile(), "the trail is a file again");
    assert.doesNotMatch(fs.readFileSync(trail, "utf8"), /SECRET/);
    assert.deepEqual(look(secret), { text: "SECRET-ONLY-ITS-OWNER-READS\n", mode: "600" });
  });

  it("a health check that prints without end: the run does not die, the rollback happens, the error shows the end of the output", async () => {
    const old = served("vm01");
    const old02 = served("vm02");
    const untouched = served("vm03");
    const next = repo.commit({ "loud.txt": "1\n" }, "loud");
    // More than a JavaScript string can hold (512 MiB): kept whole, it killed the run mid-rollout.
    write({ rollout: { waves: [1], on_failure: "rollback" } }, { vm02: { health_check: { command: "yes | head -c 600000000; echo the end; exit 4", retries: 0, timeout_s: 120 } } });
    const run = await runCli(["sync", "--config", cfg, "--json"]);
    write();
    assert.equal(run.code, 1, run.stderr.slice(-2000));
    const doc = json<SyncDoc>(run);
    assert.deepEqual(doc.rollout?.rolled_back.slice().sort(), ["vm01", "vm02"]);
    assert.deepEqual(doc.rollout?.untouched, ["vm03"]);
    const vm02 = doc.results.find((r) => r.vm === "vm02");
    assert.equal(vm02?.error?.kind, "health");
    assert.match(vm02?.error?.message ?? "", /exited with 4/);
    assert.match(vm02?.error?.message ?? "", /the end/);
    assert.ok((vm02?.error?.message.length ?? 0) < 20_000, "only the end of the output is shown");
    assert.equal(served("vm01"), old);
    assert.equal(served("vm02"), old02);
    assert.equal(served("vm03"), untouched);
    assert.notEqual(old, next);
  });

  it("repo-sync history: a forged trail line's escapes and line breaks are shown escaped, never sent to the terminal", async () => {
    const commit = served("vm03");
    const forged = JSON.stringify({ time: "\u001b]0;PWNED\u0007\u001b[2J2026", event: "deploy", commit, previous: null, by: "alice\nvm09  fake line", result: "ok", detail: "\u001b[8mhidden\u009b31m\u202eevil" });
    fs.appendFileSync(path.join(dir("vm03"), ".repo-sync.log"), `${forged}\n`);
    const text = await runCli(["history", "vm03", "--config", cfg]);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    assert.doesNotMatch(text.stdout, /^vm09/m);
    assert.match(text.stdout, /\\u001b\]0;PWNED\\u0007\\u001b\[2J2026 +deploy/);
    assert.match(text.stdout, /alice\\u000avm09  fake line/);
    // --json keeps the values as they are (JSON escapes them).
    const doc = json<HistoryDoc>(await runCli(["history", "vm03", "--config", cfg, "--json"]));
    assert.equal(doc.vms[0].entries.at(-1)?.by, "alice\nvm09  fake line");
  });
});
