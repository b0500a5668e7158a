/**
 * The constraint states against the cases of fairseq v0.10.2's tests/test_constraints.py (re-typed here):
 * packing, the trie's printed graph and token counts, next tokens, and the state reached after a token
 * sequence (bank, completed constraints, finished, at the root) for unordered and ordered constraints.
 */
import { describe, expect, it } from "vitest";
import {
  ConstraintNode,
  OrderedConstraintState,
  UnorderedConstraintState,
  createConstraintState,
  packConstraints,
  unpackConstraints,
  type ConstraintState,
} from "../src/index.js";

const SIX = [[1, 2, 3], [1, 3], [1, 4], [4, 5, 6, 7], [1], [4, 5]];

describe("packConstraints / unpackConstraints (fairseq's pack_constraints)", () => {
  const cases: [number[][][], number[][]][] = [
    [[[]], [[0]]],
    [
      [[], []],
      [[0], [0]],
    ],
    [
      [[[1, 2]], []],
      [
        [1, 1, 2, 0],
        [0, 0, 0, 0],
      ],
    ],
    [
      [[[3, 1, 2], [3], [4, 5, 6, 7]], [], [[1, 8, 9, 10, 1, 4, 11, 12]]],
      [
        [3, 3, 1, 2, 0, 3, 0, 4, 5, 6, 7, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 8, 9, 10, 1, 4, 11, 12, 0, 0, 0],
      ],
    ],
  ];
  it.each(cases)("%j", (batch, packed) => {
    expect(packConstraints(batch)).toEqual(packed);
    expect(packed.map((row) => unpackConstraints(row))).toEqual(batch);
  });
});

describe("ConstraintNode (the unordered constraints' trie)", () => {
  const graphs: [number[][], string, Record<number, number>][] = [
    [
      SIX,
      "([None].False#6 ([1].True#4 ([2].False#1 [3].True#1) [3].True#1 [4].True#1) ([4].False#2 ([5].True#2 ([6].False#1 [7].True#1))))",
      { 1: 4, 2: 1, 3: 2, 4: 3, 5: 2, 6: 1, 7: 1 },
    ],
    [[], "[None].False#0", {}],
    [[[0]], "([None].False#1 [0].True#1)", { 0: 1 }],
    [
      [[100000, 1, 2, 3, 4, 5]],
      "([None].False#1 ([100000].False#1 ([1].False#1 ([2].False#1 ([3].False#1 ([4].False#1 [5].True#1))))))",
      { 100000: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1 },
    ],
    [
      [
        [1, 2],
        [1, 2],
      ],
      "([None].False#2 ([1].False#2 [2].True#2))",
      { 1: 2, 2: 2 },
    ],
    [
      [
        [1, 2],
        [3, 4],
      ],
      "([None].False#2 ([1].False#1 [2].True#1) ([3].False#1 [4].True#1))",
      { 1: 1, 2: 1, 3: 1, 4: 1 },
    ],
  ];

  it.each(graphs)("%j: graph and token counts", (constraints, graph, counts) => {
    const root = ConstraintNode.create(constraints);
    expect(ConstraintNode.printGraph(root)).toBe(graph);
    expect(Object.fromEntries(root.tokenCounts())).toEqual(Object.fromEntries(Object.entries(counts).map(([k, v]) => [Number(k), v])));
  });

  it.each(graphs)("%j: next tokens are the root's children plus the current node's", (constraints) => {
    const root = ConstraintNode.create(constraints);
    const rootTokens = [...root.children.keys()];
    for (const sequence of constraints) {
      let state = new UnorderedConstraintState(root);
      for (const token of sequence) {
        const all = new Set([...rootTokens, ...state.node.children.keys()]);
        expect(state.nextTokens()).toEqual(all);
        state = state.advance(token);
      }
    }
  });

  it("refuses an empty constraint (fairseq asserts)", () => {
    expect(() => ConstraintNode.create([[1], []])).toThrow(/constraint 2 is empty/);
    expect(() => OrderedConstraintState.create([[]])).toThrow(/constraint 1 is empty/);
  });
});

type Expected = { bank: number; numCompleted: number; finished: boolean; isRoot: boolean };
const stateOf = (s: ConstraintState): Expected => ({ bank: s.bank, numCompleted: s.numCompleted, finished: s.finished, isRoot: s.isRoot });
const run = (kind: "ordered" | "unordered", constraints: number[][], tokens: number[]) => {
  // through the packed form, as fairseq's tests and interactive do
  let s = createConstraintState(kind, unpackConstraints(packConstraints([constraints])[0]!));
  for (const t of tokens) s = s.advance(t);
  return stateOf(s);
};
const e = (bank: number, numCompleted: number, finished: boolean, isRoot: boolean): Expected => ({ bank, numCompleted, finished, isRoot });

