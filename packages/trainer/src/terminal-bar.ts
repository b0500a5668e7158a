import cliProgress from "cli-progress";
import type { BarFactory } from "@fairseq-ts/logging";

/** fairseq's tqdm bar for `--log-format tqdm` on a TTY, drawn by cli-progress (stats after the bar). */
export const cliProgressBar: BarFactory = ({ total, prefix, stream }) => {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${prefix}: {percentage}%|{bar}| {value}/{total} [{duration_formatted}<{eta_formatted}] {postfix}`,
      barCompleteChar: "█",
      barIncompleteChar: " ",
      barsize: 30,
      hideCursor: false,
      clearOnComplete: false,
      linewrap: false,
      fps: 10,
    },
    cliProgress.Presets.legacy,
  );
  bar.start(total, 0, { postfix: "" });
  return {
    update: (value, payload) => bar.update(value, payload),
    stop: () => bar.stop(),
  };
};
