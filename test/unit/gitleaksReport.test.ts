import * as assert from "node:assert/strict";
import { Finding, formatFindings, parseGitleaksReport } from "../../lib/scan/gitleaksReport";
import { gitleaksArgs, LEAKS_EXIT_CODE } from "../../lib/scan/scanRepository";

// Reports written by gitleaks v8.30.1 (`--redact --report-format json`), captured verbatim from a tree
// holding config/deploy.env with the fake GitHub token and AWS key of tools/fleet/sourceRepo.ts.

/** `cd tree && gitleaks dir . ...`: what scanRepository runs. */
const RELATIVE = `[
 {
  "RuleID": "github-pat",
  "Description": "Uncovered a GitHub Personal Access Token, potentially leading to unauthorized repository access and sensitive content exposure.",
  "StartLine": 2,
  "EndLine": 2,
  "StartColumn": 15,
  "EndColumn": 54,
  "Match": "REDACTED",
  "Secret": "REDACTED",
  "File": "config/deploy.env",
  "SymlinkFile": "",
  "Commit": "",
  "Entropy": 5.321928,
  "Author": "",
  "Email": "",
  "Date": "",
  "Message": "",
  "Tags": [],
  "Fingerprint": "config/deploy.env:github-pat:2"
 },
 {
  "RuleID": "aws-access-token",
  "Description": "Identified a pattern that may indicate AWS credentials, risking unauthorized cloud resource access and data breaches on AWS platforms.",
  "StartLine": 3,
  "EndLine": 3,
  "StartColumn": 22,
  "EndColumn": 41,
  "Match": "REDACTED",
  "Secret": "REDACTED",
  "File": "config/deploy.env",
  "SymlinkFile": "",
  "Commit": "",
  "Entropy": 3.9841838,
  "Author": "",
  "Email": "",
  "Date": "",
  "Message": "",
  "Tags": [],
  "Fingerprint": "config/deploy.env:aws-access-token:3"
 }
]
`;

/** `gitleaks dir /tmp/gl-cap-Zxq8/tree ...`: the absolute form repo-sync used to run. */
const ABSOLUTE = `[
 {
  "RuleID": "aws-access-token",
  "Description": "Identified a pattern that may indicate AWS credentials, risking unauthorized cloud resource access and data breaches on AWS platforms.",
  "StartLine": 3,
  "EndLine": 3,
  "StartColumn": 22,
  "EndColumn": 41,
  "Match": "REDACTED",
  "Secret": "REDACTED",
  "File": "/tmp/gl-cap-Zxq8/tree/config/deploy.env",
  "SymlinkFile": "",
  "Commit": "",
  "Entropy": 3.9841838,
  "Author": "",
  "Email": "",
  "Date": "",
  "Message": "",
  "Tags": [],
  "Fingerprint": "/tmp/gl-cap-Zxq8/tree/config/deploy.env:aws-access-token:3"
 },
 {
  "RuleID": "github-pat",
  "Description": "Uncovered a GitHub Personal Access Token, potentially leading to unauthorized repository access and sensitive content exposure.",
  "StartLine": 2,
  "EndLine": 2,
  "StartColumn": 15,
  "EndColumn": 54,
  "Match": "REDACTED",
  "Secret": "REDACTED",
  "File": "/tmp/gl-cap-Zxq8/tree/config/deploy.env",
  "SymlinkFile": "",
  "Commit": "",
  "Entropy": 5.321928,
  "Author": "",
  "Email": "",
  "Date": "",
  "Message": "",
  "Tags": [],
  "Fingerprint": "/tmp/gl-cap-Zxq8/tree/config/deploy.env:github-pat:2"
 }
]
`;

