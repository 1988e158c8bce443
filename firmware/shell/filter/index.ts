// Filter expressions: tcpdump's syntax (a subset) with a router's semantics, compiled to the
// boxes the classifier tables are built from. See README.md in this folder for the language
// and every difference from tcpdump.

export { FilterError } from './errors.ts';
export { parseFilter } from './parser.ts';
export { compileFilter, DEFAULT_MAX_BOXES, type CompileOptions } from './compile.ts';
export { evaluateFilter } from './evaluate.ts';
export type { FilterAst, FilterTerm, SourceToken, Side } from './ast.ts';
