/**
 * Every file a gitleaks rules file makes gitleaks load, so that all of them (not only the file named
 * by `--config`) are part of the scan identity: editing an extended file must make every verdict
 * found under the old rules void.
 *
 * gitleaks v8.30.1 (config/config.go) follows `[extend]` like this, and so does {@link loadRulesChain}:
 * - `useDefault = true` adds its built-in rules (they change only with its version, which is in the
 *   identity already); `path = "..."` adds that file's rules. Both in one file is an error.
 * - At most two levels are followed (`maxExtendDepth = 2`): the third file's own `[extend]` is ignored
 *   without a word, so a cycle ends there. repo-sync refuses an `[extend]` gitleaks would ignore.
 * - `url` is not implemented (gitleaks ignores it): refused, since the rules it names would not apply.
 * - A relative `path` is opened against gitleaks' working folder, which for repo-sync is the tree being
 *   scanned (or a folder of a few files): the pushed commit could bring its own "base.toml" with an
 *   allowlist. Refused: the fix names the absolute path meant.
 * - Keys are matched without regard to case (viper's way: `[Extend]`, `UseDefault`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RepoSyncError } from "../errors";
import { readTomlKeys, TomlScalar, TomlSyntaxError } from "./tomlKeys";

/** gitleaks v8.30.1's `maxExtendDepth`: extended files followed from the one given with --config. */
export const MAX_EXTEND_DEPTH = 2;

/** One rules file gitleaks reads. */
export interface RulesFile {
  /** Absolute path. */
  path: string;
  text: string;
}

/** The rules files of one scan, the `--config` one first, and whether gitleaks' defaults are added. */
export interface RulesChain {
  files: RulesFile[];
  useDefault: boolean;
}

/** What a rules file's `[extend]` table asks for. */
export interface ExtendSettings {
  /** The file to extend (absolute), if any. */
  path?: string;
  useDefault: boolean;
}

const HINT = "fix the [extend] table of the rules file named above (repository.secret_scanning.config_path, or --gitleaks-config)";

/**
 * Reads the `[extend]` table of one rules file (pure). Throws a `config` RepoSyncError for what
 * gitleaks would refuse, ignore or resolve against the scanned tree.
 */
export function extendSettings(text: string, file: string): ExtendSettings {
  let keys;
  try {
    keys = readTomlKeys(text, (p) => p.length >= 1 && p[0].toLowerCase() === "extend");
  } catch (err) {
    if (!(err instanceof TomlSyntaxError)) throw err;
    throw new RepoSyncError("config", `gitleaks rules file ${file} is not valid TOML: ${err.message}`, { hint: "fix the file; `gitleaks dir --config FILE EMPTY_FOLDER` shows whether gitleaks can load it", cause: err });
  }
  const get = (name: string): TomlScalar | undefined => keys.find((k) => k.path.length === 2 && k.path[1].toLowerCase() === name)?.value;
  const url = get("url");
  if (url && !(url.kind === "string" && url.value === "")) {
    throw new RepoSyncError("config", `gitleaks rules file ${file} extends a url: gitleaks (v8.30.1) does not load [extend] url, so those rules would not apply`, {
      hint: "download the rules file and name it with [extend] path = \"/absolute/path.toml\"",
    });
  }
  const useDefault = get("usedefault");
  if (useDefault && useDefault.kind !== "boolean") throw new RepoSyncError("config", `gitleaks rules file ${file}: [extend] useDefault must be true or false`, { hint: HINT });
  const p = get("path");
  if (p && p.kind !== "string") throw new RepoSyncError("config", `gitleaks rules file ${file}: [extend] path must be a string`, { hint: HINT });
  const extendPath = p?.value === "" ? undefined : p?.value;
  if (extendPath !== undefined && useDefault?.value === true) {
    throw new RepoSyncError("config", `gitleaks rules file ${file} sets both [extend] path and useDefault, which gitleaks refuses`, {
      hint: "keep one: put useDefault = true into the extended file instead",
    });
  }
  if (extendPath !== undefined && !path.isAbsolute(extendPath)) {
    const meant = path.resolve(path.dirname(file), extendPath);
    throw new RepoSyncError("config", `gitleaks rules file ${file}: [extend] path = ${JSON.stringify(extendPath)} is relative; gitleaks opens it from the folder it scans (the tree being pushed, which could bring its own file), not from the rules file's folder`, {
      hint: `write the absolute path: path = ${JSON.stringify(meant)}`,
    });
  }
  return { path: extendPath, useDefault: useDefault?.value === true };
}

/**
 * The files gitleaks loads for `rulesPath` (absolute), following `[extend] path` as gitleaks does.
 * A file that cannot be read, and an `[extend]` gitleaks would ignore or refuse, is a `config` error.
 */
export function loadRulesChain(rulesPath: string): RulesChain {
  const files: RulesFile[] = [];
  let current = rulesPath;
  for (let depth = 0; ; depth++) {
    let text: string;
    try {
      text = fs.readFileSync(current, "utf8");
    } catch (err) {
      const from = files[files.length - 1];
      if (!from) throw err;
      throw new RepoSyncError("config", `gitleaks rules file ${current}, extended by ${from.path}, cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        hint: `create it, or fix [extend] path in ${from.path}`,
        cause: err,
      });
    }
    files.push({ path: current, text });
    const ext = extendSettings(text, current);
    if (ext.path === undefined && !ext.useDefault) return { files, useDefault: false };
    if (depth === MAX_EXTEND_DEPTH) {
      const what = ext.path === undefined ? "gitleaks' default rules (useDefault)" : `${ext.path}${files.some((f) => f.path === ext.path) ? " (a cycle)" : ""}`;
      throw new RepoSyncError("config", `gitleaks rules file ${current} extends ${what}, but gitleaks follows at most ${MAX_EXTEND_DEPTH} [extend] levels from ${rulesPath} and would ignore it`, {
        hint: "merge the rules into fewer files, so that no file is more than two [extend] steps from the rules file",
      });
    }
    if (ext.path === undefined) return { files, useDefault: true };
    current = ext.path;
  }
}

/**
 * The text that stands for all the rules in the scan identity: the `--config` file's text alone when it
 * extends no file (the identity of such rules is what it was before extended files were followed),
 * else every file's path and text.
 */
export function rulesIdentityText(chain: RulesChain): string {
  if (chain.files.length === 1) return chain.files[0].text;
  return chain.files.map((f) => `${f.path}\0${f.text}`).join("\0extend\0");
}
