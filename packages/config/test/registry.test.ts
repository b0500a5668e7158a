import { describe, expect, it } from "vitest";
import { Registry, RegistryError } from "../src/index.js";

describe("Registry", () => {
  it("registers built-ins lazily, once, on first use", () => {
    let calls = 0;
    const r = new Registry<number>("optimizer", (reg) => {
      calls++;
      reg.register("adam", 1).register("sgd", 2);
    });
    expect(calls).toBe(0);
    expect(r.get("sgd")).toBe(2);
    r.register("mine", 3);
    expect(r.names()).toEqual(["adam", "sgd", "mine"]);
    expect(calls).toBe(1);
  });
  it("names the known entries for an unknown name and refuses duplicates", () => {
    const r = new Registry<number>("optimizer", (reg) => void reg.register("adam", 1));
    expect(() => r.get("adma")).toThrow("unknown optimizer 'adma' (known: adam)");
    expect(() => r.register("adam", 2)).toThrow(RegistryError);
    expect(r.has("adam")).toBe(true);
  });
});
