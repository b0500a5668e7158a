/**
 * Lexical constraints for beam search, as fairseq v0.10.2's `token_generation_constraints.py`: each
 * hypothesis carries a constraint state that records which constraint tokens it has produced; the
 * constrained search (`constrainedStep` in search.ts) groups candidates into banks by that count.
 *
 * - Unordered: the constraints form a trie (`ConstraintNode`); a hypothesis may meet them in any order.
 * - Ordered: the constraints are one concatenated sequence (`ConstraintSequence`) met in the given order,
 *   with any tokens between two constraints (but not inside one).
 *
 * States are immutable: `advance(token)` returns a new state, so the beam entries of a sentence can share one.
 */

/** A constraint: one or more target token ids, all of which must appear, contiguous, in every hypothesis. */
export type Constraint = ArrayLike<number>;

/** What the constrained search needs of a hypothesis' constraint state. */
export interface ConstraintState {
  /** How many constraint tokens the hypothesis has produced so far (its bank). */
  readonly bank: number;
  /** Every constraint has been met: the hypothesis may end. */
  readonly finished: boolean;
  /** How many constraints (not tokens) are met. */
  readonly numCompleted: number;
  /** At the start (no constraint in progress). */
  readonly isRoot: boolean;
  /** The distinct tokens of all constraints (fairseq's `state.tokens`, a set). */
  readonly tokens: ReadonlySet<number>;
  /** The tokens that would make progress: the constraint search adds them to the candidates. */
  nextTokens(): Set<number>;
  advance(token: number): ConstraintState;
}

/**
 * fairseq's `pack_constraints`: one row per sentence, its number of constraints, then each constraint
 * followed by a 0; rows padded with 0 to the longest (at least 1 column).
 */
export function packConstraints(batch: readonly (readonly Constraint[])[]): number[][] {
  let width = 1;
  for (const cs of batch) if (cs.length) width = Math.max(width, 1 + cs.reduce((n, c) => n + c.length, 0) + cs.length);
  return batch.map((cs) => {
    const row = new Array<number>(width).fill(0);
    row[0] = cs.length;
    let offset = 1;
    for (const c of cs) {
      for (let i = 0; i < c.length; i++) row[offset + i] = c[i]!;
      offset += c.length + 1;
    }
    return row;
  });
}

/** fairseq's `unpack_constraints`: one packed row back to its constraints (each ends at the next 0). */
export function unpackConstraints(row: ArrayLike<number>): number[][] {
  const list = Array.from(row);
  const out: number[][] = [];
  let offset = 1;
  for (let i = 0; i < list[0]!; i++) {
    const where = list.indexOf(0, offset);
    if (where < 0) throw new Error(`unpackConstraints: constraint ${i + 1} of ${list[0]} has no terminating 0 (row ${JSON.stringify(list)})`);
    out.push(list.slice(offset, where));
    offset = where + 1;
  }
  return out;
}

/** Every constraint must have a token (fairseq asserts it when building the trie). */
function checkConstraints(constraints: readonly Constraint[]): void {
  constraints.forEach((c, i) => {
    if (c.length === 0) throw new Error(`constraint ${i + 1} is empty (every constraint needs at least one token)`);
  });
}

/** A node of the unordered constraints' trie (fairseq's `ConstraintNode`). */
export class ConstraintNode {
  /** Constraints that end here (a constraint may be given more than once). */
  terminal = 0;
  readonly children = new Map<number, ConstraintNode>();
  /** Constraints that end here or below. */
  numConstraints = 0;

  constructor(
    /** null at the root. */
    readonly token: number | null = null,
    readonly parent: ConstraintNode | null = null,
  ) {}

  get id(): number | null {
    return this.token;
  }

  /** fairseq's `__str__`: `[token].terminal#num_constraints`, with Python's None/True/False. */
  toString(): string {
    return `[${this.token ?? "None"}].${this.terminal !== 0 ? "True" : "False"}#${this.numConstraints}`;
  }

  child(token: number): ConstraintNode | undefined {
    return this.children.get(token);
  }

  nextTokens(): Set<number> {
    return new Set(this.children.keys());
  }

  static create(constraints: readonly Constraint[]): ConstraintNode {
    checkConstraints(constraints);
    const root = new ConstraintNode();
    for (const c of constraints) root.addSequence(Array.from(c));
    return root;
  }

