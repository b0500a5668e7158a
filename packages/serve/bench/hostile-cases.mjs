// Hostile requests for the translation server (shared by test/hostile.test.ts and bench/serve.mjs): case i of a
// fixed cycle, each with the status it must get (null: the client leaves before any answer).
import { connect } from "node:net";

const json = (path, body) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const VALID = JSON.stringify({ q: "ein mann fährt fahrrad .", source: "de", target: "en" });

/** Case `i`: { kind, chunks (written in order), expect (status or null), abortAfterMs (leave without reading) }. */
export function hostileCase(i) {
  switch (i % 9) {
    case 0:
      return { kind: "bad-json", chunks: [json("/translate", `{"q": "ein mann", "source": "de", "target": ${"[".repeat(i % 50)}`)], expect: 400 };
    case 1:
      return {
        kind: "huge-text",
        chunks: [json("/translate", JSON.stringify({ q: "ein ".repeat(2000 + (i % 100)), source: "de", target: "en" }))],
        expect: 413,
      };
    case 2: {
      // a body over --max-body-bytes (the test's 64 KiB): refused from its Content-Length
      const body = JSON.stringify({ q: ["x".repeat(70_000)], source: "de", target: "en" });
      return { kind: "huge-body", chunks: [json("/translate", body)], expect: 413 };
    }
    case 3: {
      const bodies = [
        { q: { a: 1 }, source: "de", target: "en" },
        { q: "x", source: 1, target: "en" },
        { q: null, source: "de", target: "en" },
        [{ src: ["a"] }],
        "a string",
        { q: "x", source: "de", target: "en", alternatives: "3" },
      ];
      const b = bodies[i % bodies.length];
      return { kind: "wrong-types", chunks: [json(Array.isArray(b) ? "/translator/translate" : "/translate", JSON.stringify(b))], expect: 400 };
    }
    case 4:
      return { kind: "proto", chunks: [json("/translate", '{"q": "x", "source": "de", "target": "en", "__proto__": {"polluted": 1}}')], expect: 400 };
    case 5:
      // not HTTP at all: Node's parser answers 400 Bad Request and closes
      return { kind: "garbage", chunks: [Buffer.from(Array.from({ length: 64 }, (_, k) => (i * 31 + k * 7) % 256))], expect: 400 };
    case 6:
      // a Content-Length the client never sends: it leaves halfway through the body
      return { kind: "abort-in-body", chunks: [json("/translate", VALID).slice(0, -10)], expect: null, abortAfterMs: 1 };
    case 7:
      // a valid request, queued, whose client leaves before the answer
      return { kind: "abort-queued", chunks: [json("/translate", VALID)], expect: null, abortAfterMs: 2 };
    default:
      return {
        kind: "too-many",
        chunks: [json("/translate", JSON.stringify({ q: Array.from({ length: 200 }, () => "a"), source: "de", target: "en" }))],
        expect: 413,
      };
  }
}

/** Write `c.chunks` on a fresh connection; read the answer until the server closes (or leave after `abortAfterMs`). */
export function rawRequest(port, c) {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    const got = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const text = Buffer.concat(got).toString("utf8");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : null, head: head.split("\r\n")[0] ?? "", body });
    };
    s.on("data", (d) => got.push(d));
    s.on("error", finish);
    s.on("close", finish);
    s.on("connect", () => {
      for (const chunk of c.chunks) s.write(chunk);
      if (c.abortAfterMs !== undefined) setTimeout(() => s.destroy(), c.abortAfterMs);
    });
  });
}
