import * as assert from "node:assert/strict";
import { classifyRsyncFailure, unknownOwner } from "../../lib/transfer/rsyncErrors";

// stderr as rsync 3.5.0 + OpenSSH 9.2 print it (captured on the test fleet).
const CASES: Array<[number, string, string]> = [
  [30, "[sender] io timeout after 30 seconds -- exiting\nrsync error: timeout in data send/receive (code 30)", "timeout"],
  [23, 'rsync: [receiver] mkstemp "/srv/app/.a.txt.XXXXXX" failed: Permission denied (13)\nrsync error: some files/attrs were not transferred (see previous errors) (code 23)', "target-io"],
  [11, 'rsync: [receiver] write failed on "/srv/app/big.bin": No space left on device (28)', "target-io"],
  [23, 'rsync: [receiver] mkdir "/data/app" failed: Read-only file system (30)', "target-io"],
  [23, "rsync: [sender] some files vanished", "partial-transfer"],
  [25, "Deletions stopped due to --max-delete limit (3 skipped)", "unsafe-target"],
  [12, "rsync: connection unexpectedly closed (1234 bytes received so far) [sender]\nrsync error: error in rsync protocol data stream (code 12)", "transfer"],
  [255, "Connection to 127.0.0.12 closed by remote host.\nrsync: connection unexpectedly closed", "transfer"],
];

describe("rsync failure classification", () => {
  for (const [code, stderr, kind] of CASES) {
    it(`exit ${code}: ${stderr.split("\n").find((l) => !l.startsWith("@")) ?? ""} -> ${kind}`, () => {
      const cls = classifyRsyncFailure(code, stderr);
      assert.equal(cls.kind, kind);
      assert.ok(cls.hint.length > 10, "every class says how to fix it");
    });
  }
});

describe("an owner or group the VM does not have (rsync 3.5.0 warns and exits 0)", () => {
  it("is read from the receiver's warning", () => {
    assert.deepEqual(unknownOwner("Unknown --usermap name on receiver: nosuchuser\nUnknown --groupmap name on receiver: nosuchgroup\n"), { kind: "owner", name: "nosuchuser" });
    assert.deepEqual(unknownOwner("Unknown --groupmap name on receiver: web\n"), { kind: "group", name: "web" });
    assert.equal(unknownOwner("sent 100 bytes  received 20 bytes\n"), undefined);
  });
});
