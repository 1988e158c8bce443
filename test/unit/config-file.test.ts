// The operator's configuration file: the shipped example loads, defaults are filled, relative
// paths resolve against the file's directory, the schema's bounds are the session limits', and
// every kind of bad field is refused with an error naming the file and the field.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRouterConfig, ConfigError } from '../../firmware/shell/config/load.ts';
import { CONFIG_SCHEMA } from '../../firmware/shell/config/validate.ts';
import * as L from '../../firmware/shell/sessions/limits.ts';
import { MAX_SESSIONS } from '../../firmware/shell/sessions/limits.ts';

const EXAMPLE = new URL('../../examples/router.json', import.meta.url).pathname;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-config-'));
const file = path.join(dir, 'router.json');

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const example = (): any => JSON.parse(fs.readFileSync(EXAMPLE, 'utf8'));

function load(data: unknown): ReturnType<typeof loadRouterConfig> {
  fs.writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
  return loadRouterConfig(file);
}

test('examples/router.json loads: two services, one session, management and metrics on loopback', () => {
  const c = loadRouterConfig(EXAMPLE);
  assert.is(c.wccp.address, '127.0.0.1');
  assert.is(c.wccp.port, 2048);
  assert.equal(c.services.map((s) => [s.id, s.type, s.password !== undefined]), [[0, 'standard', false], [70, 'dynamic', true]]);
  assert.equal(c.sessions.map((s) => s.name), ['sniff-client']);
  assert.equal([c.management?.address, c.management?.port, c.management?.metrics?.port], ['127.0.0.1', 9650, 9651]);
  assert.is(c.management?.keyFile, path.join(path.dirname(EXAMPLE), 'mgmt.key'));
  assert.is(c.state, path.join(path.dirname(EXAMPLE), 'router.state'));
  assert.is(c.file, EXAMPLE);
});

test('defaults are filled; absolute paths are kept, relative ones resolve against the file', () => {
  const c = load({ wccp: { address: '10.0.0.1' }, services: [{ id: 0, type: 'standard', allow: [] }], management: { address: '10.0.0.1', keyFile: 'keys/m.key', metrics: { address: '10.0.0.1' } }, state: '/var/lib/twinflow/state' });
  assert.equal(c.wccp, { address: '10.0.0.1', port: 2048, squid57Compat: false });
  assert.equal(c.services[0], { id: 0, type: 'standard', allow: [], forwarding: ['gre', 'l2'], assignment: ['hash', 'mask'], return: ['gre', 'l2'] });
  assert.equal([c.sessions, c.policy, c.limits], [[], [], {}]);
  assert.equal(c.management, { address: '10.0.0.1', port: 9650, keyFile: path.join(dir, 'keys/m.key'), metrics: { address: '10.0.0.1', port: 9651 } });
  assert.is(c.state, '/var/lib/twinflow/state');
  assert.not.ok('$schema' in c);
  const bare = load({ wccp: { address: '10.0.0.1' } });
  assert.is(bare.management, undefined);
  assert.is(bare.state, undefined);
});

test('the schema\'s bounds are the session limits of firmware/shell/sessions/limits.ts', () => {
  const d = CONFIG_SCHEMA.definitions as any;
  const s = d.session.properties;
  assert.is(d.filter.maxLength, L.MAX_FILTER_LENGTH);
  assert.is(s.snaplen.maximum, L.MAX_SNAPLEN);
  assert.is(s.sample.maximum, L.MAX_SAMPLE);
  assert.is(s.ratePps.maximum, L.MAX_RATE_PPS);
  assert.is(s.rateBps.maximum, L.MAX_RATE_BPS);
  assert.is(d.sessions.maxItems, MAX_SESSIONS);
  assert.is(d.limits.properties.sessions.maximum, MAX_SESSIONS);
  assert.is(d.limits.properties.snaplenMin.minimum, L.MIN_SNAPLEN);
  assert.is(d.limits.properties.maxRatePps.maximum, L.MAX_RATE_PPS);
  assert.is(d.limits.properties.maxRateBps.maximum, L.MAX_RATE_BPS);
});

