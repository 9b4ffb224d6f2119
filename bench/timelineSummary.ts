/** Summarises a spawn timeline (lib/timeline.ts) of one `pulumi preview` or `up`: where the time went (pure). */

/** One line of the timeline file. */
export interface TimelineEvent {
  t: number;
  pid: number;
  ev: string;
  vm?: string;
  prog?: string;
  ms?: number;
  [key: string]: unknown;
}

const r = (x: number) => Math.round(x);

function stats(xs: number[]): { n: number; median: number; p90: number; max: number } | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, median: r(s[Math.floor((s.length - 1) / 2)]), p90: r(s[Math.floor((s.length - 1) * 0.9)]), max: r(s[s.length - 1]) };
}

/** Durations between a start and an end event of the same VM (in order of the starts). */
function spans(events: TimelineEvent[], start: string | string[], end: string): Array<{ vm: string; from: number; to: number }> {
  const starts = Array.isArray(start) ? start : [start];
  const open = new Map<string, number[]>();
  const out: Array<{ vm: string; from: number; to: number }> = [];
  for (const e of events) {
    const key = `${e.pid}|${e.vm ?? ""}`;
    if (starts.includes(e.ev) && e.early === undefined) open.set(key, [...(open.get(key) ?? []), e.t]);
    else if (e.ev === end) {
      const from = open.get(key)?.shift();
      if (from !== undefined) out.push({ vm: e.vm ?? "", from, to: e.t });
    }
  }
  return out;
}

/** Highest number of spans open at once. */
function peak(xs: Array<{ from: number; to: number }>): number {
  const points = xs.flatMap((x) => [[x.from, 1], [x.to, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let best = 0;
  for (const [, d] of points) best = Math.max(best, (cur += d));
  return best;
}

/**
 * The phases of one run relative to `t0` (when the command started), in ms: the program's marks,
 * the provider's load, the first and last check, the probes (each and how many at once), each
 * connection's handshake + first answer, each rsync dry run, and the gaps between checks.
 */
export function summarizeTimeline(events: TimelineEvent[], t0: number): Record<string, unknown> {
  const at = (ev: string, which: "first" | "last" = "first") => {
    const xs = events.filter((e) => e.ev === ev);
    const e = which === "first" ? xs[0] : xs[xs.length - 1];
    return e ? r(e.t - t0) : undefined;
  };
  const checks = spans(events, "check.start", "check.end");
  const probes = spans(events, "probe.start", "probe.end");
  // A session's first answer: after a handshake (a new master, or this run's own connection), or on a kept master.
  const handshakes = spans(events, ["ssh.spawn", "ssh.master"], "ssh.answer");
  const joined = spans(events, "ssh.reuse", "ssh.answer");
  const masters = spans(events.map((e) => (e.ev === "ssh.master" && e.early !== undefined ? { ...e, early: undefined, ev: "early.master" } : e)), "early.master", "ssh.master.ready");
  const programPid = events.find((e) => e.ev === "program.component")?.pid;
  const count = (ev: string, inProgram: boolean) => events.filter((e) => e.ev === ev && (e.pid === programPid) === inProgram).length;
  const starts = events.filter((e) => e.ev === "check.start").map((e) => e.t);
  const gaps = starts.slice(1).map((t, i) => t - starts[i]);
  const rsync = events.filter((e) => e.ev === "exit" && e.prog === "rsync").map((e) => e.ms ?? 0);
  const progs: Record<string, string> = {};
  for (const e of events.filter((x) => x.ev === "exit")) {
    const [count, ms] = (progs[e.prog ?? "?"] ?? "0 runs, 0 ms").split(/ runs?, | ms/).map(Number);
    progs[e.prog ?? "?"] = `${count + 1} run${count ? "s" : ""}, ${ms + (e.ms ?? 0)} ms`;
  }
  const converges = spans(events, "converge.start", "converge.end");
  return {
    programComponent: at("program.component"),
    programPlanWritten: at("program.plan"),
    programRegistered: at("program.registered"),
    providerLoaded: at("provider.loaded"),
    firstCheckStart: at("check.start"),
    lastCheckStart: at("check.start", "last"),
    lastCheckEnd: at("check.end", "last"),
    firstProbeStart: at("probe.start"),
    lastProbeEnd: at("probe.end", "last"),
    checkMs: stats(checks.map((c) => c.to - c.from)),
    checkStartGapMs: stats(gaps),
    probeMs: stats(probes.map((p) => p.to - p.from)),
    probesAtOnce: peak(probes),
    checksAtOnce: peak(checks),
    sshAnswerMs: stats(handshakes.map((h) => h.to - h.from)),
    sshAnswerOnKeptMs: stats(joined.map((h) => h.to - h.from)),
    earlyMasterOpenMs: stats(masters.map((m) => m.to - m.from)),
    firstMasterStart: masters.length ? r(Math.min(...masters.map((m) => m.from)) - t0) : undefined,
    lastMasterReady: masters.length ? r(Math.max(...masters.map((m) => m.to)) - t0) : undefined,
    mastersOpened: { program: count("ssh.master", true), provider: count("ssh.master", false) },
    mastersJoined: { program: count("ssh.reuse", true), provider: count("ssh.reuse", false) },
    rsyncMs: stats(rsync),
    convergeMs: stats(converges.map((c) => c.to - c.from)),
    firstConvergeStart: at("converge.start"),
    lastConvergeEnd: at("converge.end", "last"),
    firstEvent: events.length ? r(Math.min(...events.map((e) => e.t)) - t0) : undefined,
    lastEvent: events.length ? r(Math.max(...events.map((e) => e.t)) - t0) : undefined,
    programsRun: progs,
    /** Every program spawned, in order: when it started and how long it ran (ms from the command's start). */
    spawns: events.filter((e) => e.ev === "exit").map((e) => `${e.prog} ${r(e.t - t0 - (e.ms ?? 0))}+${e.ms}`),
  };
}
