/**
 * What the settings schema (lib/config/schema.ts) generates: the README's settings tables and the
 * component's typed arguments (providers/settingsArgs.ts). `npm run settings` rewrites both;
 * test/unit/settingsSchema.test.ts fails while either differs from what this renders. Pure except
 * {@link main}.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { camelName, SECTION_PATH, type Section, type Setting, SETTINGS } from "../lib/config/schema";

/** The README's generated tables sit between these lines (the name says which table). */
export const README_MARK = (name: string) => [`<!-- settings:${name} (generated from lib/config/schema.ts by \`npm run settings\`; edit the schema, not this table) -->`, `<!-- /settings:${name} -->`];

/** The file the typed arguments are written to, relative to the project. */
export const TYPES_FILE = "providers/settingsArgs.ts";

/** The default column of a row. */
function defaultText(s: Setting): string {
  if (s.defaultText !== undefined) return s.defaultText;
  if (s.default === undefined) return s.required ? "required" : "none";
  if (Array.isArray(s.default)) return `\`${JSON.stringify(s.default)}\``;
  return typeof s.default === "string" ? `\`${s.default}\`` : String(s.default);
}

/** A row's key path as the YAML writes it. */
function yamlPath(s: Setting): string {
  const key = s.kind.type === "paths" ? `${s.key}.<id>` : s.key;
  return s.section === "program" ? key : `${SECTION_PATH[s.section]}.${key}`;
}

/** A table cell: `|` would end it. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** The YAML settings table (every section but `program`). */
export function yamlTable(): string[] {
  const rows = SETTINGS.filter((s) => s.section !== "program");
  return [
    "| key | in TypeScript | default | meaning |",
    "|---|---|---|---|",
    ...rows.map((s) => `| \`${yamlPath(s)}\` | \`${camelName(s.key)}\` | ${cell(defaultText(s))} | ${cell(s.doc)} |`),
  ];
}

/** The stack config table (`pulumi config set repo-sync:<key>`). */
export function stackTable(): string[] {
  const rows = SETTINGS.filter((s) => s.section === "program" && s.offered !== "component");
  return ["| key | default | meaning |", "|---|---|---|", ...rows.map((s) => `| \`${s.key}\` | ${cell(defaultText(s))} | ${cell(s.doc)} |`)];
}

/** The component options that are settings (the rest of RepoSyncArgs is written in providers/repoSync.ts). */
function optionRows(): Setting[] {
  return SETTINGS.filter((s) => s.section === "program" && s.offered !== "stack");
}

/** `text` with each generated table replaced by what the schema renders now. */
export function renderReadme(text: string): string {
  let out = text;
  for (const [name, lines] of [["yaml", yamlTable()], ["stack", stackTable()]] as const) {
    const [open, close] = README_MARK(name);
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`README.md has no generated table "${name}" (the lines ${open} ... ${close})`);
    out = `${out.slice(0, a + open.length)}\n${lines.join("\n")}\n${out.slice(b)}`;
  }
  return out;
}

/** The interface a nested section renders to (one per section; a section nested in two places shares it). */
const SECTION_TYPE: Partial<Record<Section, string>> = { scan: "SecretScanningArgs", rollout: "RolloutArgs", health: "HealthCheckArgs" };

/** The TypeScript type of a row's value. */
function tsType(s: Setting): string {
  const k = s.kind;
  let t: string;
  switch (k.type) {
    case "boolean": t = "boolean"; break;
    case "integer": t = "number"; break;
    case "choice": t = k.choices.map((c) => JSON.stringify(c)).join(" | "); break;
    case "strings": t = "string[]"; break;
    case "hops": t = "Array<string | JumpHostArgs>"; break;
    case "paths": t = "Record<string, string>"; break;
    case "waves": t = "number | string | Array<number | string>"; break;
    case "countOrPercent": t = "number | string"; break;
    case "section": t = SECTION_TYPE[k.of] ?? "never"; break;
    default: t = "string";
  }
  return s.output ? `pulumi.Input<${t}>` : t;
}

/** The TSDoc of a row: its doc, its default and its range. */
function tsDoc(s: Setting): string[] {
  const range = s.kind.type === "integer" ? ` From ${s.kind.min} to ${s.kind.max}${s.kind.unit ? ` ${s.kind.unit}` : ""}.` : "";
  const where = s.section === "program" ? "" : ` YAML: \`${yamlPath(s)}\`.`;
  const text = `${s.doc.replace(/\*\//g, "*\\/")}.${range} Default: ${defaultText(s)}.${where}`;
  return ["  /**", ...wrap(text, 100).map((l) => `   * ${l}`), "   */"];
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** One interface of the generated file. */
function iface(name: string, doc: string, rows: Setting[]): string[] {
  const props = rows.flatMap((s) => [...tsDoc(s), `  ${camelName(s.key)}${s.required && !s.output ? "" : "?"}: ${tsType(s)};`]);
  return [`/** ${doc} */`, `export interface ${name} {`, ...props, "}", ""];
}

/** The generated providers/settingsArgs.ts. */
export function renderTypes(): string {
  const rows = (section: Section) => SETTINGS.filter((s) => s.section === section);
  return [
    "/**",
    " * The component's typed settings, camelCase, generated from the settings schema (lib/config/schema.ts)",
    " * by `npm run settings`: edit the schema, not this file. The YAML file has the same settings in",
    " * snake_case (`maxDelete` is `max_delete`), with the same defaults, ranges and messages.",
    " */",
    'import type * as pulumi from "@pulumi/pulumi";',
    "",
    ...iface("SshArgs", "How every VM is reached (YAML: `ssh`).", rows("ssh")),
    ...iface("JumpHostArgs", "One hop on the way to a VM (OpenSSH's ProxyJump).", rows("hop")),
    ...iface("VmArgs", "One VM (YAML: `vms.<id>`).", rows("vm")),
    ...iface("SecretScanningArgs", "The gitleaks gate (YAML: `repository.secret_scanning`).", rows("scan")),
    ...iface("RolloutArgs", "Waves, failure limit and what a failed wave does (YAML: `repository.rollout`).", rows("rollout")),
    ...iface("HealthCheckArgs", "A check run on each VM after its switch or sync (YAML: `repository.health_check`, `vms.<id>.health_check`).", rows("health")),
    ...iface("RepositoryArgs", "What is pushed, and how (YAML: `repository`).", rows("repository")),
    ...iface("RepoSyncOptions", "How a run deploys (the stack config of repo-sync's own program offers the same).", optionRows()),
  ].join("\n");
}

/** Rewrites README.md and the typed arguments in `root` (default: this project; `node dist/tools/settings.js [ROOT]`). */
export function main(root = process.argv[2] ?? path.resolve(__dirname, "..", "..")): void {
  const readme = path.join(root, "README.md");
  fs.writeFileSync(readme, renderReadme(fs.readFileSync(readme, "utf8")));
  fs.writeFileSync(path.join(root, TYPES_FILE), renderTypes());
}

if (require.main === module) main();
