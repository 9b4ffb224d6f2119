/**
 * A small TOML reader (pure) for the few keys repo-sync must understand in a gitleaks rules file
 * (`[extend]`: which other files gitleaks loads). It walks the whole grammar (tables, dotted and
 * quoted keys, the four string kinds, arrays and inline tables over several lines, comments) so that
 * text inside a string or a comment is never taken for a key, but it keeps only the scalar values of
 * the keys a caller asks for. Anything it cannot read is a {@link TomlSyntaxError}: gitleaks would not
 * load such a file either.
 */

/** A scalar value as written: strings decoded, booleans read, anything else kept raw. */
export type TomlScalar = { kind: "string"; value: string } | { kind: "boolean"; value: boolean } | { kind: "other"; raw: string };

/** One `key = value` with its full key path (table names, then the dotted key). */
export interface TomlKey {
  path: string[];
  value: TomlScalar;
  /** 1-based line of the value. */
  line: number;
}

/** The text is not TOML this reader (or gitleaks) can load. */
export class TomlSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
  ) {
    super(`${reason} (line ${line})`);
  }
}

const BARE_KEY = /[A-Za-z0-9_-]/;
const ESCAPES: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", '"': '"', "\\": "\\", e: "\x1b" };

/**
 * Every `key = value` of `text` (top level, under tables, and inside inline tables) whose full key
 * path `want` accepts; arrays are walked but their elements are not reported.
 */
export function readTomlKeys(text: string, want: (path: string[]) => boolean = () => true): TomlKey[] {
  return new Reader(text, want).document();
}

class Reader {
  private i = 0;
  private line = 1;
  private readonly found: TomlKey[] = [];

  constructor(
    private readonly s: string,
    private readonly want: (path: string[]) => boolean,
  ) {}

  document(): TomlKey[] {
    let table: string[] = [];
    for (;;) {
      this.skipBlank(true);
      if (this.i >= this.s.length) return this.found;
      if (this.s[this.i] === "[") {
        const array = this.s[this.i + 1] === "[";
        this.i += array ? 2 : 1;
        this.skipBlank(false);
        table = this.key();
        this.skipBlank(false);
        if (!this.s.startsWith(array ? "]]" : "]", this.i)) this.fail(`expected ${array ? "]]" : "]"} after a table name`);
        this.i += array ? 2 : 1;
      } else {
        const key = this.key();
        this.keyValue(table.concat(key));
      }
      this.endOfLine();
    }
  }

  /** After `key`: `= value`, recorded when wanted. */
  private keyValue(path: string[]): void {
    this.skipBlank(false);
    if (this.s[this.i] !== "=") this.fail("expected = after a key");
    this.i++;
    this.skipBlank(false);
    const line = this.line;
    const value = this.value(path);
    if (value && this.want(path)) this.found.push({ path, value, line });
  }

  /** A dotted key: bare or quoted parts separated by dots. */
  private key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipBlank(false);
      const c = this.s[this.i];
      if (c === '"' || c === "'") {
        if (this.s.startsWith(c.repeat(3), this.i)) this.fail("a multi-line string cannot be a key");
        parts.push(this.string());
      } else {
        const start = this.i;
        while (this.i < this.s.length && BARE_KEY.test(this.s[this.i])) this.i++;
        if (this.i === start) this.fail("expected a key");
        parts.push(this.s.slice(start, this.i));
      }
      this.skipBlank(false);
      if (this.s[this.i] !== ".") return parts;
      this.i++;
    }
  }

  /** Any value; returns the scalar for scalars, undefined for arrays and inline tables (walked). */
  private value(path: string[]): TomlScalar | undefined {
    const c = this.s[this.i];
    if (c === '"' || c === "'") return { kind: "string", value: this.string() };
    if (c === "[") {
      this.i++;
      for (;;) {
        this.skipBlank(true);
        if (this.s[this.i] === "]") break;
        this.value(path.concat("[]"));
        this.skipBlank(true);
        if (this.s[this.i] === ",") this.i++;
        else if (this.s[this.i] !== "]") this.fail("expected , or ] in an array");
      }
      this.i++;
      return undefined;
    }
    if (c === "{") {
      this.i++;
      for (;;) {
        this.skipBlank(true);
        if (this.s[this.i] === "}") break;
        const key = this.key();
        this.keyValue(path.concat(key));
        this.skipBlank(true);
        if (this.s[this.i] === ",") this.i++;
        else if (this.s[this.i] !== "}") this.fail("expected , or } in an inline table");
      }
      this.i++;
      return undefined;
    }
    const start = this.i;
    while (this.i < this.s.length && !",]}#\n".includes(this.s[this.i])) this.i++;
    const raw = this.s.slice(start, this.i).trim();
    if (raw === "") this.fail("expected a value");
    return raw === "true" || raw === "false" ? { kind: "boolean", value: raw === "true" } : { kind: "other", raw };
  }

  /** A string of any of the four kinds, decoded. */
  private string(): string {
    const q = this.s[this.i];
    const multi = this.s.startsWith(q.repeat(3), this.i);
    this.i += multi ? 3 : 1;
    if (multi && this.s[this.i] === "\n") this.take();
    else if (multi && this.s.startsWith("\r\n", this.i)) this.i += 2, this.line++;
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) this.fail("unterminated string");
      const c = this.s[this.i];
      if (multi ? this.s.startsWith(q.repeat(3), this.i) : c === q) {
        this.i += multi ? 3 : 1;
        // `""""` or `"""""` ends a multi-line string with one or two quotes in it.
        for (let extra = 0; multi && extra < 2 && this.s[this.i] === q; extra++) out += q, this.i++;
        return out;
      }
      if (c === "\n" && !multi) this.fail("newline in a one-line string");
      if (c === "\\" && q === '"') {
        out += this.escape(multi);
        continue;
      }
      out += this.take();
    }
  }

  /** One escape of a basic string (at the backslash). */
  private escape(multi: boolean): string {
    this.i++;
    const c = this.s[this.i];
    if (c === "u" || c === "U") {
      const n = c === "u" ? 4 : 8;
      const hex = this.s.slice(this.i + 1, this.i + 1 + n);
      if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) this.fail("bad unicode escape");
      this.i += 1 + n;
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail("bad unicode escape");
      return String.fromCodePoint(cp);
    }
    if (c === "x") {
      const hex = this.s.slice(this.i + 1, this.i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) this.fail("bad \\x escape");
      this.i += 3;
      return String.fromCharCode(parseInt(hex, 16));
    }
    if (c !== undefined && c in ESCAPES) {
      this.i++;
      return ESCAPES[c];
    }
    if (multi && /^[ \t]*\r?\n/.test(this.s.slice(this.i, this.i + 200))) {
      // A line-ending backslash: the newline and the blanks after it vanish.
      while (this.i < this.s.length && " \t\r\n".includes(this.s[this.i])) this.take();
      return "";
    }
    return this.fail("unknown escape in a string");
  }

  private take(): string {
    const c = this.s[this.i++];
    if (c === "\n") this.line++;
    return c;
  }

  /** Skips blanks and comments; with `newlines`, line ends too. */
  private skipBlank(newlines: boolean): void {
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === " " || c === "\t" || c === "\r" || (newlines && c === "\n")) this.take();
      else if (c === "#") while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
      else return;
    }
  }

  /** Only a comment may follow a key/value or a table header on its line. */
  private endOfLine(): void {
    this.skipBlank(false);
    if (this.i < this.s.length && this.s[this.i] !== "\n") this.fail("unexpected text after a value");
  }

  private fail(reason: string): never {
    throw new TomlSyntaxError(reason, this.line);
  }
}
