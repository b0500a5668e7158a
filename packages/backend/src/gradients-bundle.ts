// Importing this module registers every tfjs-core gradient and the chained tensor ops
// (x.square() etc.) into tfjs's global registries. Only `registerGradients()` imports it.
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";
