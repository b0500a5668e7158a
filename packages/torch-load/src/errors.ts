/** The checkpoint is malformed, truncated, hostile or uses something this reader does not allow. */
export class TorchLoadError extends Error {
  override name = "TorchLoadError";
}
