import { formatG, pyFloatRepr, pyRound } from "./format.js";
import type { SmoothedValues } from "./metrics.js";

/** `--log-format`: fairseq's choices. `tqdm` draws a bar on a TTY; default is tqdm on a TTY, else simple. */
export type LogFormat = "json" | "simple" | "tqdm" | "none";

/** Where log lines go: `name` is fairseq's logger name (`train_inner`, `valid`, `fairseq_cli.train`). */
export type LogSink = (name: string, message: string) => void;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Python logging's `%(asctime)s` with fairseq's datefmt `%Y-%m-%d %H:%M:%S` (local time). */
export function asctime(d = new Date()): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** A sink printing fairseq's line format `DATE | INFO | name | message` to a stream (stdout by default). */
export function lineSink(write: (line: string) => void = (l) => process.stdout.write(l)): LogSink {
  return (name, message) => write(`${asctime()} | INFO | ${name} | ${message}\n`);
}

/** fairseq's `format_stat`: numbers with Python's `{:g}`. */
export function formatStat(value: number | string | null | undefined): string {
  if (typeof value === "number") return formatG(value);
  if (value == null) return "None";
  return value;
}

/** A value as Python's `json.dumps` prints it: an int, a float (repr), or a string. */
type PyJson = { int: number } | { float: number } | string;

/** Python `json.dumps` of a flat dict (ensure_ascii, `", "` and `": "` separators). */
function jsonDumps(entries: [string, PyJson][]): string {
  const enc = (s: string) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const val = (v: PyJson) => (typeof v === "string" ? enc(v) : "int" in v ? String(v.int) : pyFloatRepr(v.float));
  return `{${entries.map(([k, v]) => `${enc(k)}: ${val(v)}`).join(", ")}}`;
}

export interface ProgressBarOptions {
  format: LogFormat;
  /** Number of iterations in the epoch (for `update` fractions and the bar). */
  size: number;
  epoch?: number | null;
  /** Extra prefix, e.g. `valid on 'valid' subset`. */
  prefix?: string | null;
  /** Log every N updates (`--log-interval`, default 100). */
  logInterval?: number;
  sink?: LogSink;
  /** For `tqdm`: where the bar is drawn (a TTY). */
  stream?: NodeJS.WriteStream;
  /**
   * For `tqdm`: the bar implementation (e.g. cli-progress, which the trainer plugs in). This package
   * stays free of terminal dependencies so that browsers can use it; without one, a minimal bar is drawn.
   */
  createBar?: BarFactory;
}

/** A terminal progress bar: `start` once, `update(value, {postfix})` as it goes, `stop` at the end. */
export interface TerminalBar {
  update(value: number, payload: { postfix: string }): void;
  stop(): void;
}
export type BarFactory = (o: { total: number; prefix: string; stream: NodeJS.WriteStream }) => TerminalBar;

/**
 * fairseq's progress bars: `log()` mid-epoch stats every `logInterval` steps, `print()` end-of-epoch
 * stats; json/simple/none produce fairseq's exact lines, tqdm draws a bar and prints like simple.
 */
export class ProgressBar {
  readonly format: LogFormat;
  readonly size: number;
  readonly epoch: number | null;
  readonly logInterval: number;
  private readonly prefix: string;
  private readonly sink: LogSink;
  private i = 0;
  private bar: TerminalBar | null = null;
  private barPostfix = "";

  constructor(options: ProgressBarOptions) {
    this.format = options.format;
    this.size = options.size;
    this.epoch = options.epoch ?? null;
    this.logInterval = options.logInterval ?? 100;
    this.sink = options.sink ?? lineSink();
    let prefix = "";
    if (this.epoch != null) prefix += `epoch ${String(this.epoch).padStart(3, "0")}`;
    if (options.prefix) prefix += `${prefix ? " | " : ""}${options.prefix}`;
    this.prefix = prefix;
    if (this.format === "tqdm" && options.stream?.isTTY) {
      this.bar = options.createBar ? options.createBar({ total: this.size, prefix: this.prefix, stream: options.stream }) : this.minimalBar(options.stream);
    }
  }

  private minimalBar(stream: NodeJS.WriteStream): TerminalBar {
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 70));
    let last = 0;
    const draw = (v: number, done = false) => {
      const now = Date.now();
      if (!done && now - last < 100 && v < this.size) return;
      last = now;
      const frac = this.size > 0 ? v / this.size : 1;
      const filled = Math.round(frac * width);
      const line = `${this.prefix}: ${String(Math.round(frac * 100)).padStart(3)}%|${"█".repeat(filled)}${" ".repeat(width - filled)}| ${v}/${this.size} ${this.barPostfix}`;
      stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
    };
    return {
      update: (v) => draw(v),
      stop: () => {
        draw(this.i, true);
        stream.write("\n");
      },
    };
  }

  /** Mark iteration `i` (0-based) as the current one. */
  tick(i: number): void {
    this.i = i;
    this.bar?.update(i + 1, { postfix: this.barPostfix });
  }

  /** fairseq's `_format_stats` for json: epoch, update, then every stat formatted. */
  private jsonEntries(stats: SmoothedValues, withUpdate: boolean): [string, PyJson][] {
    const out: [string, PyJson][] = [];
    if (this.epoch != null) out.push(["epoch", { int: this.epoch }]);
    if (withUpdate && this.epoch != null) {
      out.push(["update", { float: pyRound(this.epoch - 1 + (this.i + 1) / this.size, 3) }]);
    }
    for (const [k, v] of stats) out.push([k, formatStat(v)]);
    return out;
  }

  /** Mid-epoch stats; only every `logInterval` steps, as fairseq (step = number of updates). */
  log(stats: SmoothedValues, tag: string, step?: number): void {
    const s = step || this.i || 0;
    if (!(s > 0 && this.logInterval > 0 && s % this.logInterval === 0)) return;
    if (this.format === "json") {
      this.sink(tag, jsonDumps(this.jsonEntries(stats, true)));
    } else if (this.format === "simple" || this.format === "tqdm") {
      const postfix = [...stats].map(([k, v]) => `${k}=${formatStat(v).trim()}`).join(", ");
      if (this.bar) {
        this.barPostfix = postfix;
        this.bar.update(this.i + 1, { postfix: this.barPostfix });
      } else {
        this.sink(tag, `${this.prefix}:  ${String(this.i + 1).padStart(5)} / ${this.size} ${postfix}`);
      }
    }
  }

  /** End-of-epoch / validation stats, keys prefixed with `tag_` in json as fairseq does. */
  print(stats: SmoothedValues, tag: string): void {
    if (this.format === "none") return;
    if (this.format === "json") {
      const prefixed: SmoothedValues = new Map([...stats].map(([k, v]) => [`${tag}_${k}`, v]));
      this.sink(tag, jsonDumps(this.jsonEntries(prefixed, false)));
    } else {
      const postfix = [...stats].map(([k, v]) => `${k} ${formatStat(v).trim()}`).join(" | ");
      this.sink(tag, `${this.prefix} | ${postfix}`);
    }
  }

  close(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
