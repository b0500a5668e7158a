export { TorchLoadError } from "./errors.js";
export {
  fileSource,
  loadTorchCheckpoint,
  openFileSource,
  readTorchCheckpoint,
  type FileSource,
  type LoadOptions,
  type OpenTorchCheckpoint,
  type SyncFs,
  type TorchCheckpoint,
} from "./checkpoint.js";
export { PyGlobal, PyNamespace, PyObject, TorchTensor, unpickle, type TorchDtype, type TorchStorage, type UnpickleOptions } from "./unpickler.js";
export { bufferSource, readZipEntries, type ByteSource, type ZipEntry } from "./zip.js";
