let loaded: Promise<void> | undefined;

/**
 * Register tfjs-core's gradient functions (needed by `tf.variableGrads` / `tf.grads`).
 * tfjs-core's Node build ships without them; this loads a bundled copy once. Idempotent.
 */
export function registerGradients(): Promise<void> {
  loaded ??= import("./gradients-bundle.js").then(() => undefined);
  return loaded;
}
