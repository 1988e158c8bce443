// The management port's methods: one per RouterControl member, each with the JSON Schema of its
// params (Ajv; shared definitions from firmware/shell/config/schema.json, so a session is checked
// the same way here as in the configuration file), the checks a schema cannot do, and a call.
//
// Params are the control method's arguments by name: addSession(spec) is `sessions.add` with
// params { spec }, setAllowlist(list) is `allowlist.set` with { list }, and so on. A method
// whose control member returns nothing answers nil.
//
// Adding a method (a later one uploads firmware images in chunks): add an entry to METHODS, or
// pass extra entries to ManagementServer (options.methods). A call gets the connection's context:
// its identity, a per-connection `state` map for multi-request work, and `onClose` to release it.

import type {
  Allowlist, PacketDescription, PolicyRule, RouterControl, RouterLimits,
} from '../control.ts';
import type { ConfiguredSession } from '../config/types.ts';
import { parseIpv4, parseIpv6 } from '../../../hal/net/address.ts';
import {
  checkLimits, checkPolicy, checkPrefixes, checkSession, definition, InvalidField,
} from '../config/validate.ts';

export interface ConnectionContext {
  /** Sequence number of the connection since the server started. */
  readonly id: number;
  /** The PSK identity the connection authenticated with. */
  readonly identity: string;
  /** Per-connection state of methods that span several requests. */
  readonly state: Map<string, unknown>;
  /** Runs `release` when the connection closes (at most once, in registration order). */
  onClose(release: () => void): void;
}

export interface MethodContext {
  readonly control: RouterControl;
  readonly connection: ConnectionContext;
}

export interface MethodDefinition {
  readonly summary: string;
  /** JSON Schema of `params` (an object schema; additionalProperties false). */
  readonly params: object;
  /** Checks beyond the schema; throws InvalidField with a field relative to params. */
  readonly check?: (params: never) => void;
  readonly call: (ctx: MethodContext, params: never) => unknown;
}

/** Types one entry: `P` is what its params are once validated. */
function method<P>(def: { summary: string; params: object; check?: (p: P) => void; call: (ctx: MethodContext, p: P) => unknown }): MethodDefinition {
  return def as unknown as MethodDefinition;
}

function paramsSchema(properties: Record<string, object> = {}, required: string[] = Object.keys(properties)): object {
  return { type: 'object', additionalProperties: false, required, properties };
}

const ADDRESS = { description: 'an IPv4 or IPv6 address', type: 'string', minLength: 2, maxLength: 45 };

const PACKET = {
  type: 'object', additionalProperties: false, required: ['port', 'proto', 'src', 'dst'],
  properties: {
    port: definition('portName'),
    proto: { type: 'string', enum: ['tcp', 'udp', 'icmp'] },
    src: ADDRESS,
    dst: ADDRESS,
    sport: { type: 'integer', minimum: 0, maximum: 65535 },
    dport: { type: 'integer', minimum: 0, maximum: 65535 },
    vlan: { type: 'integer', minimum: 0, maximum: 4095 },
    length: { description: "the IP packet's length in bytes, headers included", type: 'integer', minimum: 1, maximum: 65535 },
  },
};

function checkPacket(p: PacketDescription): void {
  for (const side of ['src', 'dst'] as const) {
    if (parseIpv4(p[side]) === null && parseIpv6(p[side]) === null) throw new InvalidField(`packet.${side}`, `"${p[side]}" is not an IPv4 or IPv6 address`);
  }
  if ((parseIpv4(p.src) === null) !== (parseIpv4(p.dst) === null)) throw new InvalidField('packet.dst', 'must be of the same family as packet.src');
  if (p.proto === 'icmp') {
    if (p.sport !== undefined) throw new InvalidField('packet.sport', 'icmp has no ports');
    if (p.dport !== undefined) throw new InvalidField('packet.dport', 'icmp has no ports');
  }
}

const NONE = paramsSchema();

/**
 * Firmware-image upload, in chunks on one connection: image.begin says the size, image.chunk
 * sends the bytes in order, image.flash verifies and writes the inactive A/B slot (through the
 * control surface's flashImage). The upload lives in the connection's state and is dropped with
 * the connection, or by image.abort or a new image.begin.
 */
export const IMAGE_CHUNK_MAX = 512 << 10; // two fit one 1 MiB request frame with the envelope
/** The largest image (firmware/runtime/image/format.ts MAX_IMAGE_BYTES). */
export const IMAGE_MAX = 64 << 20;
const UPLOAD = 'image.upload';

interface Upload {
  readonly bytes: Uint8Array;
  received: number;
}

function upload(ctx: MethodContext, field: string): Upload {
  const u = ctx.connection.state.get(UPLOAD) as Upload | undefined;
  if (!u) throw new InvalidField(field, 'no upload in progress on this connection: image.begin first');
  return u;
}

