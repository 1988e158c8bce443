// Errors of the filter compiler: one class, one place for every message.
//
// Contract: every problem with a filter expression (lexing, parsing, compiling) is reported as
// a FilterError that points at one token of the expression: `.position` is its character
// offset, `.token` its text ('' for the end of the expression), and `.message` names it and
// repeats the expression with a caret line under it. The expression is untrusted and may be
// long, so the message shows at most a bounded window of it around the token.

/** Characters of the expression shown on each side of the offending token in a message. */
const EXCERPT_CONTEXT = 60;

/**
 * A filter expression that cannot be compiled. `position` is the offset of the offending token
 * in the expression (the expression's length when it ended too early), `token` its text.
 */
export class FilterError extends Error {
  override readonly name = 'FilterError';
  readonly position: number;
  readonly token: string;

  constructor(reason: string, expression: string, position: number, token: string) {
    super(formatMessage(reason, expression, position, token));
    this.position = position;
    this.token = token;
  }
}

function formatMessage(reason: string, expression: string, position: number, token: string): string {
  const where = token === '' ? `at end of expression, position ${position}` : `at '${token}', position ${position}`;
  const from = Math.max(0, position - EXCERPT_CONTEXT);
  const to = Math.min(expression.length, position + Math.max(token.length, 1) + EXCERPT_CONTEXT);
  const lead = from > 0 ? '…' : '';
  const tail = to < expression.length ? '…' : '';
  // One column per character, so the caret lines up: control characters become spaces.
  const excerpt = expression.slice(from, to).replace(/[\x00-\x1f\x7f]/g, ' ');
  const caretColumn = lead.length + position - from;
  const caret = '^'.repeat(Math.max(1, Math.min(token.length, to - position)));
  return `filter: ${reason} (${where})\n  ${lead}${excerpt}${tail}\n  ${' '.repeat(caretColumn)}${caret}`;
}

/** Messages used in more than one place, and the shapes of the others. */
export const FilterMessage = {
  empty: 'empty expression',
  tooLong: (limit: number) => `expression longer than ${limit} characters`,
  tooDeep: (limit: number) => `expression nested more than ${limit} levels deep`,
  badCharacter: 'unexpected character',
  unclosedParen: "unbalanced parenthesis: this '(' is never closed",
  unopenedParen: "unbalanced parenthesis: this ')' has no matching '('",
  danglingOperator: (op: string) => `'${op}' is missing its operand`,
  missingOperator: "expected 'and' or 'or' between two terms",
  expectedTerm: 'expected a filter term',
  mixedAndOr:
    "'and' and 'or' mixed without parentheses (tcpdump groups them left to right with equal " +
    "precedence, most languages bind 'and' tighter); add parentheses to say which you mean",
  unsupported: (what: string) => `unsupported: ${what}`,
  unknownWord:
    'unknown word: not a filter keyword (host names are not resolved; write an address)',
  missingValue: (keyword: string) => `'${keyword}' needs a value`,
  bareValueWithoutQualifier:
    'a bare value needs a qualifier (host, net, port, portrange) before it or in an earlier term',
  badNumber: 'not a number (decimal, or hex with 0x)',
  leadingZero: 'number with a leading zero (tcpdump would read it as octal); drop the zero',
  outOfRange: (what: string, lo: number, hi: number) => `${what} out of range (${lo}-${hi})`,
  badAddress: 'not a valid IPv4 or IPv6 address',
  hostName: 'host names are not resolved; write an IPv4 or IPv6 address',
  partialHost: "'host' needs a full address; for a network write 'net' (e.g. net 10.1 = 10.1.0.0/16)",
  hostWithPrefix: "'host' takes a single address; for a prefix write 'net'",
  badPrefixLength: (max: number) => `prefix length out of range (0-${max})`,
  hostBitsSet: 'address has bits set outside the network prefix (non-network bits)',
  badMask: 'not a contiguous IPv4 netmask (like 255.255.0.0)',
  maskOnIpv6: "'mask' applies to IPv4 networks only; write an IPv6 prefix as addr/len",
  familyMismatch: (qualifier: string) => `address family does not match '${qualifier}'`,
  unknownService: 'unknown port name (see firmware/shell/filter/services.ts)',
  unknownProtocol: 'unknown protocol name (see firmware/shell/filter/protocols.ts)',
  portRangeInPort: "a range needs 'portrange', not 'port'",
  badPortRange: "not a port range (like 1-1024 or ftp-data-telnet)",
  qualifierMisuse: (qualifier: string, what: string) => `'${qualifier}' cannot qualify ${what}`,
  expectedPortKeyword: (qualifier: string) => `expected 'port' or 'portrange' after '${qualifier}'`,
  expectedAddressOrPort: "expected 'host', 'net', 'port', 'portrange' or an address",
  tooManyVlans: 'a third vlan term on one conjunction; only the outer and inner tags are classified',
  ambiguousVlan:
    "vlan term after alternatives that name different numbers of vlan tags, so it is unclear " +
    "whether it means the outer or the inner tag; repeat it inside each alternative",
  tooManyBoxes: (limit: number) =>
    `expression expands to more than ${limit} rules (boxes) once negations and ` +
    `alternatives are multiplied out; simplify it or split it across sessions`,
  tooComplex: (limit: number) =>
    `expression is too complex to compile (more than ${limit} box comparisons); simplify it`,
} as const;
