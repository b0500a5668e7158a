import { InvalidArgumentError } from "commander";

/** An integer flag value (fairseq's `type=int`), negative numbers allowed. */
export function int(value: string): number {
  const n = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("not an integer.");
  return n;
}

/** A float flag value (fairseq's `type=float`). */
export function float(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || Number.isNaN(n)) throw new InvalidArgumentError("not a number.");
  return n;
}

/** fairseq's `utils.eval_bool` / options given as `True`/`False` strings. */
export function bool(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new InvalidArgumentError("expected True or False.");
}

/** A choice among fixed values. */
export function choice<T extends string>(...choices: T[]) {
  return (value: string): T => {
    if (!(choices as string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}.`);
    return value as T;
  };
}