  /** fairseq's `print_graph`: `(node child child ...)`, leaves bare, children in insertion order. */
  static printGraph(node: ConstraintNode): string {
    if (node.children.size === 0) return node.toString();
    return `(${node.toString()}${[...node.children.values()].map((c) => ` ${ConstraintNode.printGraph(c)}`).join("")})`;
  }

  /** How many constraints pass through each token (a token in several places counts each). */
  tokenCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    const kids = [...this.children.values()];
    while (kids.length > 0) {
      const kid = kids.pop()!;
      counts.set(kid.token!, (counts.get(kid.token!) ?? 0) + kid.numConstraints);
      kids.push(...kid.children.values());
    }
    return counts;
  }

  tokens(): Set<number> {
    return new Set(this.tokenCounts().keys());
  }

  addSequence(sequence: readonly number[]): void {
    if (sequence.length === 0) throw new Error("ConstraintNode.addSequence: empty constraint");
    const token = sequence[0]!;
    let node = this.children.get(token);
    if (!node) {
      node = new ConstraintNode(token, this);
      this.children.set(token, node);
    }
    if (sequence.length === 1) {
      node.terminal += 1;
      node.numConstraints += 1;
      for (let p = node.parent; p !== null; p = p.parent) p.numConstraints += 1;
    } else {
      node.addSequence(sequence.slice(1));
    }
  }
}

const get = (m: ReadonlyMap<ConstraintNode, number>, n: ConstraintNode) => m.get(n) ?? 0;
const sum = (m: ReadonlyMap<unknown, number>) => {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
};

/**
 * fairseq's `UnorderedConstraintState`: the hypothesis' place in the trie, how often it has passed through
 * each node (`generated`) and which constraints it has completed. Leaving the trie mid-way rewinds: a
 * constraint ending on the abandoned path is completed, or its `generated` counts are given back.
 */
export class UnorderedConstraintState implements ConstraintState {
  readonly root: ConstraintNode;
  readonly completed: Map<ConstraintNode, number>;
  readonly generated: Map<ConstraintNode, number>;

  constructor(
    readonly node: ConstraintNode,
    copyFrom?: UnorderedConstraintState,
  ) {
    if (copyFrom === undefined) {
      this.root = node;
      this.completed = new Map();
      this.generated = new Map();
    } else {
      this.completed = new Map(copyFrom.completed);
      this.generated = new Map(copyFrom.generated);
      this.root = copyFrom.root;
    }
    if (node !== this.root) this.generated.set(node, get(this.generated, node) + 1);
  }

  static create(constraints: readonly Constraint[]): UnorderedConstraintState {
    return new UnorderedConstraintState(ConstraintNode.create(constraints));
  }

  get name(): string {
    return this.node.id === null ? "ROOT" : String(this.node.id);
  }

  toString(): string {
    return `${this.name}/${this.bank}(${[...this.generated.keys()].map(String).join(",")})x${this.numCompleted}`;
  }

  get isRoot(): boolean {
    return this.node === this.root;
  }

  get bank(): number {
    return sum(this.generated);
  }

  /** Completed constraints, counting the current node if a constraint ends there and is not yet credited. */
  get numCompleted(): number {
    const inFinal = this.node.terminal !== 0 && get(this.completed, this.node) < this.node.terminal ? 1 : 0;
    return sum(this.completed) + inFinal;
  }

  get finished(): boolean {
    return this.root.numConstraints - this.numCompleted === 0;
  }

  get tokens(): Set<number> {
    return this.root.tokens();
  }

  get numConstraintTokens(): number {
    return sum(this.root.tokenCounts());
  }

  /** The root's children and, off the root, the current node's. */
  nextTokens(): Set<number> {
    const out = this.root.nextTokens();
    if (this.node !== this.root) for (const t of this.node.children.keys()) out.add(t);
    return out;
  }

