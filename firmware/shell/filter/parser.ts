// Parser: tokens → FilterAst, resolving everything the syntax leaves implicit.
//
// Contract: the expression is untrusted. Every problem is a FilterError pointing at one token;
// nothing else is thrown. Work is linear in the number of tokens and recursion is bounded by
// MAX_NESTING_DEPTH (parentheses and negations), so a hostile expression cannot exhaust the
// stack.
//
// Grammar (tcpdump's, restricted; see README.md in this folder):
//   expression := sequence
//   sequence   := unary { ('and' | '&&') unary }  |  unary { ('or' | '||') unary }
//   unary      := ('not' | '!') unary  |  '(' sequence ')'  |  term
// Mixing `and` and `or` at one level without parentheses is an error: tcpdump gives them equal
// precedence (left to right), most readers expect `and` to bind tighter, and a filter that
// silently means something else replicates the wrong traffic.
//
// Resolved here, so the AST readers need not know the syntax:
// - implied qualifiers: a bare value repeats the qualifiers of the most recent host, net, port
//   or portrange term (`port 80 or 443`, `host 10.0.0.1 or 10.0.0.2`), as in tcpdump;
// - vlan tags: along one conjunction, the first vlan term means the outer tag and the second
//   the inner tag; `not` does not change the count, the alternatives of an `or` each continue
//   from the count before it, and a vlan term after alternatives with different counts is an
//   error (ambiguous), as is a third tag.

import { LaneValue } from '../../../wasm/abi.ts';
import type { FilterAst, FilterTerm, Side, SourceToken } from './ast.ts';
import { hasHostBits, netmaskLength, parseDottedIpv4, parseIpv4, parseIpv6 } from './address.ts';
import { FilterError, FilterMessage } from './errors.ts';
import { UNSUPPORTED_KEYWORDS, unsupportedSymbolReason } from './keywords.ts';
import { tokenize, type Token } from './lexer.ts';
import { PORT_PROTOCOLS, PROTOCOL_NUMBERS } from './protocols.ts';
import { SERVICE_PORTS } from './services.ts';

/** Deepest nesting of parentheses and negations accepted. */
export const MAX_NESTING_DEPTH = 100;

const VLAN_ID_MAX = LaneValue.VlanNone - 1;
const ROUTER_PORT_MAX = LaneValue.PortIndexNone - 1; // PortIndexNone marks "no egress"
const WCCP_BUCKET_MAX = 255; // 256 hash buckets (draft-wilson §5.8)
const PORT_MAX = 65535;
const PROTOCOL_MAX = 255;
const ALL_PORT_PROTOCOLS: readonly number[] = [PORT_PROTOCOLS.tcp, PORT_PROTOCOLS.udp, PORT_PROTOCOLS.sctp];
const NUMBER = /^(0x[0-9A-Fa-f]+|[0-9]+)$/;
const PREFIX_LENGTH = /^(0|[1-9][0-9]{0,2})$/;
const DOTTED_OR_CIDR = /^[0-9.]+(\/[0-9]*)?$/;

/** How many vlan tags the terms before this point name on the current conjunction. */
type TagDepth = 0 | 1 | 2 | 'mixed';

/** `host`/`net`/`port`/`portrange`, or `address` when only a direction (or nothing) was given. */
type ValueType = 'host' | 'net' | 'address' | 'port' | 'portrange';

/** The qualifiers in force for a value, kept for the bare values that follow it. */
interface Qualifiers {
  readonly type: ValueType;
  readonly side: Side;
  readonly family: 4 | 6 | null; // from `ip`/`ip6`
  readonly familyWord: string; // the qualifier as written, for messages
  readonly protocols: readonly number[] | null; // from `tcp`/`udp`/`sctp`
}

interface Parsed {
  readonly node: FilterAst;
  readonly depth: TagDepth;
}

/** Parses a filter expression into its AST; throws FilterError (with position) on any problem. */
export function parseFilter(expression: string): FilterAst {
  return new Parser(expression, tokenize(expression)).parseExpression();
}

