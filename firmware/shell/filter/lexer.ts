// Lexer: filter expression text → tokens with their character offsets.
//
// Contract: the text is untrusted. It fails (FilterError) only on a character that no token
// can contain (control characters, non-ASCII) and on text longer than MAX_EXPRESSION_LENGTH,
// so the token list, and all later work, is bounded by that length. Punctuation that tcpdump
// uses for byte offsets and arithmetic is lexed as `symbol` tokens so the parser can point at
// it and say it is unsupported.

import { FilterError, FilterMessage } from './errors.ts';

/** Longest expression accepted, in characters (a 100-clause filter is about 3 500). */
export const MAX_EXPRESSION_LENGTH = 16384;

export type TokenKind =
  | 'word' // keyword, number, address, name; `\name` is a word that is never a keyword
  | 'and' // and, &&
  | 'or' // or, ||
  | 'not' // not, !
  | 'lparen'
  | 'rparen'
  | 'symbol'; // any other punctuation: [ ] & | = < > + - * / % ^ ...

export interface Token {
  readonly kind: TokenKind;
  readonly text: string; // as written
  readonly position: number; // offset of its first character
  readonly escaped: boolean; // a word written with a leading backslash (`\tcp`)
}

const WHITESPACE = /[ \t\r\n]/;
const WORD_CHAR = /[A-Za-z0-9_.:\/-]/;
const TWO_CHAR_SYMBOLS = new Set(['!=', '==', '<=', '>=', '<<', '>>']);
const OPERATOR_WORDS: Readonly<Record<string, TokenKind>> = { and: 'and', or: 'or', not: 'not' };

/** Splits an expression into tokens; throws FilterError on a character no token may hold. */
export function tokenize(expression: string): Token[] {
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    const firstExcess = String.fromCodePoint(expression.codePointAt(MAX_EXPRESSION_LENGTH) ?? 0);
    throw new FilterError(FilterMessage.tooLong(MAX_EXPRESSION_LENGTH), expression, MAX_EXPRESSION_LENGTH, firstExcess);
  }
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, escaped = false) => {
    tokens.push({ kind, text: expression.slice(start, end), position: start, escaped });
    i = end;
  };
  while (i < expression.length) {
    const c = expression[i];
    if (WHITESPACE.test(c)) {
      i++;
    } else if (WORD_CHAR.test(c) || (c === '\\' && WORD_CHAR.test(expression[i + 1] ?? ''))) {
      let end = i + 1;
      while (end < expression.length && WORD_CHAR.test(expression[end])) end++;
      const text = expression.slice(i, end);
      const escaped = c === '\\';
      push(escaped ? 'word' : (OPERATOR_WORDS[text] ?? 'word'), i, end, escaped);
    } else if (c === '(') {
      push('lparen', i, i + 1);
    } else if (c === ')') {
      push('rparen', i, i + 1);
    } else if (c === '&' && expression[i + 1] === '&') {
      push('and', i, i + 2);
    } else if (c === '|' && expression[i + 1] === '|') {
      push('or', i, i + 2);
    } else if (TWO_CHAR_SYMBOLS.has(expression.slice(i, i + 2))) {
      push('symbol', i, i + 2);
    } else if (c === '!') {
      push('not', i, i + 1);
    } else if (c >= '!' && c <= '~') {
      push('symbol', i, i + 1);
    } else {
      const character = String.fromCodePoint(expression.codePointAt(i) ?? 0);
      throw new FilterError(FilterMessage.badCharacter, expression, i, character);
    }
  }
  return tokens;
}
