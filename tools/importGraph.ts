/**
 * The project's import graph, from the TypeScript sources (`import ... from "./x"`, type-only imports
 * too: a cycle of types is still a cycle of concepts), and its cycles between files and between folders
 * (lib/config, lib/remote, providers...). test/unit/imports.test.ts keeps both empty. Pure except for
 * reading the files.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Folders whose files make up the product (tests and tools may import anything). */
export const PRODUCT_DIRS = ["index.ts", "providers", "lib", "cli"];

/** Every .ts file under the product folders, relative to `root`. */
export function productFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    if (fs.statSync(abs).isDirectory()) for (const e of fs.readdirSync(abs).sort()) walk(path.join(rel, e));
    else if (rel.endsWith(".ts") && !rel.endsWith(".d.ts")) out.push(rel);
  };
  for (const d of PRODUCT_DIRS) if (fs.existsSync(path.join(root, d))) walk(d);
  return out;
}

/** The relative imports of one source text, as files relative to the root (pure). */
export function importsOf(file: string, text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+"(\.{1,2}\/[^"]+)"/g)) {
    out.add(path.normalize(path.join(path.dirname(file), m[1])) + ".ts");
  }
  return [...out];
}

/** file -> the files it imports. */
export function importGraph(root: string): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of productFiles(root)) g.set(f, importsOf(f, fs.readFileSync(path.join(root, f), "utf8")).filter((d) => d !== f));
  return g;
}

/** The files at the top of lib/ that are its entry points: they import every area, and no area imports them. */
const LIB_ENTRIES = new Set(["lib/index.ts", "lib/api.ts"]);

/**
 * The folder a file belongs to, for the folder graph: lib/<area>, or the top folder (providers, cli).
 * The top of lib/ holds two layers: its entry points (index.ts, api.ts: `lib (entry)`), which use
 * every area, and the foundations every area uses (errors, log, paths: `lib`).
 */
export function folderOf(file: string): string {
  const parts = file.split(path.sep);
  if (LIB_ENTRIES.has(file)) return "lib (entry)";
  return parts[0] === "lib" && parts.length > 2 ? `lib/${parts[1]}` : parts.length > 1 ? parts[0] : file;
}

/** The graph between folders (edges inside one folder dropped). */
export function folderGraph(g: Map<string, string[]>): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const [f, deps] of g) {
    const a = folderOf(f);
    if (!out.has(a)) out.set(a, new Set());
    for (const d of deps) if (folderOf(d) !== a) out.get(a)?.add(folderOf(d));
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

/** The strongly connected components with more than one member: each a cycle (Tarjan; pure). */
export function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w !== undefined) {
          on.delete(w);
          scc.push(w);
        }
      } while (w !== undefined && w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}