const at = (t: Token): SourceToken => ({ position: t.position, token: t.text });
const wordValue = (t: Token): string => (t.escaped ? t.text.slice(1) : t.text);
/** `t` when it is one of the keywords `words` (unescaped), else undefined. */
const keywordIn = (t: Token | undefined, ...words: string[]): Token | undefined =>
  t !== undefined && t.kind === 'word' && !t.escaped && words.includes(t.text) ? t : undefined;

class Parser {
  private index = 0;
  private nesting = 0;
  private implied: Qualifiers | null = null;

  constructor(
    private readonly expression: string,
    private readonly tokens: readonly Token[],
  ) {}

  parseExpression(): FilterAst {
    if (this.tokens.length === 0) throw new FilterError(FilterMessage.empty, this.expression, 0, '');
    const { node } = this.parseSequence(0);
    const rest = this.peek();
    if (rest !== undefined) {
      throw rest.kind === 'rparen' ? this.error(FilterMessage.unopenedParen, rest) : this.unexpectedAfterTerm(rest);
    }
    return node;
  }

  // ── structure ────────────────────────────────────────────────────────────────────────────

  private parseSequence(depthBefore: TagDepth): Parsed {
    const first = this.parseUnary(depthBefore);
    const operands: FilterAst[] = [first.node];
    const operators: SourceToken[] = [];
    let kind: 'and' | 'or' | null = null;
    let depth = first.depth;
    for (let op = this.peek(); op !== undefined && (op.kind === 'and' || op.kind === 'or'); op = this.peek()) {
      if (kind !== null && op.kind !== kind) throw this.error(FilterMessage.mixedAndOr, op);
      kind = op.kind;
      this.index++;
      // An alternative starts from the tags named before the `or`; a conjunct continues.
      const next = this.parseUnary(kind === 'and' ? depth : depthBefore);
      depth = kind === 'and' ? next.depth : next.depth === depth ? depth : 'mixed';
      operands.push(next.node);
      operators.push(at(op));
    }
    if (kind === null) return first;
    return { node: { kind, operands, operators, ...operators[0] }, depth };
  }

  private parseUnary(depth: TagDepth): Parsed {
    const t = this.expectTermStart();
    if (t.kind === 'not' || t.kind === 'lparen') {
      if (++this.nesting > MAX_NESTING_DEPTH) throw this.error(FilterMessage.tooDeep(MAX_NESTING_DEPTH), t);
      this.index++;
      let parsed: Parsed;
      if (t.kind === 'not') {
        const inner = this.parseUnary(depth);
        parsed = { node: { kind: 'not', operand: inner.node, ...at(t) }, depth: inner.depth };
      } else {
        parsed = this.parseSequence(depth);
        const close = this.peek();
        if (close === undefined) throw this.error(FilterMessage.unclosedParen, t);
        if (close.kind !== 'rparen') throw this.unexpectedAfterTerm(close);
        this.index++;
      }
      this.nesting--;
      return parsed;
    }
    if (t.kind === 'symbol') throw this.error(FilterMessage.unsupported(unsupportedSymbolReason(t.text)), t);
    return this.parseTerm(t, depth);
  }

  /** The token that must start a term; reports a dangling operator or parenthesis otherwise. */
  private expectTermStart(): Token {
    const t = this.peek();
    if (t !== undefined && t.kind !== 'rparen' && t.kind !== 'and' && t.kind !== 'or') return t;
    const previous = this.tokens[this.index - 1];
    if (previous !== undefined && (previous.kind === 'and' || previous.kind === 'or' || previous.kind === 'not')) {
      throw this.error(FilterMessage.danglingOperator(previous.text), previous);
    }
    if (t === undefined) throw this.error(FilterMessage.unclosedParen, previous);
    if (t.kind !== 'rparen') throw this.error(FilterMessage.danglingOperator(t.text), t);
    throw this.error(FilterMessage.expectedTerm, t);
  }

  private unexpectedAfterTerm(t: Token): FilterError {
    if (t.kind === 'symbol') return this.error(FilterMessage.unsupported(unsupportedSymbolReason(t.text)), t);
    return this.error(FilterMessage.missingOperator, t);
  }