const BAD: Array<[string, (c: any) => void, RegExp]> = [
  ['misspelt top-level field', (c) => { c.sesions = []; }, /: sesions: unknown field \(misspelt\?\)/],
  ['no wccp section', (c) => { delete c.wccp; }, /: wccp: is required/],
  ['wccp address not IPv4', (c) => { c.wccp.address = 'localhost'; }, /: wccp\.address: must be an IPv4 address/],
  ['wccp port out of range', (c) => { c.wccp.port = 70000; }, /: wccp\.port: must be <= 65535/],
  ['squid57Compat not a boolean', (c) => { c.wccp.squid57Compat = 'yes'; }, /: wccp\.squid57Compat: must be boolean/],
  ['service id beyond 255', (c) => { c.services[1].id = 256; }, /: services\.1\.id: must be <= 255/],
  ['standard service beyond 50', (c) => { c.services[0].id = 60; }, /: services\.0\.id: standard \(well-known\) services are 0\.\.50; use type "dynamic" for 60/],
  ['two services with one id', (c) => { c.services[1].id = 0; c.services[1].type = 'standard'; }, /: services\.1\.id: service 0 is also services\.0/],
  ['service type unknown', (c) => { c.services[0].type = 'static'; }, /: services\.0\.type: must be one of: standard, dynamic/],
  ['password of 9 characters', (c) => { c.services[1].password = '123456789'; }, /: services\.1\.password: must NOT have more than 8 characters/],
  ['password of 5 characters but 10 bytes', (c) => { c.services[1].password = 'ééééé'; }, /: services\.1\.password: is 10 bytes; WCCP MD5 security uses at most 8/],
  ['empty password', (c) => { c.services[1].password = ''; }, /: services\.1\.password: must NOT have fewer than 1 characters/],
  ['allow entry not a prefix', (c) => { c.services[0].allow = ['10.0.0.0/8', 'ten']; }, /: services\.0\.allow\.1: must be an IPv4 address or prefix/],
  ['allow prefix with host bits', (c) => { c.services[1].allow = ['192.0.2.1/24']; }, /: services\.1\.allow\.0: "192\.0\.2\.1\/24" has bits set past \/24 \(did you mean 192\.0\.2\.0\/24\?\)/],
  ['allow address out of range', (c) => { c.services[1].allow = ['192.0.2.256']; }, /: services\.1\.allow\.0: "192\.0\.2\.256" is not an IPv4 address/],
  ['allow prefix length 33', (c) => { c.services[1].allow = ['192.0.2.0/33']; }, /: services\.1\.allow\.0: "192\.0\.2\.0\/33" is not an IPv4 address or prefix \(a\.b\.c\.d or a\.b\.c\.d\/len, len 0\.\.32\)/],
  ['allow entry twice', (c) => { c.services[1].allow = ['192.0.2.0/24', '192.0.2.0/24']; }, /: services\.1\.allow\.1: "192\.0\.2\.0\/24" is listed twice/],
  ['no allow list', (c) => { delete c.services[0].allow; }, /: services\.0\.allow: is required/],
  ['unknown forwarding method', (c) => { c.services[1].forwarding = ['gre', 'ip']; }, /: services\.1\.forwarding\.1: must be one of: gre, l2/],
  ['empty assignment list', (c) => { c.services[1].assignment = []; }, /: services\.1\.assignment: must NOT have fewer than 1 items/],
  ['repeated return method', (c) => { c.services[1].return = ['gre', 'gre']; }, /: services\.1\.return: must NOT have duplicate items/],
  ['session name with a space', (c) => { c.sessions[0].name = 'my session'; }, /: sessions\.0\.name: must be 1 to 64 letters, digits/],
  ['two sessions with one name', (c) => { c.sessions.push({ ...c.sessions[0] }); }, /: sessions\.1\.name: "sniff-client" is used by two sessions/],
  ['a redirect session', (c) => { c.sessions[0].mode = 'redirect'; }, /: sessions\.0\.mode: must be one of: sniff, dup, race/],
  ['snaplen below 64', (c) => { c.sessions[0].snaplen = 10; }, /: sessions\.0\.snaplen: must be 0 \(whole packets\) or at least 64/],
  ['a filter that does not parse', (c) => { c.sessions[0].filter = 'host 10.1.0.10 and'; }, /: sessions\.0\.filter: 'and' is missing its operand/],
  ['device not IPv4', (c) => { c.sessions[0].device = '2001:db8::2'; }, /: sessions\.0\.device: must be an IPv4 address/],
  ['session field misspelt', (c) => { c.sessions[0].snapLen = 64; }, /: sessions\.0\.snapLen: unknown field/],
  ['session without filter', (c) => { delete c.sessions[0].filter; }, /: sessions\.0\.filter: is required/],
  ['session port name invalid', (c) => { c.sessions[0].port = 'Monitor'; }, /: sessions\.0\.port: must be a board port name/],
  ['rateBps above 100 Gbit/s', (c) => { c.sessions[0].rateBps = 1e12; }, /: sessions\.0\.rateBps: must be <= 100000000000/],
  ['sample of 0', (c) => { c.sessions[0].sample = 0; }, /: sessions\.0\.sample: must be >= 1/],
  ['requireRegistration not a boolean', (c) => { c.sessions[0].requireRegistration = 1; }, /: sessions\.0\.requireRegistration: must be boolean/],
  ['policy action unknown', (c) => { c.policy[0].action = 'drop'; }, /: policy\.0\.action: must be one of: permit, deny/],
  ['policy filter that does not parse', (c) => { c.policy[0].filter = 'tcp port eleventy'; }, /: policy\.0\.filter: /],
  ['snaplenMin above snaplenMax', (c) => { c.limits = { snaplenMin: 2000, snaplenMax: 1000 }; }, /: limits\.snaplenMin: is larger than limits\.snaplenMax/],
  ['limits.sessions above the data plane\'s 64', (c) => { c.limits.sessions = 65; }, /: limits\.sessions: must be <= 64/],
  ['limits unknown key', (c) => { c.limits.flows = 3; }, /: limits\.flows: unknown field/],
  ['management without keyFile', (c) => { delete c.management.keyFile; }, /: management\.keyFile: is required/],
  ['management address not IPv4', (c) => { c.management.address = '127.0.0.1:9650'; }, /: management\.address: must be an IPv4 address/],
  ['metrics on the management port', (c) => { c.management.metrics.port = 9650; }, /: management\.metrics\.port: is the management port itself \(127\.0\.0\.1:9650\)/],
  ['metrics port 0', (c) => { c.management.metrics.port = 0; }, /: management\.metrics\.port: must be >= 1/],
  ['state an empty string', (c) => { c.state = ''; }, /: state: must NOT have fewer than 1 characters/],
  ['services not a list', (c) => { c.services = {}; }, /: services: must be array/],
];

for (const [what, mutate, message] of BAD) {
  test(`refused: ${what}`, () => {
    const c = example();
    mutate(c);
    try {
      load(c);
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, ConfigError);
      const m = (e as Error).message;
      assert.ok(m.startsWith(`${file}: `), m);
      assert.match(m, message);
    }
  });
}

test('not JSON, not a file, no file: the file is named', () => {
  assert.throws(() => load('{ "wccp": '), /router\.json: \(top level\): not valid JSON/);
  assert.throws(() => loadRouterConfig(dir), /: \(top level\): is not a regular file/);
  assert.throws(() => loadRouterConfig(path.join(dir, 'none.json')), /none\.json: \(top level\): no such file/);
  assert.throws(() => load('[]'), /router\.json: \(top level\): must be object/);
});

test.run();
