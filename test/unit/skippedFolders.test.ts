import { parseSkippedFiles, renameFindings } from "../../lib/scan/rescuedFiles";
import { treePath } from "../../lib/source/treeListing";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { goUnquote, parseSkippedFolders, readFolderVerdicts, rescueTarget, writeFolderVerdicts } from "../../lib/scan/skippedFolders";

// stderr of gitleaks v8.30.1 (`dir . --log-level debug --no-color`) over folders named -dash.png,
// "a b.png", q"uote\.svg, "tab<TAB>.gif" and ü.jpg, captured verbatim (the first lines still colored:
// gitleaks applies --no-color after loading its config).
const CAPTURED = [
  "\x1b[90m1:17AM\x1b[0m DBG using stdlib regex engine",
  "\x1b[90m1:17AM\x1b[0m DBG extending config with default config",
  "1:17AM DBG skipping directory: global allowlist path=-dash.png",
  '1:17AM DBG skipping directory: global allowlist path="a b.png"',
  '1:17AM DBG skipping directory: global allowlist path="q\\"uote\\\\.svg"',
  '1:17AM DBG skipping directory: global allowlist path="tab\\t.gif"',
  '1:17AM DBG skipping directory: global allowlist path="ü.jpg"',
  "1:17AM DBG skipping file: global allowlist path=logo.png",
  "1:17AM INF scanned ~0 bytes (0) in 4.37ms",
  "",
].join("\n");

describe("folders gitleaks skips whole (pure parts)", () => {
  it("reads each skipped folder from gitleaks' debug output, bare or Go-quoted; skipped files are not folders", () => {
    assert.deepEqual(parseSkippedFolders(CAPTURED), ["-dash.png", "a b.png", 'q"uote\\.svg', "tab\t.gif", treePath("ü.jpg")]);
    assert.deepEqual(parseSkippedFolders("1:17AM DBG skipping directory: global allowlist path=a.png/b.jpg\n"), ["a.png/b.jpg"]);
    assert.deepEqual(parseSkippedFolders(""), []);
  });

  it("a line it cannot read is an error, never a guess", () => {
    assert.throws(() => parseSkippedFolders('1:17AM DBG skipping directory: global allowlist path="open\n'), /cannot read a folder name/);
    assert.throws(() => parseSkippedFolders("1:17AM DBG skipping directory: global allowlist path=\n"), /cannot read a folder name/);
  });

  it("decodes Go string literals as strconv.Quote writes them", () => {
    const table: [string, string | undefined][] = [
      ['"plain"', "plain"],
      ['"a\\x01b\\x7f"', "a\x01b\x7f"],
      ['"\\a\\b\\f\\n\\r\\t\\v\\\\\\""', "\x07\b\f\n\r\t\v\\\""],
      // Names come back as bytes (one char per byte), as tree paths are kept.
      ['"\\u00e9\\U0001f600"', treePath("é😀")],
      ['"\\xc3\\xa9"', treePath("é")],
      ['"\\xff.png"', "\xff.png"],
      ['"bad \\q"', undefined],
      ['"a"b"', undefined],
      ["unquoted", undefined],
    ];
    for (const [quoted, want] of table) assert.equal(goUnquote(quoted), want, quoted);
  });

  it("walks a skipped folder from its own path, with a slash (a name may start with -)", () => {
    assert.equal(rescueTarget("."), ".");
    assert.equal(rescueTarget("assets.png"), "./assets.png/");
    assert.equal(rescueTarget("-x.jpg/y.gif"), "./-x.jpg/y.gif/");
  });

  it("keeps folder verdicts per rule set; a damaged record is empty (everything asked again)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rs-verdicts-"));
    try {
      const file = path.join(dir, "folders-0123456789abcdef.json");
      const verdicts = new Map([[".", "walk"], ["assets.png", "rescue"], ["node_modules", "skip"]] as const);
      writeFolderVerdicts(file, new Map(verdicts), []);
      assert.deepEqual(readFolderVerdicts(file), new Map(verdicts));
      fs.writeFileSync(file, '{"assets.png": "maybe", "src": "walk"');
      assert.deepEqual(readFolderVerdicts(file), new Map());
      fs.writeFileSync(file, '{"assets.png": "maybe", "src": "walk"}');
      assert.deepEqual(readFolderVerdicts(file), new Map([["src", "walk"]]), "an unknown verdict is dropped: that folder is asked again");
      assert.deepEqual(readFolderVerdicts(path.join(dir, "missing.json")), new Map());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("files gitleaks skips by path, read under neutral names (pure parts)", () => {
  it("reads the skipped files from gitleaks' debug output (captured, v8.30.1), bare or Go-quoted, as bytes", () => {
    const stderr = [
      "1:55AM DBG skipping directory: global allowlist path=node_modules",
      "1:55AM DBG skipping file: global allowlist path=secrets.bin",
      '1:55AM DBG skipping file: global allowlist path="docs/a b.pdf"',
      '1:55AM DBG skipping file: global allowlist path="caf\\xe9.png"',
      "1:55AM DBG skipping file: global allowlist path=./x/go.sum",
      "1:55AM DBG skipping symlink: follow symlinks disabled path=l",
    ].join("\n");
    assert.deepEqual(parseSkippedFiles(stderr), ["secrets.bin", "docs/a b.pdf", "caf\xe9.png", "x/go.sum"]);
    assert.throws(() => parseSkippedFiles('1:55AM DBG skipping file: global allowlist path="open'), /cannot read a file name/);
  });

  it("reports a finding under the file's real path and fingerprint; the tree's .gitleaksignore accepts it", () => {
    const f = (file: string, line: number) => ({ file, line, rule: "github-pat", fingerprint: `${file}:github-pat:${line}` });
    const files = ["node_modules/x/a.env", "secrets.bin", "caf\xe9.zip"];
    const out = renameFindings([f("0", 1), f("1", 2), f("2!inner/k.env", 3)], files, "# accepted\nsecrets.bin:github-pat:2\n");
    assert.deepEqual(out.map((x) => x.fingerprint), ["node_modules/x/a.env:github-pat:1", "caf\ufffd.zip!inner/k.env:github-pat:3"]);
    assert.throws(() => renameFindings([f("9", 1)], files, undefined), /none of the files laid out/);
  });
});