  // ── terms ────────────────────────────────────────────────────────────────────────────────

  private parseTerm(t: Token, depth: TagDepth): Parsed {
    const term = (node: FilterTerm): Parsed => ({ node, depth });
    if (t.escaped) return term(this.parseBareValue(t));
    switch (t.text) {
      case 'vlan':
        return this.parseVlan(t, depth);
      case 'inbound':
      case 'outbound':
        this.index++;
        return term({ kind: 'direction', direction: t.text, ...at(t) });
      case 'inport':
      case 'outport': {
        this.index++;
        const index = this.parseNumber(this.expectValue(t), 'router port index', 0, ROUTER_PORT_MAX);
        return term({ kind: 'routerPort', which: t.text === 'inport' ? 'in' : 'out', index, ...at(t) });
      }
      case 'wccp-bucket':
      case 'wccp-mask0':
      case 'wccp-mask1': {
        this.index++;
        const field = t.text === 'wccp-bucket' ? 'bucket' : t.text === 'wccp-mask0' ? 'mask0' : 'mask1';
        const max = field === 'bucket' ? WCCP_BUCKET_MAX : LaneValue.MaskValueMax;
        const [lo, hi] = this.parseNumberRange(this.expectValue(t), field === 'bucket' ? 'WCCP bucket' : 'WCCP mask value', max);
        return term({ kind: 'assignment', field, lo, hi, ...at(t) });
      }
      case 'ip':
      case 'ip6':
        return term(this.parseFamilyQualified(t, t.text === 'ip' ? 4 : 6));
      case 'tcp':
      case 'udp':
      case 'sctp':
        return term(this.parseProtocolQualified(t, PORT_PROTOCOLS[t.text]));
      case 'icmp':
      case 'icmp6':
        this.index++;
        this.rejectByteOffset();
        return term(t.text === 'icmp'
          ? { kind: 'protocol', family: 4, protocol: 1, ...at(t) }
          : { kind: 'protocol', family: 6, protocol: 58, ...at(t) });
      case 'proto':
        this.index++;
        return term({ kind: 'protocol', family: null, protocol: this.parseProtocolValue(t), ...at(t) });
      case 'host':
      case 'net':
      case 'port':
      case 'portrange':
      case 'src':
      case 'dst':
        return term(this.parseQualifiedValue(t, null, '', null, ''));
    }
    const unsupported = UNSUPPORTED_KEYWORDS.get(t.text);
    if (unsupported !== undefined) throw this.error(FilterMessage.unsupported(unsupported), t);
    return term(this.parseBareValue(t));
  }

  private parseVlan(t: Token, depth: TagDepth): Parsed {
    this.index++;
    const value = this.peek();
    const id = value !== undefined && value.kind === 'word' && /^[0-9]/.test(value.text)
      ? this.parseNumber(this.next(), 'vlan id', 0, VLAN_ID_MAX)
      : null;
    if (depth === 'mixed') throw this.error(FilterMessage.ambiguousVlan, t);
    if (depth === 2) throw this.error(FilterMessage.tooManyVlans, t);
    return {
      node: { kind: 'vlan', tag: depth === 0 ? 'outer' : 'inner', id, ...at(t) },
      depth: depth === 0 ? 1 : 2,
    };
  }

  /** `ip`, `ip6`, `ip proto N`, `ip6 host X`, `ip src net X`, ... */
  private parseFamilyQualified(t: Token, family: 4 | 6): FilterTerm {
    this.index++;
    this.rejectByteOffset();
    const n = this.peek();
    const proto = keywordIn(n, 'proto');
    if (proto !== undefined) {
      this.index++;
      return { kind: 'protocol', family, protocol: this.parseProtocolValue(proto), ...at(t) };
    }
    if (keywordIn(n, 'host', 'net', 'src', 'dst', 'port', 'portrange') !== undefined) {
      return this.parseQualifiedValue(t, family, t.text, null, '');
    }
    if (n !== undefined && n.kind === 'word' && !n.escaped && UNSUPPORTED_KEYWORDS.has(n.text)) {
      throw this.error(FilterMessage.unsupported(UNSUPPORTED_KEYWORDS.get(n.text) ?? n.text), n);
    }
    return { kind: 'family', family, ...at(t) };
  }

