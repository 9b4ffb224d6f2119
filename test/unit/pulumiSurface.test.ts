/**
 * The Pulumi surface's pure parts for errors, logs and drift: the `drift` output and the preview's
 * drift sentence, the engine address a provider plugin is given, and the program-side error whose
 * message the SDK cannot rewrite.
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../lib/config/load";
import { RepoSyncError } from "../../lib/errors";
import { describeDrift, driftOutput, DRIFT_PATHS_MAX } from "../../providers/drift";
import { engineAddress } from "../../providers/engineLog";
import { resourceError } from "../../providers/resourceError";

const paths = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("the drift output and sentence (pure)", () => {
  it("counts each kind and lists its paths", () => {
    assert.deepEqual(driftOutput({ modified: ["src/app.py"], added: ["notes.txt", "cache/"], deleted: [] }), {
      compared: true, counts: { modified: 1, added: 2, deleted: 0 }, modified: ["src/app.py"], added: ["notes.txt", "cache/"], deleted: [], more: 0,
    });
  });
  it("caps each list at 100 and counts the rest in `more`", () => {
    const d = driftOutput({ modified: paths("m", 130), added: paths("a", 100), deleted: paths("d", 101) });
    assert.equal(DRIFT_PATHS_MAX, 100);
    assert.deepEqual(d.counts, { modified: 130, added: 100, deleted: 101 });
    assert.deepEqual([d.modified.length, d.added.length, d.deleted.length], [100, 100, 100]);
    assert.equal(d.modified[99], "m99");
    assert.equal(d.more, 31);
  });
  it("a tree not compared is not a tree without drift", () => {
    assert.deepEqual(driftOutput(undefined), { compared: false, counts: { modified: 0, added: 0, deleted: 0 }, modified: [], added: [], deleted: [], more: 0 });
  });
  const sentences: Array<[string, Parameters<typeof describeDrift>[0], string]> = [
    ["one modified", { modified: ["src/app.py"], added: [], deleted: [] }, "tree drift: 1 modified, 0 added, 0 deleted (modified: src/app.py)"],
    ["each kind named", { modified: ["a"], added: ["b/", "c"], deleted: ["d"] }, "tree drift: 1 modified, 2 added, 1 deleted (modified: a; added: b/, c; deleted: d)"],
    ["only added and deleted", { modified: [], added: ["new.txt"], deleted: ["README.md"] }, "tree drift: 0 modified, 1 added, 1 deleted (added: new.txt; deleted: README.md)"],
    ["three per kind, then a count", { modified: paths("m", 5), added: [], deleted: [] }, "tree drift: 5 modified, 0 added, 0 deleted (modified: m0, m1, m2 +2 more)"],
    ["a name made on the VM stays on one line", { modified: [], added: ["x\nerror: fake"], deleted: [] }, "tree drift: 0 modified, 1 added, 0 deleted (added: x\\x0aerror: fake)"],
    ["not compared", undefined, "tree drift: unknown"],
  ];
  for (const [name, changes, sentence] of sentences) it(name, () => assert.equal(describeDrift(changes), sentence));
});

describe("the engine address a provider plugin is started with (pure)", () => {
  for (const [argv, address] of [[["127.0.0.1:41235"], "127.0.0.1:41235"], [["localhost:9"], "localhost:9"], [[], undefined], [["--logtostderr"], undefined], [["--logtostderr", "-v=9", "--tracing", "127.0.0.1:9411", "127.0.0.1:40001"], "127.0.0.1:40001"], [["127.0.0.1:1; rm -rf /"], undefined]] as const) {
    it(JSON.stringify(argv), () => assert.equal(engineAddress(argv), address));
  }
});

describe("program-side errors: a ResourceError with a fixed message", () => {
  it("keeps its message when the SDK prefixes one (error serializing property ...), hides its stack", () => {
    const err = resourceError(new ConfigError("/x/config.yml", [{ key: "repository.lock_timeout_s", message: "must be an integer from 0 to 3600, got a number (-3)" }]), undefined);
    assert.ok(pulumi.ResourceError.isInstance(err));
    const message = (err as pulumi.ResourceError).message;
    assert.match(message, /^invalid configuration in \/x\/config\.yml \(1 problem\):\n {2}- repository\.lock_timeout_s: .*\n {2}fix: /);
    (err as Error).message = `error serializing property "commit": ${message}`;
    assert.equal((err as Error).message, message);
    assert.equal((err as pulumi.ResourceError).hideStack, true);
  });
  it("a RepoSyncError of any kind; anything else (a bug) is left as it is, stack and all", () => {
    assert.ok(pulumi.ResourceError.isInstance(resourceError(new RepoSyncError("secrets", "found"), undefined)));
    const bug = new TypeError("x is undefined");
    assert.equal(resourceError(bug, undefined), bug);
  });
});
