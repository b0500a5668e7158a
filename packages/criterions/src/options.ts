/** The criterions' own options (fairseq's `add_args`), declared once; each registry entry carries its group. */
import { defineOptions, opt } from "@fairseq-ts/config";

/** `--criterion label_smoothed_cross_entropy`. */
export const labelSmoothedCrossEntropyOptions = defineOptions("criterion", {
  labelSmoothing: opt.float(0, "epsilon for label smoothing, 0 means no label smoothing", { metavar: "D" }),
  reportAccuracy: opt.flag("report accuracy metric"),
  ignorePrefixSize: opt.refused("ignoring a target prefix in the loss is not implemented"),
});