  /** `tcp`, `tcp port 80`, `udp src portrange 1-1024`, ... */
  private parseProtocolQualified(t: Token, protocol: number): FilterTerm {
    this.index++;
    this.rejectByteOffset();
    if (keywordIn(this.peek(), 'host', 'net', 'src', 'dst', 'port', 'portrange') !== undefined) {
      return this.parseQualifiedValue(t, null, '', [protocol], t.text);
    }
    return { kind: 'protocol', family: null, protocol, ...at(t) };
  }

  /**
   * `[src|dst|src or dst|src and dst] [host|net|port|portrange] value`, after an optional
   * family or protocol qualifier (already consumed; `start` is the term's first token).
   */
  private parseQualifiedValue(
    start: Token,
    family: 4 | 6 | null,
    familyWord: string,
    protocols: readonly number[] | null,
    protocolWord: string,
  ): FilterTerm {
    let side: Side = 'src or dst';
    let keyword = start;
    const sideToken = keywordIn(this.peek(), 'src', 'dst');
    if (sideToken !== undefined) {
      this.index++;
      side = this.parseSide(sideToken);
      keyword = this.tokens[this.index - 1];
    }
    let type: ValueType = 'address';
    const next = this.peek();
    const typeToken = keywordIn(next, 'host', 'net', 'port', 'portrange');
    if (typeToken !== undefined) {
      this.index++;
      type = typeToken.text as ValueType;
      keyword = typeToken;
      if ((type === 'host' || type === 'net') && protocols !== null) {
        throw this.error(FilterMessage.qualifierMisuse(protocolWord, 'an address'), typeToken);
      }
      if ((type === 'port' || type === 'portrange') && family !== null) {
        throw this.error(FilterMessage.qualifierMisuse(familyWord, `'${type}' (write '${familyWord} and ${type} ...')`), typeToken);
      }
    } else if (protocols !== null) {
      throw this.error(FilterMessage.expectedPortKeyword(keyword.text), next ?? keyword);
    }
    return this.parseValue({ type, side, family, familyWord, protocols }, start, keyword);
  }

  /** After `src` or `dst`: the optional `or dst` / `and dst` (or `src`) that widens it. */
  private parseSide(first: Token): Side {
    const op = this.peek();
    const other = this.tokens[this.index + 1];
    if (op !== undefined && (op.kind === 'or' || op.kind === 'and') && keywordIn(other, first.text === 'src' ? 'dst' : 'src') !== undefined) {
      this.index += 2;
      return op.kind === 'or' ? 'src or dst' : 'src and dst';
    }
    return first.text as Side;
  }

  /** A value with no keyword before it: repeats the last qualifiers, or is an address. */
  private parseBareValue(t: Token): FilterTerm {
    if (this.implied !== null) return this.parseValue(this.implied, t, t);
    if (!t.escaped && (t.text.includes(':') || (DOTTED_OR_CIDR.test(t.text) && /[./]/.test(t.text)))) {
      return this.parseValue({ type: 'address', side: 'src or dst', family: null, familyWord: '', protocols: null }, t, t);
    }
    if (NUMBER.test(t.text)) throw this.error(FilterMessage.bareValueWithoutQualifier, t);
    throw this.error(FilterMessage.unknownWord, t);
  }

  // ── values ───────────────────────────────────────────────────────────────────────────────

