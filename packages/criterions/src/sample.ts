// The tensor batch type lives beside the model interfaces (with sampleToTensors); criterions take it as it is.
export type { TensorSample } from "@fairseq-ts/models";
