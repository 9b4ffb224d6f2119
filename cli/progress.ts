/**
 * Live progress of `repo-sync sync` on a terminal: one status line on stderr, redrawn at most every
 * 250 ms, with each VM's share of its push (rsync --info=progress2). Messages print above it. Never
 * used for `--json` or when stderr is not a terminal (the caller decides).
 */
import type { Logger } from "../lib/log";
import { describeProgress, RsyncProgress } from "../lib/transfer/rsyncOutput";

/** The status line for every VM seen so far, cut to the terminal's width (pure). */
export function progressLine(all: ReadonlyMap<string, RsyncProgress>, width: number): string {
  const line = [...all].map(([vm, p]) => `${vm} ${describeProgress(p)}`).join(" | ");
  return line.length > width - 1 ? `${line.slice(0, Math.max(0, width - 2))}…` : line;
}

/** A terminal progress display and a logger that prints above it. */
export class TerminalProgress {
  private readonly all = new Map<string, RsyncProgress>();
  private shown = false;
  private last = 0;

  constructor(private readonly out: NodeJS.WriteStream, private readonly inner: Logger) {}

  /** For SyncOptions.onProgress. */
  readonly update = (vm: string, p: RsyncProgress): void => {
    this.all.set(vm, p);
    const now = Date.now();
    if (now - this.last < 250 && p.percent < 100) return;
    this.last = now;
    this.draw();
  };

  /** Messages clear the line, print, and the line comes back. */
  readonly logger: Logger = {
    info: (m) => this.around(() => this.inner.info(m)),
    warn: (m) => this.around(() => this.inner.warn(m)),
    alert: (a) => this.around(() => this.inner.alert(a)),
  };

  /** Removes the line (at the end of the run). */
  done(): void {
    this.clear();
  }

  private draw(): void {
    this.out.write(`\r\x1b[K${progressLine(this.all, this.out.columns || 80)}`);
    this.shown = true;
  }

  private clear(): void {
    if (this.shown) this.out.write("\r\x1b[K");
    this.shown = false;
  }

  private around(print: () => void): void {
    const was = this.shown;
    this.clear();
    print();
    if (was) this.draw();
  }
}