  /** Reads the value for `q` (the next token) and builds the term that starts at `start`. */
  private parseValue(q: Qualifiers, start: Token, keyword: Token): FilterTerm {
    const value = this.expectValue(keyword);
    this.implied = q;
    const where = at(start);
    if (q.type === 'port' || q.type === 'portrange') {
      const [lo, hi] = q.type === 'port' ? this.parsePort(value) : this.parsePortRange(value);
      return { kind: 'port', protocols: q.protocols ?? ALL_PORT_PROTOCOLS, lo, hi, side: q.side, ...where };
    }
    const address = this.parseAddress(value, q);
    const mask = keywordIn(this.peek(), 'mask');
    if (mask !== undefined) {
      if (q.type === 'host') throw this.error(FilterMessage.hostWithPrefix, mask);
      if (address.family === 6) throw this.error(FilterMessage.maskOnIpv6, mask);
      if (address.explicitLength) throw this.error(FilterMessage.missingOperator, mask);
      this.index++;
      const maskToken = this.expectValue(mask);
      const maskWord = parseIpv4(maskToken.text);
      const prefixLength = maskWord === null ? null : netmaskLength(maskWord);
      if (prefixLength === null) throw this.error(FilterMessage.badMask, maskToken);
      if (hasHostBits(address.words, prefixLength)) throw this.error(FilterMessage.hostBitsSet, value);
      return { kind: 'address', family: 4, words: address.words, prefixLength, side: q.side, ...where };
    }
    return { kind: 'address', family: address.family, words: address.words, prefixLength: address.prefixLength, side: q.side, ...where };
  }

  /**
   * An address or prefix: `host` takes a full address; `net` also takes addr/len and
   * tcpdump's partial dotted form (`10.1` = 10.1.0.0/16); with no keyword, a full address is a
   * host and addr/len a network. Host bits set in a network are an error, as in tcpdump.
   */
  private parseAddress(t: Token, q: Qualifiers) {
    const text = t.text;
    const slash = text.indexOf('/');
    const addressText = slash < 0 ? text : text.slice(0, slash);
    const lengthText = slash < 0 ? null : text.slice(slash + 1);
    const isIpv6 = addressText.includes(':');
    if (t.escaped || (!isIpv6 && /[A-Za-z]/.test(addressText))) throw this.error(FilterMessage.hostName, t);
    if (q.type === 'host' && lengthText !== null) throw this.error(FilterMessage.hostWithPrefix, t);
    let family: 4 | 6;
    let words: number[];
    let significantBits: number;
    if (isIpv6) {
      const v6 = parseIpv6(addressText);
      if (v6 === null) throw this.error(FilterMessage.badAddress, t);
      family = 6;
      words = v6;
      significantBits = 128;
    } else {
      const dotted = parseDottedIpv4(addressText);
      if (dotted === null) throw this.error(FilterMessage.badAddress, t);
      if (dotted.bits < 32 && q.type !== 'net') throw this.error(FilterMessage.partialHost, t);
      family = 4;
      words = [dotted.value];
      significantBits = dotted.bits;
    }
    if (q.family !== null && q.family !== family) throw this.error(FilterMessage.familyMismatch(q.familyWord), t);
    const maxLength = family === 4 ? 32 : 128;
    let prefixLength = significantBits;
    if (lengthText !== null) {
      prefixLength = PREFIX_LENGTH.test(lengthText) ? Number(lengthText) : -1;
      if (prefixLength < 0 || prefixLength > maxLength) throw this.error(FilterMessage.badPrefixLength(maxLength), t);
      if (hasHostBits(words, prefixLength)) throw this.error(FilterMessage.hostBitsSet, t);
    }
    return { family, words, prefixLength, explicitLength: lengthText !== null };
  }

  private parsePort(t: Token): [number, number] {
    if (NUMBER.test(t.text)) {
      const port = this.parseNumber(t, 'port', 0, PORT_MAX);
      return [port, port];
    }
    const port = SERVICE_PORTS.get(wordValue(t));
    if (port !== undefined) return [port, port];
    if (this.splitPortRange(wordValue(t)) !== null) throw this.error(FilterMessage.portRangeInPort, t);
    throw this.error(FilterMessage.unknownService, t);
  }

  /** `n` or `a-b` (a reversed range is swapped), each 0..max. */
  private parseNumberRange(t: Token, what: string, max: number): [number, number] {
    const parts = /^([0-9]+)-([0-9]+)$/.exec(t.text);
    if (parts === null) {
      const v = this.parseNumber(t, what, 0, max);
      return [v, v];
    }
    const lo = this.parseNumber({ ...t, text: parts[1] }, what, 0, max);
    const hi = this.parseNumber({ ...t, text: parts[2] }, what, 0, max);
    return lo <= hi ? [lo, hi] : [hi, lo];
  }

