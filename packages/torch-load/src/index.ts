export { TorchLoadError } from "./errors.js";
export { loadTorchCheckpoint, openFileSource, readTorchCheckpoint, type LoadOptions, type TorchCheckpoint } from "./checkpoint.js";
export { PyGlobal, PyNamespace, PyObject, TorchTensor, unpickle, type TorchDtype, type TorchStorage, type UnpickleOptions } from "./unpickler.js";
export { bufferSource, readZipEntries, type ByteSource, type ZipEntry } from "./zip.js";
