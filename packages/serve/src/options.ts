/**
 * The server's own option group, declared once: the CLI's `serve` command derives its flags from it, and
 * {@link createTranslationServer} takes the typed object. Batch bounds are fairseq's `--max-tokens` / `--batch-size`
 * (the dataset group), not restated here.
 */
import { defineOptions, opt, type OptionsOf } from "@fairseq-ts/config";

export const serveOptions = defineOptions("serve", {
  port: opt.int(8080, "TCP port to listen on (0: any free port; the address is printed)", { metavar: "N" }),
  host: opt.str("127.0.0.1", "address to listen on: loopback unless you say otherwise (0.0.0.0 listens everywhere)", { metavar: "ADDR" }),
  models: opt.str(null, 'more models, from a JSON file: {"models": [{"id": 101, "name": "en-de", "args": ["DATA", "--path", "CKPT", ...]}]}', {
    metavar: "FILE",
  }),
  modelId: opt.int(100, "the OpenNMT-py model id of the model given on the command line", { metavar: "N" }),
  apiKeys: opt.str(null, "file of API keys, one a line ('#' comments): translation requests without one of them get 403", { metavar: "FILE" }),
  batchWaitMs: opt.int(5, "wait this long after a request arrives for others to batch with it (milliseconds)", { metavar: "MS" }),
  maxQueue: opt.int(2048, "at most this many sentences waiting (all clients); beyond it requests get 429", { metavar: "N" }),
  maxClientQueue: opt.int(256, "at most this many sentences waiting from one client (API key, else address); beyond it 429", { metavar: "N" }),
  maxBodyBytes: opt.int(1_048_576, "largest request body (bytes); larger gets 413", { metavar: "N" }),
  maxTextChars: opt.int(10_000, "longest text of one sentence (characters); longer gets 413", { metavar: "N" }),
  maxRequestSentences: opt.int(128, "most sentences in one request; more gets 413", { metavar: "N" }),
  timeLimitMs: opt.int(30_000, "a request not answered within this time gets 503 and its sentences leave the queue (milliseconds)", {
    metavar: "MS",
  }),
  receiveTimeoutMs: opt.int(10_000, "headers and body must arrive within this time, else 408 and the connection closes (slow clients; milliseconds)", {
    metavar: "MS",
  }),
});
export type ServeOptions = OptionsOf<typeof serveOptions.declarations>;