describe("UnorderedConstraintState (fairseq's test_sequences)", () => {
  const cases: [number[][], number[], Expected][] = [
    [SIX, [], e(0, 0, false, true)],
    [SIX, [1, 2], e(2, 0, false, false)],
    [SIX, [1, 2, 94], e(1, 1, false, true)],
    [SIX, [1, 3, 999, 1, 4], e(4, 2, false, false)],
    [SIX, [1, 3, 999, 1, 4, 999], e(4, 2, false, true)],
    [SIX, [4, 5, 6, 8], e(2, 1, false, true)],
    // goes down the [1 -> 4] branch in the last three, and must not miss [1] and [4 -> 5]
    [SIX, [1, 2, 3, 1, 3, 1, 4, 4, 5, 6, 7, 1, 4, 5], e(14, 6, true, false)],
    [SIX, [1, 2, 3, 999, 1, 3, 1, 4, 4, 5, 6, 7, 1, 4, 5, 117], e(14, 6, true, true)],
    // no credit for entering 1 a second time
    [[[1], [2, 3]], [1, 1], e(1, 1, false, true)],
    [
      [
        [1, 2],
        [1, 2],
      ],
      [1, 2, 1, 2],
      e(4, 2, true, false),
    ],
    [
      [
        [1, 2],
        [1, 2],
      ],
      [1, 2, 1, 2, 1],
      e(4, 2, true, true),
    ],
    [
      [
        [1, 2],
        [3, 4],
      ],
      [1, 2, 3, 4, 5],
      e(4, 2, true, true),
    ],
  ];
  it.each(cases)("%j after %j", (constraints, tokens, expected) => {
    expect(run("unordered", constraints, tokens)).toEqual(expected);
  });
});

describe("OrderedConstraintState (fairseq's test_sequences)", () => {
  const cases: [number[][], number[], Expected][] = [
    [SIX, [], e(0, 0, false, true)],
    [SIX, [1, 2], e(2, 0, false, false)],
    [SIX, [1, 2, 94], e(0, 0, false, true)],
    [SIX, [1, 3, 999, 1, 4], e(0, 0, false, true)],
    [SIX, [1, 2, 3, 999, 999], e(3, 1, false, false)],
    [SIX, [1, 2, 3, 77, 1, 3, 1], e(6, 2, false, false)],
    [SIX, [1, 2, 3, 1, 3, 1, 4, 4, 5, 6, 7, 1, 4, 5], e(14, 6, true, false)],
    [SIX, [1, 2, 999, 1, 2, 3, 999, 1, 3, 1, 4, 4, 5, 6, 7, 1, 4, 5, 117], e(14, 6, true, false)],
    [[[1], [2, 3]], [1, 1], e(1, 1, false, false)],
    [
      [
        [1, 2],
        [1, 2],
      ],
      [1, 2, 1, 2],
      e(4, 2, true, false),
    ],
    [
      [
        [1, 2],
        [1, 2],
      ],
      [1, 2, 1, 2, 1],
      e(4, 2, true, false),
    ],
    [
      [
        [1, 2],
        [3, 4],
      ],
      [1, 2, 3, 4, 5],
      e(4, 2, true, false),
    ],
  ];
  it.each(cases)("%j after %j", (constraints, tokens, expected) => {
    expect(run("ordered", constraints, tokens)).toEqual(expected);
  });

  it("next tokens: the sequence's next token, and its first once past it (fairseq: state > 0)", () => {
    let s = OrderedConstraintState.create([[5, 6], [7]]);
    expect(s.nextTokens()).toEqual(new Set([5]));
    s = s.advance(5); // state 0: fairseq does not offer the first token again yet
    expect(s.nextTokens()).toEqual(new Set([6]));
    s = s.advance(6);
    expect(s.nextTokens()).toEqual(new Set([5, 7]));
    s = s.advance(9); // between constraints: anything goes
    expect([s.state, s.bank]).toEqual([1, 2]);
    s = s.advance(7);
    expect([s.finished, s.nextTokens()]).toEqual([true, new Set([5])]);
    // inside a constraint, a wrong token falls back to the very start (fairseq rewinds past met constraints)
    let t = OrderedConstraintState.create([[5], [6, 7]])
      .advance(5)
      .advance(6)
      .advance(9);
    expect([t.state, t.numCompleted]).toEqual([-1, 0]);
    t = OrderedConstraintState.create([[5], [6, 7]])
      .advance(5)
      .advance(6)
      .advance(5);
    expect([t.state, t.numCompleted]).toEqual([0, 1]);
  });

  it("no constraints: finished from the start, for both kinds", () => {
    for (const kind of ["ordered", "unordered"] as const) {
      const s = createConstraintState(kind, []);
      expect([s.finished, s.bank, [...s.nextTokens()], s.advance(4).finished]).toEqual([true, 0, [], true]);
    }
  });
});
