/**
 * Config text to plain data, bounded and linear: yaml parses, and one walk over its nodes refuses
 * duplicate keys, alias bombs and runaway nesting before anything expands aliases. Pure: no I/O.
 */
import { isAlias, isCollection, isMap, isNode, isPair, isScalar, LineCounter, parseDocument } from "yaml";
import type { ConfigProblem } from "./types";

/** Larger texts are refused before parsing. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/**
 * At most this many aliases (`*name`) in one config. yaml resolves each alias by scanning every
 * anchor and alias before it, so the cost grows with the square of this number: 5,000 cost 0.3 to
 * 0.6 s on a busy 2-core machine (2,000: 0.13 s), and it is ten times the 500 `<<: *defaults` of
 * the largest real configs seen.
 */
export const MAX_YAML_ALIASES = 5_000;
/** At most this many anchors (`&name`): they take part in the same quadratic scan as aliases. */
export const MAX_YAML_ANCHORS = 1_000;
/**
 * At most this many values (scalars and collections) once every alias is expanded. A 1 MiB file
 * holds at most about 520,000 values written out, so only alias expansion (an "alias bomb", a
 * "billion laughs" document) can pass this; anything that walks the data stays bounded.
 */
export const MAX_YAML_VALUES = 1_000_000;
/** At most this many nested collections: a real config uses a handful; the converters recurse. */
export const MAX_YAML_DEPTH = 100;

/** A YAML bound was crossed: parsing stops at once (the message is the whole explanation). */
class YamlRefused extends Error {}

/**
 * YAML text to plain data, or the problems (keyed `(yaml)`) that stop it. yaml's own duplicate-key check
 * compares each key with every earlier one (quadratic: 60,000 keys took 49 s) and its alias guard
 * (`maxAliasCount`) refuses ordinary configs with 51 aliases and then throws a ReferenceError, so
 * both are off here and {@link checkYamlTree} does the same work in one linear pass.
 */
