/** Renders benchmark results: a markdown table with ratios, the targets met or missed, and an SVG chart (pure). */
import { renderTargets } from "./targets";

/** One measurement: a baseline and the cases timed beside it in the same run (median ms). */
export interface Row {
  group: string;
  load: string;
  vms: number;
  baseline: string;
  baselineMs: number;
  /** Case -> median ms; null when it could not run here. */
  cases: Record<string, number | null>;
  /** Case -> why it failed on this load (its value is then null). */
  failures?: Record<string, string>;
  /** The load average (1, 5, 15 min) when the row was measured: other work shares the cores. */
  loadAvg?: string;
}

/** The whole result document. */
export interface BenchResult {
  date: string;
  smoke: boolean;
  runs: number;
  machine: Record<string, unknown>;
  rows: Row[];
  extra: Record<string, unknown>;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Markdown: one table per group, each case with its ratio to the baseline of the same run. */
export function renderMarkdown(r: BenchResult): string {
  const out = [`# Benchmark results (${r.date})`, "", `${r.smoke ? "SMOKE RUN (tiny loads, figures meaningless). " : ""}Median of ${r.runs} run(s). Machine: ${JSON.stringify(r.machine)}`, ""];
  const groups = [...new Set(r.rows.map((x) => x.group))];
  for (const g of groups) {
    out.push(`## ${g}`, "", "| load | VMs | baseline | case | time | ratio |", "|---|---|---|---|---|---|");
    for (const row of r.rows.filter((x) => x.group === g)) {
      out.push(`| ${row.load} | ${row.vms} | ${row.baseline} | (baseline) | ${s(row.baselineMs)} | 1.00x |`);
      for (const [name, ms] of Object.entries(row.cases)) {
        out.push(`| ${row.load} | ${row.vms} | ${row.baseline} | ${name} | ${ms === null ? (row.failures?.[name] ? `failed: ${row.failures[name]}` : "n/a") : s(ms)} | ${ms === null ? "n/a" : `${(ms / row.baselineMs).toFixed(2)}x`} |`);
      }
    }
    const loads = r.rows.filter((x) => x.group === g && x.loadAvg).map((x) => `${x.load}, ${x.vms} VM(s): ${x.loadAvg}`);
    if (loads.length > 0) out.push("", `Load average at the end of each row: ${loads.join("; ")}.`);
    out.push("");
  }
  out.push(...renderTargets(r.rows));
  out.push("## Other figures", "", "```json", JSON.stringify(r.extra, null, 2), "```", "");
  return out.join("\n");
}

/** A line chart of preview time against fleet size: repo-sync cold and warm beside the engine floor. */
export function renderChart(rows: Row[]): string {
  const W = 640, H = 360, L = 60, B = 40, T = 20, R = 20;
  const pts = rows.map((r) => ({ n: r.vms, floor: r.baselineMs / 1000, ours: (r.cases["pulumi preview (cold)"] ?? 0) / 1000, warm: (r.cases["pulumi preview (warm)"] ?? 0) / 1000 }));
  const maxN = Math.max(1, ...pts.map((p) => p.n));
  const maxY = Math.max(1, ...pts.map((p) => Math.max(p.floor, p.ours, p.warm))) * 1.1;
  const x = (n: number) => L + ((W - L - R) * n) / maxN;
  const y = (v: number) => H - B - ((H - B - T) * v) / maxY;
  const line = (key: "floor" | "ours" | "warm", color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.n).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ")}"/>` +
    pts.map((p) => `<circle cx="${x(p.n).toFixed(1)}" cy="${y(p[key]).toFixed(1)}" r="3" fill="${color}"/>`).join("");
  const ticks = pts.map((p) => `<text x="${x(p.n).toFixed(1)}" y="${H - B + 16}" font-size="11" text-anchor="middle">${p.n}</text>`).join("");
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${L - 6}" y="${y(maxY * f).toFixed(1)}" font-size="11" text-anchor="end">${(maxY * f).toFixed(1)}</text>`).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="14" font-size="13" text-anchor="middle">No-change pulumi preview: seconds vs fleet size</text>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>
${ticks}${yTicks}
<text x="${W / 2}" y="${H - 6}" font-size="11" text-anchor="middle">VMs</text>
${line("floor", "#888")}${line("ours", "#c0392b")}${line("warm", "#2471a3")}
<text x="${L + 10}" y="${T + 14}" font-size="11" fill="#c0392b">repo-sync, cold (every VM's SSH handshake)</text>
<text x="${L + 10}" y="${T + 28}" font-size="11" fill="#2471a3">repo-sync, warm (kept SSH connections)</text>
<text x="${L + 10}" y="${T + 42}" font-size="11" fill="#888">engine floor (do-nothing dynamic resources)</text>
</svg>
`;
}
