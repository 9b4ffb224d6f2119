import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isRepoSyncError } from "../../lib/errors";
import { extendSettings, loadRulesChain } from "../../lib/scan/rulesChain";
import { readRules, scanIdentity } from "../../lib/scan/scanRepository";
import { readTomlKeys, TomlSyntaxError } from "../../lib/scan/tomlKeys";

const extendKeys = (text: string) => readTomlKeys(text, (p) => p[0] === "extend").map((k) => [k.path.join("."), k.value.kind === "other" ? k.value.raw : k.value.value]);

/** Asserts that `fn` throws a RepoSyncError of kind config whose message matches `re`. */
function refused(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => isRepoSyncError(err) && err.kind === "config" && re.test(err.message));
}

describe("gitleaks rules: the files they load (pure TOML reading, [extend] chains)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rs-rules-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };

  it("reads [extend] keys in every TOML spelling, and never from inside strings or comments", () => {
    const table: [string, (string | boolean)[][]][] = [
      ['[extend]\npath = "/r/base.toml"\n', [["extend.path", "/r/base.toml"]]],
      ["[extend]\npath = '/r/b.toml' # a comment\nuseDefault = false\n", [["extend.path", "/r/b.toml"], ["extend.useDefault", false]]],
      ['extend.path = "/r/\\u0062.toml"\n', [["extend.path", "/r/b.toml"]]],
      ['"extend" . "path" = "/q.toml"\n', [["extend.path", "/q.toml"]]],
      ['extend = { useDefault = true, disabledRules = ["a", "b"] }\n', [["extend.useDefault", true]]],
      ["[ extend ]\r\nuseDefault = true\r\n", [["extend.useDefault", true]]],
      // Look-alikes inside strings and comments are text, not keys.
      ['title = """\n[extend]\npath = "/evil.toml"\n"""\n[[rules]]\nid = "x"\nregex = \'\'\'[extend]\npath = "/no"\'\'\'\n', []],
      ['# [extend]\n# path = "/no.toml"\ndescription = "a \\"[extend]\\" string"\n', []],
      ['[[rules]]\nid = "x"\nkeywords = [\n  "a", # one\n  "b",\n]\n[rules.extend]\npath = "/not-top-level"\n', []],
      ['a = """x""""\n[extend]\npath = "/after-quotes.toml"\n', [["extend.path", "/after-quotes.toml"]]],
      ["when = 1979-05-27 07:32:00Z\n[extend]\npath = '''/ml.toml'''\n", [["extend.path", "/ml.toml"]]],
    ];
    for (const [text, want] of table) assert.deepEqual(extendKeys(text), want, text);
  });

  it("reads the project's own rules, and a file shaped like gitleaks' default rules", () => {
    const own = fs.readFileSync(path.join(__dirname, "..", "..", "..", "configs", "gitleaks.toml"), "utf8");
    assert.deepEqual(extendKeys(own), [["extend.useDefault", true]]);
    // A shape as in gitleaks' default config: multi-line literal regexes, arrays of tables, nested allowlists.
    const shaped = "[[rules]]\nid = \"a\"\nregex = '''(?i)[\\w.-]{0,50}?(?:x)(?:[ \\t\\w.-]{0,20})'''\nkeywords = [\"x\"]\n[[rules.allowlists]]\nregexTarget = \"line\"\nregexes = [\n    '''^\\s*#''',\n]\n[allowlist]\npaths = ['''(?:^|/)node_modules(?:/.*)?$''']\n";
    assert.deepEqual(readTomlKeys(shaped).map((k) => k.path.join(".")), ["rules.id", "rules.regex", "rules.allowlists.regexTarget"]);
  });

  it("refuses text that is not TOML, with the line", () => {
    for (const text of ['path = "unterminated\n', "[extend\n", "key value\n", 'a = "x" b\n', "a = [1, 2\n"]) {
      assert.throws(() => readTomlKeys(text), TomlSyntaxError, text);
    }
    refused(() => extendSettings('[extend]\npath = "/x\n', "/r/rules.toml"), /rules\.toml is not valid TOML: newline in a one-line string \(line 2\)/);
  });

  it("refuses an [extend] that gitleaks would resolve against the scanned tree, ignore, or refuse", () => {
    refused(() => extendSettings('[extend]\npath = "base.toml"\n', "/etc/rs/rules.toml"), /is relative; gitleaks opens it from the folder it scans[\s\S]*fix: write the absolute path: path = "\/etc\/rs\/base.toml"/);
    refused(() => extendSettings('[extend]\npath = "./sub/../base.toml"\n', "/etc/rs/rules.toml"), /path = "\/etc\/rs\/base.toml"/);
    refused(() => extendSettings('[extend]\nurl = "https://example.com/r.toml"\n', "/r.toml"), /does not load \[extend\] url/);
    refused(() => extendSettings('[Extend]\nPath = "/b.toml"\nUseDefault = true\n', "/r.toml"), /both \[extend\] path and useDefault/);
    refused(() => extendSettings("[extend]\npath = 3\n", "/r.toml"), /path must be a string/);
    refused(() => extendSettings('[extend]\nuseDefault = "yes"\n', "/r.toml"), /useDefault must be true or false/);
    assert.deepEqual(extendSettings('[extend]\npath = ""\nurl = ""\n', "/r.toml"), { path: undefined, useDefault: false });
    assert.deepEqual(extendSettings('[EXTEND]\nUSEDEFAULT = true\n', "/r.toml"), { path: undefined, useDefault: true });
  });

  it("follows [extend] path as gitleaks does: two levels, defaults, a missing file and cycles named", () => {
    const b = write("b.toml", '[[rules]]\nid = "b"\nregex = "B-[0-9]+"\n');
    const a = write("a.toml", `[extend]\npath = ${JSON.stringify(b)}\n`);
    const root = write("rules.toml", `[extend]\npath = ${JSON.stringify(a)}\n`);
    assert.deepEqual(loadRulesChain(root), { files: [root, a, b].map((p) => ({ path: p, text: fs.readFileSync(p, "utf8") })), useDefault: false });
    const withDefaults = write("with-defaults.toml", `[extend]\npath = ${JSON.stringify(write("d.toml", "[extend]\nuseDefault = true\n"))}\n`);
    assert.equal(loadRulesChain(withDefaults).useDefault, true, "the first level's useDefault counts");

    // One level more: gitleaks (v8.30.1) ignores it without a word, so its rules would silently be missing.
    fs.appendFileSync(b, "[extend]\nuseDefault = true\n");
    refused(() => loadRulesChain(root), /b\.toml extends gitleaks' default rules \(useDefault\), but gitleaks follows at most 2 \[extend\] levels/);
    const self = write("self.toml", `[extend]\npath = ${JSON.stringify(path.join(dir, "self.toml"))}\n`);
    refused(() => loadRulesChain(self), /self\.toml extends .*self\.toml \(a cycle\), but gitleaks follows at most 2/);
    const missing = write("missing.toml", `[extend]\npath = ${JSON.stringify(path.join(dir, "nope.toml"))}\n`);
    refused(() => loadRulesChain(missing), /nope\.toml, extended by .*missing\.toml, cannot be read: ENOENT[\s\S]*fix: create it, or fix \[extend\] path in/);
  });

  it("the scan identity changes when any file the rules load changes, and only then", () => {
    const base = write("base.toml", '[extend]\nuseDefault = true\n');
    const rules = write("rules.toml", `[extend]\npath = ${JSON.stringify(base)}\n`);
    const identity = () => scanIdentity(readRules(rules, dir).rulesText, "v8.30.1", false, undefined);
    const before = identity();
    assert.equal(identity(), before, "stable while nothing changes");
    fs.appendFileSync(base, '[[rules]]\nid = "acme"\nregex = "ACME-[0-9]+"\n');
    const after = identity();
    assert.notEqual(after, before, "editing the extended file is a new identity");
    fs.writeFileSync(base, '[extend]\nuseDefault = true\n');
    assert.equal(identity(), before, "back to the old rules: the old verdicts apply again");
    // A file that extends nothing keeps the identity it had before extended files were followed.
    const alone = write("alone.toml", "[extend]\nuseDefault = true\n");
    assert.equal(readRules(alone, dir).rulesText, "[extend]\nuseDefault = true\n");
  });
});