export function parseYamlText(text: string): { data: unknown; problems?: undefined } | { data?: undefined; problems: ConfigProblem[] } {
  const refuse = (message: string) => ({ problems: [{ key: "(yaml)", message }] });
  // loadConfig checks the file size; this covers text that did not come from a file.
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_CONFIG_BYTES) return refuse(`the text is ${bytes} bytes; a config larger than ${MAX_CONFIG_BYTES} bytes is refused`);
  const lineCounter = new LineCounter();
  try {
    const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: true, lineCounter });
    if (doc.errors.length > 0) {
      return { problems: doc.errors.map((e) => {
        const first = e.message.split("\n")[0].replace(/:$/, "");
        // yaml reports a stack overflow while composing deeply nested collections under this code.
        const why = e.code === "RESOURCE_EXHAUSTION" ? `; collections are nested too deeply (at most ${MAX_YAML_DEPTH} levels)` : "";
        return { key: "(yaml)", message: first + why };
      }) };
    }
    const problems = checkYamlTree(doc.contents, (offset) => {
      const { line, col } = lineCounter.linePos(offset);
      return `line ${line}, column ${col}`;
    });
    if (problems.length > 0) return { problems };
    // -1 turns yaml's alias guard off: checkYamlTree has bounded the aliases and their expansion.
    return { data: doc.toJS({ maxAliasCount: -1 }) };
  } catch (err) {
    if (err instanceof YamlRefused) return refuse(err.message);
    // Whatever else yaml throws (a bad merge key, a stack overflow) is still a fault of the file.
    return refuse(`cannot be read as YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** An anchor (`&name`) as far as the walk has seen it. */
interface AnchorEntry {
  readonly node: unknown;
  /** The anchored collection has been walked to its end (an alias inside it would be a cycle). */
  done: boolean;
  /** Values it stands for, aliases expanded. */
  size: number;
  readonly offset: number;
}

/** A collection being walked. */
interface Frame {
  readonly items: readonly unknown[];
  readonly parent: Frame | undefined;
  /** How the parent names this collection: a key, or `[index]`. */
  readonly label: string;
  readonly depth: number;
  /** Keys seen so far and where (maps only): one Set-like lookup per key keeps the check linear. */
  readonly keys: Map<string, number> | undefined;
  readonly anchor: AnchorEntry | undefined;
  /** Next child: item `slot >> 1`, its key (even) or its value (odd). */
  slot: number;
  /** Values in this collection so far, aliases expanded, itself included. */
  size: number;
}

/**
 * One walk over the parsed YAML nodes, in document order and without recursion (so a deep document
 * cannot overflow the stack here): refuses, by throwing {@link YamlRefused}, more than
 * {@link MAX_YAML_ALIASES} aliases, {@link MAX_YAML_ANCHORS} anchors, {@link MAX_YAML_DEPTH} levels,
 * an expansion past {@link MAX_YAML_VALUES} values, unknown and recursive aliases; returns every
 * duplicate key. Aliases resolve as yaml resolves them: to the last anchor of that name before them.
 */
function checkYamlTree(root: unknown, where: (offset: number) => string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const anchors = new Map<string, AnchorEntry>();
  const stack: Frame[] = [];
  let aliasCount = 0;
  let anchorCount = 0;
  /** The alias being expanded, named when the value bound is crossed. */
  let lastAlias = "";

  const offsetOf = (node: unknown): number => (isNode(node) && node.range ? node.range[0] : 0);
  const pathOf = (frame: Frame | undefined): string => {
    const parts: string[] = [];
    for (let f = frame; f && f.parent; f = f.parent) parts.push(f.label);
    if (parts.length === 0) return "at the top level";
    const full = parts.reverse().map((p, i) => (p.startsWith("[") || i === 0 ? p : "." + p)).join("");
    // Keys can be long and paths deep: the path names the place, the line number locates it.
    return "under " + (full.length > 120 ? full.slice(0, 117) + "..." : full);
  };
  // The JS property name a key becomes (yaml turns null into "" and scalars into String(value)),
  // so that `1:` and `"1":`, which would overwrite each other, count as the same key.
  const keyName = (key: unknown): string | undefined => {
    if (isAlias(key) && !anchors.has(key.source)) return undefined; // refused when it is entered
    const node = isAlias(key) ? anchors.get(key.source)?.node : key;
    if (node === null || node === undefined) return "";
    if (!isScalar(node)) return undefined; // collection keys are stringified by yaml; not compared
    const v = node.value;
    if (v === null || v === undefined) return "";
    // A merge key (`<<` under YAML 1.1) is a symbol and may repeat; dates and binaries are rare.
    if (typeof v === "symbol" || typeof v === "object") return undefined;
    return String(v);
  };
  const show = (name: string): string => JSON.stringify(name.length > 60 ? name.slice(0, 60) + "..." : name);
  const grow = (frame: Frame | undefined, size: number): void => {
    const total = (frame ? frame.size : 0) + size;
    if (total > MAX_YAML_VALUES) {
      throw new YamlRefused(
        `expands to more than ${MAX_YAML_VALUES} values once its aliases are resolved${lastAlias ? ` (crossed at ${lastAlias})` : ""}; ` +
          `this is what an alias bomb ("billion laughs") does: remove the aliases that nest other aliases`,
      );
    }
    if (frame) frame.size = total;
  };
  /** Starts a node: returns its size for a leaf, or pushes a frame (undefined) for a collection. */
  const enter = (node: unknown, parent: Frame | undefined, label: string): number | undefined => {
    if (!isNode(node)) return 0; // an empty value (`key:` with nothing after it in a set)
    if (isAlias(node)) {
      const at = where(offsetOf(node));
      if (++aliasCount > MAX_YAML_ALIASES) {
        throw new YamlRefused(
          `uses more than ${MAX_YAML_ALIASES} aliases (*name; the one past the limit is *${node.source} at ${at}); ` +
            `write the repeated values out, or keep another tool's settings in a file of their own`,
        );
      }
      const target = anchors.get(node.source);
      if (!target) throw new YamlRefused(`the alias *${node.source} at ${at} names no anchor defined before it; add &${node.source} to an earlier value`);
      if (!target.done) {
        throw new YamlRefused(`the alias *${node.source} at ${at} is inside the value it names (&${node.source} at ${where(target.offset)}); a config cannot refer to itself`);
      }
      lastAlias = `the alias *${node.source} at ${at}`;
      return target.size;
    }
    let anchor: AnchorEntry | undefined;
    if (node.anchor) {
      if (++anchorCount > MAX_YAML_ANCHORS) {
        throw new YamlRefused(`defines more than ${MAX_YAML_ANCHORS} anchors (&name; the one past the limit is &${node.anchor} at ${where(offsetOf(node))}); write the values out instead`);
      }
      anchor = { node, done: false, size: 1, offset: offsetOf(node) };
      anchors.set(node.anchor, anchor);
    }
    if (!isCollection(node)) {
      if (anchor) anchor.done = true;
      return 1;
    }
    const depth = (parent?.depth ?? 0) + 1;
    if (depth > MAX_YAML_DEPTH) {
      throw new YamlRefused(`nests collections more than ${MAX_YAML_DEPTH} levels deep (at ${where(offsetOf(node))}); flatten it`);
    }
    stack.push({ items: node.items, parent, label, depth, keys: isMap(node) ? new Map() : undefined, anchor, slot: 0, size: 1 });
    return undefined;
  };

  const rootSize = enter(root, undefined, "");
  if (rootSize !== undefined) grow(undefined, rootSize);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame.slot >= frame.items.length * 2) {
      stack.pop();
      if (frame.anchor) {
        frame.anchor.done = true;
        frame.anchor.size = frame.size;
      }
      grow(frame.parent, frame.size);
      continue;
    }
    const index = frame.slot >> 1;
    const isKeySlot = (frame.slot & 1) === 0;
    frame.slot++;
    const item = frame.items[index];
    let child: unknown;
    let label: string;
    if (isPair(item)) {
      if (isKeySlot) {
        child = item.key;
        label = "(key)";
        const name = frame.keys ? keyName(item.key) : undefined;
        if (frame.keys && name !== undefined) {
          const first = frame.keys.get(name);
          const offset = offsetOf(item.key);
          if (first === undefined) frame.keys.set(name, offset);
          else {
            problems.push({
              key: "(yaml)",
              message: `Map keys must be unique: ${show(name)} ${pathOf(frame)} appears again at ${where(offset)} (first at ${where(first)}); keep one of them`,
            });
          }
        }
      } else {
        child = item.value;
        label = keyName(item.key) ?? "?";
      }
    } else {
      if (!isKeySlot) continue; // a sequence item has no second half
      child = item;
      label = `[${index}]`;
    }
    const size = enter(child, frame, label);
    if (size !== undefined) grow(frame, size);
  }
  return problems;
}