  /** `a-b` with numbers or names (`ftp-data-telnet`), or one port; tcpdump swaps a reversed range. */
  private parsePortRange(t: Token): [number, number] {
    const numeric = /^([0-9]+|0x[0-9A-Fa-f]+)-([0-9]+|0x[0-9A-Fa-f]+)$/.exec(t.text);
    let range: [number, number] | null;
    if (numeric !== null) {
      const check = (text: string) => this.parseNumber({ ...t, text }, 'port', 0, PORT_MAX);
      range = [check(numeric[1]), check(numeric[2])];
    } else if (NUMBER.test(t.text) || SERVICE_PORTS.has(wordValue(t))) {
      range = this.parsePort(t);
    } else {
      range = this.splitPortRange(wordValue(t));
    }
    if (range === null) throw this.error(FilterMessage.badPortRange, t);
    return range[0] <= range[1] ? range : [range[1], range[0]];
  }

  /** The one way to split `text` at a '-' into two known ports, or null (none or ambiguous). */
  private splitPortRange(text: string): [number, number] | null {
    const portOf = (s: string): number | null => {
      if (NUMBER.test(s) && !/^0[0-9]/.test(s)) {
        const n = Number(s);
        return n <= PORT_MAX ? n : null;
      }
      return SERVICE_PORTS.get(s) ?? null;
    };
    let found: [number, number] | null = null;
    let count = 0;
    for (let dash = text.indexOf('-'); dash >= 0; dash = text.indexOf('-', dash + 1)) {
      const lo = portOf(text.slice(0, dash));
      const hi = portOf(text.slice(dash + 1));
      if (lo !== null && hi !== null) {
        found = [lo, hi];
        count++;
      }
    }
    return count === 1 ? found : null;
  }

  /** After `proto`: a number or a protocol name (`\tcp`, `gre`). */
  private parseProtocolValue(keyword: Token): number {
    const t = this.expectValue(keyword);
    if (NUMBER.test(t.text)) return this.parseNumber(t, 'protocol number', 0, PROTOCOL_MAX);
    const protocol = PROTOCOL_NUMBERS.get(wordValue(t));
    if (protocol === undefined) throw this.error(FilterMessage.unknownProtocol, t);
    return protocol;
  }

  /** A decimal or 0x-hex number in [lo, hi]; a leading zero is refused (tcpdump reads octal). */
  private parseNumber(t: Token, what: string, lo: number, hi: number): number {
    if (!NUMBER.test(t.text)) throw this.error(FilterMessage.badNumber, t);
    if (/^0[0-9]/.test(t.text)) throw this.error(FilterMessage.leadingZero, t);
    const n = t.text.length > 12 ? Infinity : Number(t.text);
    if (n < lo || n > hi) throw this.error(FilterMessage.outOfRange(what, lo, hi), t);
    return n;
  }

  // ── tokens ───────────────────────────────────────────────────────────────────────────────

  /** The word after `keyword` that is its value; reports a missing one at the keyword. */
  private expectValue(keyword: Token): Token {
    const t = this.peek();
    if (t === undefined || t.kind !== 'word') throw this.error(FilterMessage.missingValue(keyword.text), keyword);
    this.index++;
    return t;
  }

  /** tcpdump's `proto[offset]` byte access, refused right where the bracket is. */
  private rejectByteOffset(): void {
    const t = this.peek();
    if (t !== undefined && t.kind === 'symbol' && t.text === '[') {
      throw this.error(FilterMessage.unsupported(unsupportedSymbolReason('[')), t);
    }
  }

  private peek(): Token | undefined {
    return this.tokens[this.index];
  }

  private next(): Token {
    return this.tokens[this.index++];
  }

  private error(reason: string, t: Token): FilterError {
    return new FilterError(reason, this.expression, t.position, t.text);
  }
}