/** `gitleaks dir . --max-archive-depth 1` over pkg/bundle.zip holding inner.env. */
const ARCHIVE = `[
 {
  "RuleID": "github-pat",
  "Description": "Uncovered a GitHub Personal Access Token, potentially leading to unauthorized repository access and sensitive content exposure.",
  "StartLine": 1,
  "EndLine": 1,
  "StartColumn": 14,
  "EndColumn": 53,
  "Match": "REDACTED",
  "Secret": "REDACTED",
  "File": "pkg/bundle.zip!inner.env",
  "SymlinkFile": "",
  "Commit": "",
  "Entropy": 5.321928,
  "Author": "",
  "Email": "",
  "Date": "",
  "Message": "",
  "Tags": [],
  "Fingerprint": "pkg/bundle.zip!inner.env:github-pat:1"
 }
]
`;

/** `gitleaks git .` (history scan, not what repo-sync runs): the fingerprint carries the commit. */
const GIT_HISTORY = `[
 {
  "RuleID": "github-pat",
  "Description": "Uncovered a GitHub Personal Access Token, potentially leading to unauthorized repository access and sensitive content exposure.",
  "StartLine": 1,
  "EndLine": 1,
  "StartColumn": 14,
  "EndColumn": 53,
  "Match": "REDACTED",
  "Secret": "REDACTED",
  "File": "config/deploy.env",
  "SymlinkFile": "",
  "Commit": "4da7e8cb3880946219dcdf9dcec2ee84d1fcfd5d",
  "Entropy": 5.321928,
  "Author": "a",
  "Email": "a@b",
  "Date": "2026-11-26T12:36:44Z",
  "Message": "x",
  "Tags": [],
  "Fingerprint": "4da7e8cb3880946219dcdf9dcec2ee84d1fcfd5d:config/deploy.env:github-pat:1"
 }
]
`;

const DEPLOY_ENV: Finding[] = [
  { file: "config/deploy.env", line: 2, rule: "github-pat", fingerprint: "config/deploy.env:github-pat:2" },
  { file: "config/deploy.env", line: 3, rule: "aws-access-token", fingerprint: "config/deploy.env:aws-access-token:3" },
];

const byFingerprint = (fs: Finding[]) => [...fs].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint));

const CASES: Array<{ name: string; json: string; root: string; want: Finding[] }> = [
  { name: "relative scan: gitleaks' fingerprint passes through", json: RELATIVE, root: "/anywhere/at/all", want: DEPLOY_ENV },
  { name: "absolute scan under root: made relative, fingerprint rebuilt", json: ABSOLUTE, root: "/tmp/gl-cap-Zxq8/tree", want: DEPLOY_ENV },
  { name: "absolute scan, root given with a trailing slash", json: ABSOLUTE, root: "/tmp/gl-cap-Zxq8/tree/", want: DEPLOY_ENV },
  { name: "absolute scan, root one level up: relative to that root", json: ABSOLUTE, root: "/tmp/gl-cap-Zxq8", want: [
    { file: "tree/config/deploy.env", line: 2, rule: "github-pat", fingerprint: "tree/config/deploy.env:github-pat:2" },
    { file: "tree/config/deploy.env", line: 3, rule: "aws-access-token", fingerprint: "tree/config/deploy.env:aws-access-token:3" },
  ] },
  { name: "absolute scan outside root: left as gitleaks printed it", json: ABSOLUTE, root: "/somewhere/else", want: [
    { file: "/tmp/gl-cap-Zxq8/tree/config/deploy.env", line: 2, rule: "github-pat", fingerprint: "/tmp/gl-cap-Zxq8/tree/config/deploy.env:github-pat:2" },
    { file: "/tmp/gl-cap-Zxq8/tree/config/deploy.env", line: 3, rule: "aws-access-token", fingerprint: "/tmp/gl-cap-Zxq8/tree/config/deploy.env:aws-access-token:3" },
  ] },
  { name: "a file inside an archive keeps gitleaks' `!` form", json: ARCHIVE, root: "/t", want: [
    { file: "pkg/bundle.zip!inner.env", line: 1, rule: "github-pat", fingerprint: "pkg/bundle.zip!inner.env:github-pat:1" },
  ] },
  { name: "a history scan's commit fingerprint is kept verbatim", json: GIT_HISTORY, root: "/t", want: [
    { file: "config/deploy.env", line: 1, rule: "github-pat", fingerprint: "4da7e8cb3880946219dcdf9dcec2ee84d1fcfd5d:config/deploy.env:github-pat:1" },
  ] },
  { name: "a clean scan writes `[]\\n`", json: "[]\n", root: "/t", want: [] },
  { name: "no report at all", json: "", root: "/t", want: [] },
  { name: "missing fields get safe defaults", json: '[{"File":"a.txt"}]', root: "/t", want: [
    { file: "a.txt", line: 0, rule: "unknown-rule", fingerprint: "a.txt:unknown-rule:0" },
  ] },
];

