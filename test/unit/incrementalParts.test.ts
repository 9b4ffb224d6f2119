import * as assert from "node:assert/strict";
import { advanceRecord, findingsByPair, KEEP_GENERATIONS, pairKey, parseRecord, readRecord, writeRecord } from "../../lib/scan/cleanRecord";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { baseRows, parseRawDiff } from "../../lib/source/exportTree";
import { isCheckoutSafePath, displayPath, parseLsTree, pathBytes, treePath, treeProblem } from "../../lib/source/treeListing";
import { parseBatchHeader } from "../../lib/source/blobWriter";
import { gitBlobHash } from "../../lib/source/exportCheck";
import { quickCheckBlind } from "../../lib/source/quickCheck";
import { historyRounds, parseHistoryDiff } from "../../lib/scan/scanHistory";

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("incremental parts (pure)", () => {
  it("the clean record round-trips odd paths and ignores damaged lines", () => {
    const text = `3\t${A}\t"src/app.py"\n2\t${B}\t"tab\\there\\nnewline"\ngarbage\n1\t${A}\tunquoted\n`;
    const r = parseRecord(text);
    assert.deepEqual([...r.entries()], [[pairKey({ id: A, path: "src/app.py" }), { gen: 3, findings: [] }], [pairKey({ id: B, path: "tab\there\nnewline" }), { gen: 2, findings: [] }]]);
  });

  it("the record keeps a pair's findings (no secret material), written private and read back only when private", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rs-record-"));
    try {
      const file = path.join(dir, "clean", "r.tsv");
      const f = { file: "a\tb.env", line: 2, rule: "github-pat", fingerprint: "a\tb.env:github-pat:2" };
      const extra = { ...f, secret: "ghp_notkept", match: "TOKEN=ghp_notkept" };
      const r = advanceRecord(new Map(), [{ id: A, path: "a\tb.env" }, { id: B, path: "clean.txt" }], new Map([[pairKey({ id: A, path: "a\tb.env" }), [extra, f]]]));
      writeRecord(file, r);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.doesNotMatch(fs.readFileSync(file, "utf8"), /notkept/, "only file, line, rule and fingerprint are written");
      assert.deepEqual([...readRecord(file).entries()], [[pairKey({ id: A, path: "a\tb.env" }), { gen: 1, findings: [f, f] }], [pairKey({ id: B, path: "clean.txt" }), { gen: 1, findings: [] }]]);
      // A pair's verdict carries over to the next tree that keeps the pair.
      assert.deepEqual(advanceRecord(readRecord(file), [{ id: A, path: "a\tb.env" }]).get(pairKey({ id: A, path: "a\tb.env" })), { gen: 2, findings: [f, f] });
      fs.chmodSync(file, 0o620);
      assert.equal(readRecord(file).size, 0, "a record others can write is not trusted");
      fs.chmodSync(file, 0o600);
      fs.symlinkSync(file, path.join(dir, "link.tsv"));
      assert.equal(readRecord(path.join(dir, "link.tsv")).size, 0, "nor one reached through a link");
      // Damaged finding columns drop the line (the pair is scanned again), never its findings alone.
      const bad = [`1\t${A}\t"x"\t[]`, `1\t${A}\t"y"\t[{"file":"y","line":"2","rule":"r","fingerprint":"y:r:2"}]`, `1\t${A}\t"z"\tnot json`, `1\t${A}\t"w"\t[{"file":"w","line":1,"rule":"r","fingerprint":"w:r:1"}]\textra`];
      assert.equal(parseRecord(bad.join("\n")).size, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("each finding is kept with the one pair it names, else the scan is not remembered", () => {
    const f = (file: string) => ({ file, line: 1, rule: "r", fingerprint: `${file}:r:1` });
    const read = [{ id: A, path: "a.env" }, { id: B, path: "docs/x.zip" }, { id: A, path: "n\xc3\xa9.txt" }];
    const by = findingsByPair([f("a.env"), f("a.env"), f("docs/x.zip!inner/key.pem"), f("n\u00e9.txt")], read);
    assert.deepEqual(by && [...by.entries()], [
      [pairKey(read[0]), [f("a.env"), f("a.env")]], [pairKey(read[1]), [f("docs/x.zip!inner/key.pem")]], [pairKey(read[2]), [f("n\u00e9.txt")]],
    ]);
    assert.equal(findingsByPair([f("other.env")], read), undefined, "a file that was not read");
    // Two names that gitleaks prints alike (bytes that are not UTF-8 read as U+FFFD), or `a` and `a!b`.
    assert.equal(findingsByPair([f("\ufffd.txt")], [{ id: A, path: "\xff.txt" }, { id: B, path: "\xfe.txt" }]), undefined);
    assert.equal(findingsByPair([f("a!b")], [{ id: A, path: "a" }, { id: B, path: "a!b" }]), undefined);
    // gitleaks (Go) prints each byte that is not UTF-8 as one U+FFFD, Node a cut-off sequence as one:
    // the secret in `a\xe2\x82` is reported as `a\ufffd\ufffd`, which is how `a\xff\xff` reads here.
    assert.equal(findingsByPair([f("a\ufffd\ufffd")], [{ id: A, path: "a\xe2\x82" }, { id: B, path: "a\xff\xff" }]), undefined, "never pinned on a file that only reads alike");
    assert.deepEqual(findingsByPair([], read), new Map());
  });

  it("advancing keeps the last trees' pairs only", () => {
    let r = advanceRecord(new Map(), [{ id: A, path: "old.txt" }]);
    for (let i = 0; i < KEEP_GENERATIONS - 1; i++) r = advanceRecord(r, [{ id: B, path: "kept.txt" }]);
    assert.equal(r.has(pairKey({ id: A, path: "old.txt" })), true, "still within the last trees");
    r = advanceRecord(r, [{ id: B, path: "kept.txt" }]);
    assert.equal(r.has(pairKey({ id: A, path: "old.txt" })), false, "dropped once older than the last trees");
    assert.equal(r.size, 1);
  });

  it("parses git diff --raw -z (the record layout git 2.39 prints), every status and mode", () => {
    const raw = [
      `:100644 100644 ${A} ${B} M`, "src/app.py",
      `:100644 000000 ${A} ${"0".repeat(40)} D`, "gone dir/with space.txt",
      `:000000 120000 ${"0".repeat(40)} ${B} A`, "link",
      `:120000 100644 ${A} ${B} T`, "was-link",
      `:160000 160000 ${A} ${B} M`, "vendor/lib",
      "",
    ].join("\0");
    assert.deepEqual(parseRawDiff(raw).map((c) => [c.status, c.oldMode, c.newMode, c.path]), [
      ["M", "100644", "100644", "src/app.py"], ["D", "100644", "000000", "gone dir/with space.txt"], ["A", "000000", "120000", "link"],
      ["T", "120000", "100644", "was-link"], ["M", "160000", "160000", "vendor/lib"],
    ]);
    assert.deepEqual(parseRawDiff(""), []);
  });

  it("writes by hand only the paths git would check out", () => {
    for (const ok of ["a", "src/app.py", "a b/ünï.txt", ".gitignore", "x/.github/y", "..x", "x.."]) assert.equal(isCheckoutSafePath(ok), true, ok);
    for (const bad of ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".git/config", "x/.GIT/hooks/post-checkout", "..", "."]) assert.equal(isCheckoutSafePath(bad), false, bad);
  });
});

describe("one export of a commit: listing, checks and parsers (captured git output)", () => {
  const lsTree = Buffer.from(
    "100644 blob 587be6b4c3f93f93c489c0111bba5596147a26cb\ta.txt\x00100755 blob 975fbec8256d3e8a3797e7a3611380f27c49f4ac\td/sp ace.sh\x00" +
      "120000 blob 8d14cbf983b3fad683171c9418998d9f68340823\tl\x00160000 commit 42ff98618b3f71427e63fe0bba916cbc9cc6a2ba\tsub\x00" +
      "100644 blob 53c74cd6c8f3911ae716f60f9b79f575aab0e975\tcaf\xe9.txt\x00",
    "latin1",
  );

  it("parses git ls-tree -r -z, names kept as bytes", () => {
    const rows = parseLsTree(lsTree);
    assert.deepEqual(rows.map((r) => [r.mode, r.path]), [["100644", "a.txt"], ["100755", "d/sp ace.sh"], ["120000", "l"], ["160000", "sub"], ["100644", "caf\xe9.txt"]]);
    assert.deepEqual(pathBytes(rows[4].path), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]));
    assert.equal(displayPath(rows[4].path), "caf\ufffd.txt");
    assert.equal(treePath("ünï"), Buffer.from("ünï").toString("latin1"));
    assert.equal(treeProblem(rows), undefined);
  });

  it("refuses what git would not check out, or would write through a link", () => {
    const row = (mode: string, p: string) => ({ mode, hash: "0".repeat(40), path: p });
    const cases: Array<[string, ReturnType<typeof row>[], RegExp]> = [
      ["dot-dot", [row("100644", "../x")], /refuses to check out/],
      [".GIT", [row("100644", "a/.GIT/config")], /refuses to check out/],
      ["odd mode", [row("100664", "a")], /mode 100664/],
      ["tree mode", [row("040000", "a")], /mode 040000/],
      ["twice", [row("100644", "a"), row("100644", "a")], /twice/],
      ["below a symlink", [row("120000", "a"), row("100644", "a/b")], /below the entry "a"/],
      ["below a file", [row("100644", "a/b"), row("100644", "a/b/c")], /below the entry "a\/b"/],
      ["below a submodule", [row("160000", "s"), row("100644", "s/x")], /below the entry "s"/],
    ];
    for (const [name, rows, re] of cases) assert.match(treeProblem(rows) ?? "", re, name);
    assert.equal(treeProblem([row("100644", "ab"), row("100644", "a/b"), row("120000", "a.b")]), undefined);
  });

  it("parses git cat-file --batch headers", () => {
    assert.deepEqual(parseBatchHeader("587be6b4c3f93f93c489c0111bba5596147a26cb blob 2"), { hash: "587be6b4c3f93f93c489c0111bba5596147a26cb", type: "blob", size: 2 });
    assert.equal(parseBatchHeader("587be6b4c3f93f93c489c0111bba5596147a26cb missing"), undefined);
  });

  it("reads git diff-tree --stdin -r -m --root --raw -z: each commit's (and each merge parent's) blobs", () => {
    // Captured: a merge (twice, once per parent with -m), then two plain commits; a deletion and a gitlink.
    const z =
      "42ff98618b3f71427e63fe0bba916cbc9cc6a2ba\x00:000000 100644 " + "0".repeat(40) + " 53c74cd6c8f3911ae716f60f9b79f575aab0e975 A\x00e.txt\x00:000000 100644 " + "0".repeat(40) + " b4785957bc986dc39c629de9fac9df46972c00fc A\x00s.txt\x00" +
      "42ff98618b3f71427e63fe0bba916cbc9cc6a2ba\x00:000000 100644 " + "0".repeat(40) + " 53c74cd6c8f3911ae716f60f9b79f575aab0e975 A\x00e.txt\x00" +
      "5b7ad166f8704d0cdbcf3fa34eda09ef567c2442\x00:120000 100644 8d14cbf983b3fad683171c9418998d9f68340823 b4785957bc986dc39c629de9fac9df46972c00fc T\x00link.env\x00:100644 000000 b4785957bc986dc39c629de9fac9df46972c00fc " + "0".repeat(40) + " D\x00gone\x00" +
      "fbcf91ee72104fb2380b2663e20b749a18a33f0a\x00:000000 160000 " + "0".repeat(40) + " 42ff98618b3f71427e63fe0bba916cbc9cc6a2ba A\x00sub\x00:000000 120000 " + "0".repeat(40) + " 8d14cbf983b3fad683171c9418998d9f68340823 A\x00l\x00";
    const blobs = parseHistoryDiff(z);
    assert.deepEqual(blobs.map((b) => `${b.commit.slice(0, 4)} ${b.mode} ${b.path}`), ["42ff 100644 e.txt", "42ff 100644 s.txt", "42ff 100644 e.txt", "5b7a 100644 link.env", "fbcf 120000 l"]);
    const rounds = historyRounds([...blobs, { commit: "c", mode: "100644", hash: "1".repeat(40), path: "e.txt" }, { commit: "c", mode: "100644", hash: "2".repeat(40), path: "e.txt/x" }]);
    assert.deepEqual(rounds.map((r) => [...r.keys()]), [["e.txt", "s.txt", "link.env", "l"], ["e.txt"], ["e.txt/x"]], "a path once per round, a file never where a folder is needed");
  });

  it("the base export's listing is the new one with the diff's paths as they were", () => {
    const row = (mode: string, hash: string, p: string) => ({ mode, hash, path: p });
    const rows = [row("100644", "a".repeat(40), "kept"), row("100644", "b".repeat(40), "changed"), row("120000", "c".repeat(40), "added")];
    const diff = parseRawDiff(
      `:100644 100644 ${"d".repeat(40)} ${"b".repeat(40)} M\x00changed\x00:000000 120000 ${"0".repeat(40)} ${"c".repeat(40)} A\x00added\x00:100755 000000 ${"e".repeat(40)} ${"0".repeat(40)} D\x00gone\x00`,
    );
    assert.deepEqual(baseRows(rows, diff).map((r) => `${r.mode} ${r.hash.slice(0, 1)} ${r.path}`).sort(), ["100644 a kept", "100644 d changed", "100755 e gone"]);
  });

  it("finds the changed files rsync's quick check would take for unchanged (same size, same derived mtime)", () => {
    const ch = (o: string, n: string, p: string, om = "100644", nm = "100644") => ({ oldMode: om, newMode: nm, oldHash: o, newHash: n, status: "M", path: p });
    const a = "c30976dce93b456aaa6ed3db2d85439be052747c";
    const b = "524164dced121b6ec00f4a2fc1a2e5d2782ea74c"; // same blobMtime as a
    const c = "1111111111111111111111111111111111111111";
    const sizes = new Map([[a, 40], [b, 40], [c, 40]]);
    assert.deepEqual(quickCheckBlind([ch(a, b, "x.txt"), ch(a, c, "y.txt"), ch(a, b, "l", "120000", "120000")], sizes), ["x.txt"]);
    assert.deepEqual(quickCheckBlind([ch(a, b, "x.txt")], new Map([[a, 40], [b, 41]])), [], "another size: rsync sees it");
  });

  it("git's blob hash of bytes (a symlink target is checked by it)", () => {
    assert.equal(gitBlobHash(Buffer.from("a.txt"), "8d14cbf983b3fad683171c9418998d9f68340823"), "8d14cbf983b3fad683171c9418998d9f68340823");
  });
});