  advance(token: number): UnorderedConstraintState {
    let next: UnorderedConstraintState | null = null;
    const child = this.node.child(token);
    if (child !== undefined && get(this.generated, child) < child.numConstraints) next = new UnorderedConstraintState(child, this);
    // off the graph mid-trie: credit the deepest constraint ending on the path, else give the path's counts back
    const rewind = (into: UnorderedConstraintState) => {
      for (let node = this.node; node !== this.root; node = node.parent!) {
        if (node.terminal && get(this.completed, node) < node.terminal) {
          into.completed.set(node, get(into.completed, node) + 1);
          return;
        }
        into.generated.set(node, get(into.generated, node) - 1);
      }
    };
    if (next === null && this.root.children.has(token)) {
      const fromRoot = this.root.child(token)!;
      // an edge is only traversed while it is not saturated
      next =
        get(this.generated, fromRoot) < fromRoot.numConstraints ? new UnorderedConstraintState(fromRoot, this) : new UnorderedConstraintState(this.root, this);
      rewind(next);
    } else if (next === null) {
      next = new UnorderedConstraintState(this.root, this);
      rewind(next);
    }
    return next;
  }
}

/** fairseq's `ConstraintSequence`: the ordered constraints concatenated, with the end of each marked. */
export class ConstraintSequence {
  readonly sequence: number[] = [];
  readonly endpoints: boolean[] = [];
  readonly tokens = new Set<number>();
  numTokens = 0;

  constructor(constraints: readonly Constraint[]) {
    checkConstraints(constraints);
    for (const c of constraints) {
      for (let i = 0; i < c.length; i++) {
        this.tokens.add(c[i]!);
        this.sequence.push(c[i]!);
        this.endpoints.push(i === c.length - 1);
      }
      this.numTokens += c.length;
    }
  }

  get length(): number {
    return this.sequence.length;
  }

  /** Python indexing (a negative index counts from the end), as fairseq's `self.sequence[i]`. */
  at(i: number): number {
    return this.sequence.at(i)!;
  }

  endpointAt(i: number): boolean {
    return this.endpoints.at(i)!;
  }
}

/**
 * fairseq's `OrderedConstraintState`: the index of the last constraint token produced (-1: none). A wrong
 * token inside a constraint restarts from the first constraint (from its first token if it is that token).
 */
export class OrderedConstraintState implements ConstraintState {
  constructor(
    readonly sequence: ConstraintSequence,
    readonly state = -1,
  ) {}

  static create(constraints: readonly Constraint[]): OrderedConstraintState {
    return new OrderedConstraintState(new ConstraintSequence(constraints), -1);
  }

  toString(): string {
    return `${this.state}/${this.bank}x${this.numCompleted}`;
  }

  get numCompleted(): number {
    if (this.state === -1) return 0;
    return this.sequence.endpoints.slice(0, this.state + 1).filter((x) => x).length;
  }

  get isRoot(): boolean {
    return this.state === -1;
  }

  get name(): string {
    return this.state === -1 ? "ROOT" : String(this.sequence.at(this.state));
  }

  get bank(): number {
    return this.state + 1;
  }

  get finished(): boolean {
    return this.state + 1 === this.sequence.length;
  }

  get tokens(): Set<number> {
    return this.sequence.tokens;
  }

  /** The next token of the sequence and, once past the first token (fairseq: state > 0), the first. */
  nextTokens(): Set<number> {
    const out = new Set<number>();
    if (this.state > 0) out.add(this.sequence.at(0));
    if (!this.finished) out.add(this.sequence.at(this.state + 1));
    return out;
  }

  advance(token: number): OrderedConstraintState {
    if (this.finished) return new OrderedConstraintState(this.sequence, this.state); // accept anything
    if (this.sequence.at(this.state + 1) === token) return new OrderedConstraintState(this.sequence, this.state + 1);
    // between constraints anything goes (at -1 this reads endpoints[-1], the last one, always an end: fairseq's Python indexing)
    if (this.sequence.endpointAt(this.state)) return new OrderedConstraintState(this.sequence, this.state);
    if (token === this.sequence.at(0)) return new OrderedConstraintState(this.sequence, 0);
    return new OrderedConstraintState(this.sequence, -1);
  }
}

/** `--constraints ordered|unordered`: the initial state of a sentence with these constraints (none: finished at once). */
export function createConstraintState(kind: "ordered" | "unordered", constraints: readonly Constraint[]): ConstraintState {
  return kind === "ordered" ? OrderedConstraintState.create(constraints) : UnorderedConstraintState.create(constraints);
}