describe("gitleaks report parsing", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const got = parseGitleaksReport(c.json, c.root);
      assert.deepEqual(byFingerprint(got), byFingerprint(c.want));
      for (const f of got) assert.deepEqual(Object.keys(f).sort(), ["file", "fingerprint", "line", "rule"], "only safe fields leave the parser");
    });
  }

  it("rejects a report that is not an array", () => {
    assert.throws(() => parseGitleaksReport('{"File":"a"}', "/t"), /gitleaks report is not a JSON array/);
  });

  it("formats findings with their fingerprints, sorted, capped", () => {
    assert.equal(
      formatFindings(DEPLOY_ENV),
      "    config/deploy.env:2:github-pat  fingerprint config/deploy.env:github-pat:2\n" +
        "    config/deploy.env:3:aws-access-token  fingerprint config/deploy.env:aws-access-token:3",
    );
    assert.equal(formatFindings(DEPLOY_ENV, 1), "    config/deploy.env:2:github-pat  fingerprint config/deploy.env:github-pat:2\n    ... and 1 more");
  });
});

describe("gitleaks argv", () => {
  const base = [
    "dir", ".",
    "--config", "/rules/gitleaks.toml",
    "--gitleaks-ignore-path", ".",
  ];
  const tail = [
    "--report-format", "json",
    "--report-path", "/tmp/r/report.json",
    "--redact",
    "--no-banner",
    "--no-color",
    "--log-level", "error",
    "--exit-code", String(LEAKS_EXIT_CODE),
  ];
  const CASES_ARGV: Array<[string, boolean | undefined, string[]]> = [
    ["default: inline gitleaks:allow honoured", undefined, [...base, ...tail]],
    ["ignoreInlineAllow: false", false, [...base, ...tail]],
    ["ignoreInlineAllow: true adds --ignore-gitleaks-allow", true, [...base, "--ignore-gitleaks-allow", ...tail]],
  ];
  for (const [name, ignoreInlineAllow, want] of CASES_ARGV) {
    it(name, () => {
      assert.deepEqual(gitleaksArgs("/rules/gitleaks.toml", "/tmp/r/report.json", { ignoreInlineAllow }), want);
    });
  }

  it("scans `.` (run inside the tree), never the tree's absolute path", () => {
    const argv = gitleaksArgs("/rules/gitleaks.toml", "/tmp/r/report.json");
    assert.equal(argv[1], ".");
    assert.equal(argv.filter((a) => a.startsWith("/")).sort().join(" "), "/rules/gitleaks.toml /tmp/r/report.json");
    assert.equal(LEAKS_EXIT_CODE, 3);
  });

  it("debug level only when asked (the files the walk skips by path are named on stderr)", () => {
    const argv = gitleaksArgs("/rules/gitleaks.toml", "/tmp/r/report.json", { debug: true });
    assert.equal(argv[argv.indexOf("--log-level") + 1], "debug");
    assert.deepEqual(argv.filter((a) => a !== "debug" && a !== "error"), gitleaksArgs("/rules/gitleaks.toml", "/tmp/r/report.json").filter((a) => a !== "error"));
  });
});
