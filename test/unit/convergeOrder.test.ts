/**
 * The order of an in-place convergence, against a fake session and a fake rsync: the marker is
 * removed before a push that changes the commit, written only after rsync succeeded, left alone when
 * rsync fails, and never touched when the VM already holds the commit; max_delete's dry run comes
 * before anything changes. (The same order against a real VM: test/integration/cli.test.ts and
 * test/faults.)
 */
import * as assert from "node:assert/strict";
import type { Target } from "../../lib/config/types";
import { RepoSyncError } from "../../lib/errors";
import { convergeInPlace } from "../../lib/sync/converge";
import type { PreparedSource } from "../../lib/sync/prepareSource";
import type { InPlaceSession, RsyncRunner } from "../../lib/sync/result";
import type { TargetHeader } from "../../lib/target/script";
import type { RsyncOutcome } from "../../lib/transfer/runRsync";

const OLD = "1".repeat(40);
const NEW = "2".repeat(40);
const target = { vm: "vm01", host: "10.0.0.1", port: 22, user: "deploy", keyPath: "/k", knownHostsPath: "/kh", connectTimeoutS: 5, acceptNewHostKeys: false, path: "/srv/app/x" } as Target;
const source = { repoPath: "/src", branch: "main", commit: NEW, treeDir: "/tree", transfer: { sourceDir: "/tree", excludes: [], excludeDotGit: true, ioTimeoutS: 60 }, mtimesFromBlobs: false, warnings: [] } as PreparedSource;

/** A session and an rsync that write what they are asked, in order, into `calls`. */
function fakes(header: TargetHeader, rsyncFails = false, deletions = 0) {
  const calls: string[] = [];
  const session: InPlaceSession = {
    header,
    controlPath: "/tmp/ctl",
    fence: { pid: "1", start: "1", boot: "-" },
    invalidate: async () => void calls.push("invalidate"),
    commit: async (c: string) => void calls.push(`commit ${c.slice(0, 4)}`),
    appendHistory: async () => void calls.push("history"),
  } as unknown as InPlaceSession;
  const rsync: RsyncRunner = async (_t, spec, dryRun): Promise<RsyncOutcome> => {
    calls.push(dryRun ? `dry-run${spec.maxDelete === undefined ? "" : " limited"}` : "rsync");
    if (!dryRun && rsyncFails) throw new RepoSyncError("transfer", "rsync exited with 23", { vm: "vm01" });
    const deleted = dryRun ? Array.from({ length: deletions }, (_, i) => `old${i}`) : [];
    return { changes: { added: [], modified: [], deleted }, stats: { filesTotal: 1, filesTransferred: 1, transferredFileSize: 1, literalData: 1, matchedData: 0, bytesSent: 1, bytesReceived: 1 }, durationMs: 1 };
  };
  return { calls, session, rsync };
}

describe("in-place convergence order (fake session and rsync)", () => {
  it("a new commit: invalidate, push, then the marker, then the history line", async () => {
    const f = fakes({ state: "managed", marker: "valid", revision: OLD });
    const r = await convergeInPlace(target, source, { adoptExisting: false, lockTimeoutS: 5, rsync: f.rsync }, f.session);
    assert.deepEqual(f.calls, ["invalidate", "rsync", `commit ${NEW.slice(0, 4)}`, "history"]);
    assert.equal(r.action, "synced");
    assert.equal(r.revision, NEW);
  });

  it("rsync fails: the marker is gone and never written (it cannot name a tree that did not arrive)", async () => {
    const f = fakes({ state: "managed", marker: "valid", revision: OLD }, true);
    await assert.rejects(convergeInPlace(target, source, { adoptExisting: false, lockTimeoutS: 5, rsync: f.rsync }, f.session), /rsync exited with 23/);
    assert.deepEqual(f.calls, ["invalidate", "rsync"]);
  });

  it("the VM holds the commit: a push that repairs, no invalidate, no marker write, no history line", async () => {
    const f = fakes({ state: "managed", marker: "valid", revision: NEW });
    const r = await convergeInPlace(target, source, { adoptExisting: false, lockTimeoutS: 5, rsync: f.rsync }, f.session);
    assert.deepEqual(f.calls, ["rsync"]);
    assert.equal(r.revision, NEW);
  });

  it("max_delete: the dry run counts first; over the limit nothing changes at all", async () => {
    const limited = { ...source, transfer: { ...source.transfer, maxDelete: 2 } };
    const f = fakes({ state: "managed", marker: "valid", revision: OLD }, false, 5);
    await assert.rejects(convergeInPlace(target, limited, { adoptExisting: false, lockTimeoutS: 5, rsync: f.rsync }, f.session), /5/);
    assert.deepEqual(f.calls, ["dry-run"]);
    const ok = fakes({ state: "managed", marker: "valid", revision: OLD }, false, 1);
    await convergeInPlace(target, limited, { adoptExisting: false, lockTimeoutS: 5, rsync: ok.rsync }, ok.session);
    assert.deepEqual(ok.calls, ["dry-run", "invalidate", "rsync", `commit ${NEW.slice(0, 4)}`, "history"]);
  });
});
