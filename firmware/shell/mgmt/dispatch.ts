// From one request payload to one response, independent of sockets: decode (plain MessagePack
// only), check the envelope, find the method, validate its params (schema, then the method's own
// checks), call the control surface, and map every failure to an error code.
//
// Contract: handle() never throws and never returns without a response; each outcome is reported
// with the counter it belongs to. Errors a user can cause carry the field at fault:
// `params.spec.snaplen` for a parameter, the control's own field for a ControlError. An
// unexpected exception answers `internal` (its message, not its stack, goes to the client; the
// stack goes to the server's log).

import type { ValidateFunction } from 'ajv';
import { ControlError, type RouterControl } from '../control.ts';
import { createAjv, InvalidField, schemaProblem } from '../config/validate.ts';
import { decodeValue, encodeValue, MsgpackError } from '../msgpack.ts';
import { isUserError } from '../../errors.ts';
import type { RefusalReason } from './counters.ts';
import type { ConnectionContext, MethodDefinition } from './methods.ts';
import { MAX_REQUEST_ID, type ErrorCode, type Response } from './protocol.ts';

const ENVELOPE_KEYS = new Set(['id', 'method', 'params']);

/** What a handled request counts as: a result, a refusal by the control, or a port refusal. */
export type Outcome = { readonly kind: 'result' } | { readonly kind: 'control_error' } | { readonly kind: 'refused'; readonly reason: RefusalReason };

export interface Handled {
  readonly response: Response;
  /** The response, encoded (a payload, without the length prefix). */
  readonly payload: Uint8Array;
  readonly outcome: Outcome;
}

// A map: a plain object (a MessagePack bin decodes to a Uint8Array, which is not one).
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

export class Dispatcher {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(
    private readonly methods: Readonly<Record<string, MethodDefinition>>,
    private readonly control: RouterControl,
    private readonly log: (line: string) => void = () => {},
  ) {
    const ajv = createAjv(false);
    for (const [name, m] of Object.entries(methods)) this.validators.set(name, ajv.compile(m.params));
  }

  /** `limited`: the connection's rate limit refused this request (it is answered, not run). */
  async handle(payload: Uint8Array, connection: ConnectionContext, limited: boolean): Promise<Handled> {
    let id: number | null = null;
    const fail = (code: ErrorCode, reason: RefusalReason, message: string, field?: string): Handled =>
      this.reply({ id, error: { code, ...(field !== undefined ? { field } : {}), message } }, { kind: 'refused', reason });

    let request: unknown;
    try {
      request = decodeValue(payload);
    } catch (e) {
      if (e instanceof MsgpackError) return fail('malformed', 'malformed', e.message);
      throw e;
    }
    if (!isMap(request)) return fail('invalid_request', 'invalid_request', 'a request is a map {id, method, params}');
    const rawId = request.id;
    if (!Number.isInteger(rawId) || (rawId as number) < 0 || (rawId as number) > MAX_REQUEST_ID) {
      return fail('invalid_request', 'invalid_request', rawId === undefined ? 'id: is required' : `id: must be an integer 0..${MAX_REQUEST_ID}`, 'id');
    }
    id = rawId as number;
    for (const key of Object.keys(request)) {
      if (!ENVELOPE_KEYS.has(key)) return fail('invalid_request', 'invalid_request', `${key}: unknown field (a request has id, method, params)`, key);
    }
    if (typeof request.method !== 'string') {
      return fail('invalid_request', 'invalid_request', request.method === undefined ? 'method: is required' : 'method: must be a string', 'method');
    }
    if (!isMap(request.params)) {
      return fail('invalid_request', 'invalid_request', request.params === undefined ? 'params: is required (an empty map when the method takes none)' : 'params: must be a map', 'params');
    }
    if (limited) return fail('rate_limited', 'rate_limited', 'too many requests on this connection; slow down and retry');
    const name = request.method;
    const method = Object.hasOwn(this.methods, name) ? this.methods[name] : undefined;
    if (!method) return fail('unknown_method', 'unknown_method', `method: unknown method "${name.slice(0, 64)}"`, 'method');

    const params = request.params;
    const validate = this.validators.get(name)!;
    try {
      if (!validate(params)) throw schemaProblem(validate.errors![0], 'params');
      method.check?.(params as never);
    } catch (e) {
      if (e instanceof InvalidField) {
        const field = e.field.startsWith('params') ? e.field : `params.${e.field}`;
        return fail('invalid_params', 'invalid_params', `${field}: ${e.detail}`, field);
      }
      return this.internal(id, name, e);
    }

    let result: unknown;
    try {
      result = await method.call({ control: this.control, connection }, params as never);
    } catch (e) {
      if (e instanceof ControlError) return this.reply({ id, error: { code: 'refused', field: e.field, message: e.message } }, { kind: 'control_error' });
      if (isUserError(e)) {
        const field = (e as { field?: unknown }).field;
        return this.reply({ id, error: { code: 'refused', ...(typeof field === 'string' ? { field } : {}), message: (e as Error).message } }, { kind: 'control_error' });
      }
      return this.internal(id, name, e);
    }
    try {
      return this.reply({ id, result: result ?? null }, { kind: 'result' });
    } catch (e) {
      return this.internal(id, name, e);
    }
  }

  private internal(id: number | null, method: string, e: unknown): Handled {
    this.log(`management: ${method} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const message = `internal error in ${method}: ${e instanceof Error ? e.message : String(e)}`;
    return this.reply({ id, error: { code: 'internal', message } }, { kind: 'refused', reason: 'internal_error' });
  }

  private reply(response: Response, outcome: Outcome): Handled {
    return { response, payload: encodeValue(response), outcome };
  }
}