export const METHODS: Readonly<Record<string, MethodDefinition>> = {
  status: method<Record<string, never>>({
    summary: 'board, firmware version, uptime and table version',
    params: NONE,
    call: ({ control }) => control.status(),
  }),
  counters: method<Record<string, never>>({
    summary: 'every counter: ports, sessions, drivers, WCCP, management',
    params: NONE,
    call: ({ control }) => control.counters(),
  }),
  'sessions.list': method<Record<string, never>>({
    summary: 'all sessions (static and from registrations) with their counters',
    params: NONE,
    call: ({ control }) => control.listSessions(),
  }),
  'sessions.add': method<{ spec: ConfiguredSession }>({
    summary: 'add a static session; answers the session as installed',
    params: paramsSchema({ spec: definition('session') }),
    check: (p) => checkSession(p.spec, 'spec'),
    call: ({ control }, p) => control.addSession(p.spec),
  }),
  'sessions.delete': method<{ name: string }>({
    summary: 'delete a static session; deleted is false when there was none of that name',
    params: paramsSchema({ name: definition('sessionName') }),
    call: ({ control }, p) => ({ deleted: control.deleteSession(p.name) }),
  }),
  'allowlist.get': method<{ service: number }>({
    summary: 'the addresses and prefixes allowed to register with a service group',
    params: paramsSchema({ service: definition('serviceId') }),
    call: ({ control }, p) => control.getAllowlist(p.service),
  }),
  'allowlist.set': method<{ list: Allowlist }>({
    summary: 'replace a service group\'s allowlist',
    params: paramsSchema({ list: definition('allowlist') }),
    check: (p) => checkPrefixes(p.list.prefixes, 'list.prefixes'),
    call: ({ control }, p) => { control.setAllowlist(p.list); return null; },
  }),
  'policy.get': method<Record<string, never>>({
    summary: 'the forwarding policy, in order (first match decides)',
    params: NONE,
    call: ({ control }) => control.getPolicy(),
  }),
  'policy.set': method<{ rules: PolicyRule[] }>({
    summary: 'replace the forwarding policy',
    params: paramsSchema({ rules: definition('policy') }),
    check: (p) => checkPolicy(p.rules, 'rules'),
    call: ({ control }, p) => { control.setPolicy(p.rules); return null; },
  }),
  'limits.get': method<Record<string, never>>({
    summary: 'the router\'s limits',
    params: NONE,
    call: ({ control }) => control.getLimits(),
  }),
  'limits.set': method<{ limits: Partial<RouterLimits> }>({
    summary: 'change some limits; answers all of them',
    params: paramsSchema({ limits: definition('limits') }),
    check: (p) => checkLimits(p.limits, 'limits'),
    call: ({ control }, p) => control.setLimits(p.limits),
  }),
  'services.list': method<Record<string, never>>({
    summary: 'WCCP service groups and their caches',
    params: NONE,
    call: ({ control }) => control.listServices(),
  }),
  explain: method<{ packet: PacketDescription }>({
    summary: 'run the data plane on a described packet: verdict, sessions, counters touched',
    params: paramsSchema({ packet: PACKET }),
    check: (p) => checkPacket(p.packet),
    call: ({ control }, p) => control.explain(p.packet),
  }),
  'config.save': method<Record<string, never>>({
    summary: 'write the running state to the state file (atomically)',
    params: NONE,
    call: ({ control }) => control.saveConfig(),
  }),
  'config.load': method<Record<string, never>>({
    summary: 're-read the state file and apply it',
    params: NONE,
    call: ({ control }) => control.loadConfig(),
  }),
  'image.begin': method<{ size: number }>({
    summary: 'start uploading a firmware image of `size` bytes on this connection (drops any upload in progress)',
    params: paramsSchema({ size: { type: 'integer', minimum: 1, maximum: IMAGE_MAX } }),
    call: (ctx, p) => {
      if (!ctx.connection.state.has(UPLOAD)) ctx.connection.onClose(() => ctx.connection.state.delete(UPLOAD));
      ctx.connection.state.set(UPLOAD, { bytes: new Uint8Array(p.size), received: 0 } satisfies Upload);
      return { size: p.size, chunk: IMAGE_CHUNK_MAX };
    },
  }),
  'image.chunk': method<{ offset: number; data: Uint8Array }>({
    summary: 'the next bytes of the image: offset must be what was received so far',
    params: paramsSchema({ offset: { type: 'integer', minimum: 0, maximum: IMAGE_MAX }, data: {} }),
    check: (p) => {
      if (!(p.data instanceof Uint8Array)) throw new InvalidField('data', 'must be a MessagePack binary (bin 8/16/32)');
      if (p.data.length === 0 || p.data.length > IMAGE_CHUNK_MAX) throw new InvalidField('data', `must be 1..${IMAGE_CHUNK_MAX} bytes`);
    },
    call: (ctx, p) => {
      const u = upload(ctx, 'offset');
      if (p.offset !== u.received) throw new InvalidField('offset', `expected ${u.received} (the bytes received so far), got ${p.offset}`);
      if (u.received + p.data.length > u.bytes.length) throw new InvalidField('data', `runs past the announced size (${u.bytes.length} bytes)`);
      u.bytes.set(p.data, u.received);
      u.received += p.data.length;
      return { received: u.received };
    },
  }),
  'image.flash': method<Record<string, never>>({
    summary: 'verify the uploaded image and write it into the inactive A/B slot, tried at the next boot',
    params: NONE,
    call: async (ctx) => {
      const u = upload(ctx, 'image');
      if (u.received !== u.bytes.length) throw new InvalidField('image', `incomplete: ${u.received} of ${u.bytes.length} bytes received`);
      ctx.connection.state.delete(UPLOAD);
      return ctx.control.flashImage(u.bytes);
    },
  }),
  'image.abort': method<Record<string, never>>({
    summary: 'drop the upload in progress on this connection (nothing is written)',
    params: NONE,
    call: (ctx) => ({ aborted: ctx.connection.state.delete(UPLOAD) }),
  }),
};
