/**
 * What the rollout tests watch on each VM: a set of files that every version rewrites (a reader that
 * sees two versions at once saw a mixed tree), readers that read them through `current` the way a
 * service would, and a snapshot of a tree that tells whether anything in it changed.
 */
import * as assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Fleet } from "../../tools/fleet/fleet";

/** Files every version rewrites. */
export const MIX = Array.from({ length: 30 }, (_, i) => `mix/f${String(i).padStart(2, "0")}.txt`);

/** The MIX files of version `v` (for repo.commit). */
export const version = (v: string): Record<string, string> => Object.fromEntries(MIX.map((f) => [f, `${v}\n`]));

/** Every entry under `dir` (not following links): type, mode, bytes (hashed), link target, mtime, inode. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const p = path.join(dir, rel);
    const st = fs.lstatSync(p);
    const what = st.isSymbolicLink() ? `link ${fs.readlinkSync(p)}` : st.isDirectory() ? "dir" : `file ${crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex")}`;
    out[rel || "."] = `${what} ${st.mode.toString(8)} ${st.mtimeMs}${st.isDirectory() ? "" : ` ${st.ino}`}`;
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(rel, n));
  };
  walk("");
  return out;
}

/**
 * Starts a reader on each VM (like a service: resolve `current` once per request, then read every
 * MIX file of it) while `work` runs; then stops them and asserts that each read often and never saw
 * two versions at once. Resolves with what `work` resolved.
 */
export async function whileReading<T>(fleet: Fleet, vms: string[], work: () => Promise<T>): Promise<T> {
  const stopFile = (vm: string) => path.join(fleet.vm(vm).root, "stop-reader");
  const readers: Array<{ vm: string; proc: ChildProcess; seen: string }> = vms.map((vm) => {
    const dir = fleet.vm(vm).targetPath;
    const proc = spawn("/bin/sh", ["-c", `cd ${JSON.stringify(dir)} && while [ ! -e ${JSON.stringify(stopFile(vm))} ]; do (cd current && cat mix/*.txt | sort -u | tr '\\n' ' '; echo); sleep 0.02; done`], { stdio: ["ignore", "pipe", "inherit"] });
    const r = { vm, proc, seen: "" };
    proc.stdout?.on("data", (d: Buffer) => (r.seen += d.toString()));
    return r;
  });
  let result: T;
  try {
    result = await work();
  } finally {
    for (const r of readers) fs.writeFileSync(stopFile(r.vm), "");
    await Promise.all(readers.map((r) => new Promise((resolve) => (r.proc.exitCode !== null ? resolve(null) : r.proc.on("close", resolve)))));
    for (const r of readers) fs.rmSync(stopFile(r.vm));
  }
  for (const r of readers) {
    const reads = r.seen.split("\n").filter((l) => l.trim() !== "");
    assert.ok(reads.length > 5, `${r.vm}: only ${reads.length} reads`);
    assert.deepEqual(reads.filter((l) => l.trim().split(" ").length !== 1), [], `${r.vm}: mixed reads`);
  }
  return result;
}
