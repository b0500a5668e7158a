export { formatFixed, formatG, formatPrecision, pyFloatRepr, pyRound } from "./format.js";
export { AverageMeter, StopwatchMeter, TimeMeter, defaultClock, type Clock, type Meter, type MeterState } from "./meters.js";
export { DerivedMeter, Metrics, MetersDict, type ScalarOptions, type SmoothedValues } from "./metrics.js";
export {
  ProgressBar,
  asctime,
  formatStat,
  lineSink,
  type BarFactory,
  type LogFormat,
  type LogSink,
  type ProgressBarOptions,
  type TerminalBar,
} from "./progress.js";
