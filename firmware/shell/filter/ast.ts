// The filter AST: what parseFilter returns and what evaluateFilter and compileFilter read.
//
// Every term is already resolved to the key's vocabulary (address words and prefix lengths,
// port ranges with their protocols, which vlan tag a `vlan` term means), so the two readers
// need no knowledge of the syntax. `position`/`token` locate the node in the expression
// (for a chain of `and`/`or`, each operator's) so later stages can report errors there too.

/** A place in the expression: the offset and text of one token. */
export interface SourceToken {
  readonly position: number;
  readonly token: string;
}

/** Which addresses or ports of the packet a term looks at. */
export type Side = 'src' | 'dst' | 'src or dst' | 'src and dst';

/** Every operand must hold. `operators[i]` is the operator between operands i and i+1. */
export interface AndNode extends SourceToken {
  readonly kind: 'and';
  readonly operands: readonly FilterAst[];
  readonly operators: readonly SourceToken[];
}

/** At least one operand must hold. */
export interface OrNode extends SourceToken {
  readonly kind: 'or';
  readonly operands: readonly FilterAst[];
  readonly operators: readonly SourceToken[];
}

export interface NotNode extends SourceToken {
  readonly kind: 'not';
  readonly operand: FilterAst;
}

/**
 * `host`/`net`: the packet's family is `family` and its address on `side` lies in the prefix.
 * `words` has 1 (IPv4) or 4 (IPv6) big-endian words; a host has the full prefix length.
 */
export interface AddressTerm extends SourceToken {
  readonly kind: 'address';
  readonly family: 4 | 6;
  readonly words: readonly number[];
  readonly prefixLength: number;
  readonly side: Side;
}

/** `port`/`portrange`: the protocol is one of `protocols` and the port on `side` is in [lo, hi]. */
export interface PortTerm extends SourceToken {
  readonly kind: 'port';
  readonly protocols: readonly number[];
  readonly lo: number;
  readonly hi: number;
  readonly side: Side;
}

/** `tcp`, `icmp`, `proto N`, `ip6 proto N`: the protocol, on one family or (null) either. */
export interface ProtocolTerm extends SourceToken {
  readonly kind: 'protocol';
  readonly family: 4 | 6 | null;
  readonly protocol: number;
}

/** `ip`, `ip6`. */
export interface FamilyTerm extends SourceToken {
  readonly kind: 'family';
  readonly family: 4 | 6;
}

/** `vlan [N]` resolved to the tag it means: any tag at that level (id null) or exactly `id`. */
export interface VlanTerm extends SourceToken {
  readonly kind: 'vlan';
  readonly tag: 'outer' | 'inner';
  readonly id: number | null;
}

/** `inbound`, `outbound`. */
export interface DirectionTerm extends SourceToken {
  readonly kind: 'direction';
  readonly direction: 'inbound' | 'outbound';
}

/** `inport N`, `outport N`: the router port the packet entered by or leaves by. */
export interface RouterPortTerm extends SourceToken {
  readonly kind: 'routerPort';
  readonly which: 'in' | 'out';
  readonly index: number;
}

/**
 * `wccp-bucket N[-M]`, `wccp-mask0 N[-M]`, `wccp-mask1 N[-M]`: the packet's WCCP hash bucket, or
 * its fields under the running tables' first or second mask element (how redirect sessions own
 * a cache's share of a service group).
 */
export interface AssignmentTerm extends SourceToken {
  readonly kind: 'assignment';
  readonly field: 'bucket' | 'mask0' | 'mask1';
  readonly lo: number;
  readonly hi: number;
}

export type FilterTerm = AddressTerm | PortTerm | ProtocolTerm | FamilyTerm | VlanTerm | DirectionTerm | RouterPortTerm | AssignmentTerm;

/** A parsed filter expression. */
export type FilterAst = AndNode | OrNode | NotNode | FilterTerm;
