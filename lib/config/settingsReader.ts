/**
 * Reads settings out of a parsed config document by the schema's rows (schema.ts): a value, its default
 * when left out, a problem named by its key path when it is not what the row says. The document names
 * its keys the YAML's way (snake_case) or the typed arguments' way (camelCase): read and named alike.
 * The base of config/validate.ts, which adds what spans keys. Pure.
 */
import * as path from "node:path";
import { invalidSshFilePathReason } from "./safety";
import { camelName, describe, type Section, sectionKeys, setting, valueProblem } from "./schema";
import type { ConfigProblem } from "./types";

/** Where relative paths and `~` resolve, and how the document names its keys. */
export interface PathContext {
  /** Folder of the config file: relative local paths resolve here. */
  baseDir: string;
  /** Home directory for `~`. */
  homeDir: string;
  /** Config file name, for messages. */
  file: string;
  /**
   * The Pulumi program supplies VM hosts (another stack's outputs, or the resources that create the
   * VMs): `vms.<id>.host` may be left out; it is then "" here and filled in by the program.
   */
  hostsSupplied?: boolean;
  /** VMs whose login user the program supplies (an Input): `ssh_user` may be left out ("" here). */
  usersSupplied?: ReadonlySet<string>;
  /** `camel`: the component's typed arguments (`sshUser`, `maxDelete`); default `yaml` (snake_case). */
  naming?: "yaml" | "camel";
}

/** A mapping of the document. */
export type Mapping = Record<string, unknown>;

/** A reader of one document, collecting every problem. */
export class SettingsReader {
  readonly problems: ConfigProblem[] = [];
  private readonly camel: boolean;

  constructor(protected readonly ctx: PathContext) {
    this.camel = ctx.naming === "camel";
  }

  /** A key as the document writes it. */
  name(key: string): string {
    return this.camel ? camelName(key) : key;
  }

  /** The value of YAML key `key` in `m` (read under its camelCase name in a typed document). */
  at(m: Mapping, key: string): unknown {
    return m[this.name(key)];
  }

  /** `prefix.key` with the key as the document writes it. */
  path(prefix: string, key: string): string {
    return `${prefix}.${this.name(key)}`;
  }

  add(key: string, message: string): void {
    this.problems.push({ key, message });
  }

  mapping(value: unknown, key: string, required = true): Mapping | undefined {
    if (value === undefined || value === null) {
      if (required) this.add(key, "is missing (expected a mapping)");
      return undefined;
    }
    if (typeof value !== "object" || Array.isArray(value)) {
      this.add(key, `must be a mapping, got ${describe(value)}`);
      return undefined;
    }
    return value as Mapping;
  }

  /** Keys of `m` that the schema's `section` does not have: each a problem, with the nearest known key. */
  unknownKeys(m: Mapping, section: Section, prefix: string): void {
    const allowed = sectionKeys(section).map((k) => this.name(k));
    for (const k of Object.keys(m)) {
      if (!allowed.includes(k)) {
        const near = allowed.find((a) => editDistance(a.toLowerCase(), k.toLowerCase()) <= 2);
        this.add(`${prefix}.${k}`, `is not a known key${near ? ` (did you mean \`${near}\`?)` : ""}; known: ${allowed.join(", ")}`);
      }
    }
  }

  /**
   * A scalar setting of `section` read from `m`: valid value, its schema default when left out
   * (undefined when it has none; "is missing" when required), undefined with a problem when invalid.
   */
  value(m: Mapping, section: Section, key: string, prefix: string, opts: { optional?: boolean } = {}): unknown {
    const s = setting(section, key);
    const val = this.at(m, key);
    if (!given(val)) {
      if (s.required && !opts.optional) this.add(this.path(prefix, key), "is missing");
      return s.default;
    }
    const why = valueProblem(s, val);
    if (why) {
      this.add(this.path(prefix, key), why);
      return undefined;
    }
    return val;
  }

  str(m: Mapping, section: Section, key: string, prefix: string, opts: { optional?: boolean } = {}): string | undefined {
    const v = this.value(m, section, key, prefix, opts);
    return typeof v === "string" ? v : undefined;
  }

  bool(m: Mapping, section: Section, key: string, prefix: string): boolean {
    const v = this.value(m, section, key, prefix);
    return typeof v === "boolean" ? v : setting(section, key).default === true;
  }

  int(m: Mapping, section: Section, key: string, prefix: string): number | undefined {
    const v = this.value(m, section, key, prefix);
    return typeof v === "number" ? v : undefined;
  }

  /** An optional string setting: `{ [camelCase key]: value }` when set and valid, else nothing. */
  optional(m: Mapping, section: Section, key: string, prefix: string): Record<string, string> {
    const s = this.str(m, section, key, prefix);
    return s ? { [camelName(key)]: s } : {};
  }

  localPath(p: string): string {
    const expanded = p === "~" ? this.ctx.homeDir : p.startsWith("~/") ? path.join(this.ctx.homeDir, p.slice(2)) : p;
    return path.resolve(this.ctx.baseDir, expanded);
  }

  /** A local file handed to OpenSSH (key, known_hosts): resolved, and refused when ssh would mangle it. */
  sshFilePath(p: string, key: string): string {
    const resolved = this.localPath(p);
    const why = invalidSshFilePathReason(resolved);
    if (why) this.add(key, `${JSON.stringify(resolved)} ${why}`);
    return resolved;
  }

  stringList(value: unknown, key: string): string[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || value.some((x) => typeof x !== "string")) {
      this.add(key, `must be a list of strings, got ${describe(value)}`);
      return undefined;
    }
    return value as string[];
  }}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** True for a mapping (not a list, not null). */
export function isMapping(v: unknown): v is Mapping {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether the document sets a key (null counts as left out, like everywhere else). */
export function given(v: unknown): boolean {
  return v !== undefined && v !== null;
}
