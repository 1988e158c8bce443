// The management port's message envelope (docs/management.md has the full specification and
// test vectors). Each frame carries one MessagePack map:
//
//   request   { id: uint32, method: str, params: map }
//   response  { id: uint32 | nil, result: any }
//             { id: uint32 | nil, error: { code: str, field?: str, message: str } }
//
// A response's id is its request's; nil when the request could not be read far enough to know
// it (malformed MessagePack, an oversize frame). Responses come in request order.

/** Request ids are 32-bit: plenty for one connection, and the same in every implementation. */
export const MAX_REQUEST_ID = 0xffff_ffff;

/** Why a request got no result. Stable strings: scripts match on them. */
export const ERROR_CODES = {
  malformed: 'the frame is not one plain MessagePack value (connection stays open)',
  invalid_request: 'the envelope is wrong: not a map, or id/method/params missing, mistyped or joined by other keys',
  unknown_method: 'no such method',
  invalid_params: 'a parameter is missing, mistyped, out of range or unknown (field names it)',
  refused: 'the router refused the change or query (field names the parameter at fault)',
  rate_limited: 'too many requests on this connection; retry later',
  oversize: 'the frame is larger than the limit (the connection is closed)',
  internal: 'the router failed unexpectedly; the request may or may not have taken effect',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface WireError {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly message: string;
}

export interface Request {
  readonly id: number;
  readonly method: string;
  readonly params: Record<string, unknown>;
}

export type Response =
  | { readonly id: number | null; readonly result: unknown }
  | { readonly id: number | null; readonly error: WireError };

/** An error response as the client sees it: a user error (the CLI prints the message alone). */
export class ManagementError extends Error {
  override readonly name = 'ManagementError';
  constructor(readonly code: string, readonly field: string | undefined, message: string) {
    super(message);
  }
}

/** The router could not be reached, refused the key, or the connection failed: a user error. */
export class ManagementConnectionError extends Error {
  override readonly name = 'ManagementConnectionError';
}
