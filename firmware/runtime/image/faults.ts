// Test-only faults: a build option that makes a validly signed image whose runtime or wasm fails,
// so tests can prove that boot's health check refuses it and the device rolls back. The fault is
// named in the signed manifest (`testOnlyFault`), and `image verify` prints it, so such an image
// is never mistaken for a release. Nothing in the runtime reads it: the fault is in the bytes.

export const TEST_ONLY_FAULTS = {
  /** The bundled runtime throws as it loads: every command of the slot fails. */
  'runtime-crash': 'the runtime throws before it runs any command',
  /** The bundled runtime never finishes loading: the health check must time out. */
  'runtime-hang': 'the runtime waits forever before it runs any command',
  /** The wasm section is a valid but empty module: it compiles, and has no data plane. */
  'wasm-empty': 'the wasm section is an empty module (no exports)',
} as const;

export type TestOnlyFault = keyof typeof TEST_ONLY_FAULTS;

export function isTestOnlyFault(x: unknown): x is TestOnlyFault {
  return typeof x === 'string' && Object.hasOwn(TEST_ONLY_FAULTS, x);
}

/** An empty WebAssembly module: magic and version, no sections. */
const EMPTY_WASM = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);

/** The runtime's first statement for a runtime fault (an ESM bundle runs its imports first: node built-ins only). */
const RUNTIME_PRELUDE: Partial<Record<TestOnlyFault, string>> = {
  'runtime-crash': 'throw new Error("test-only fault: runtime-crash");\n',
  'runtime-hang': 'await new Promise(() => { setInterval(() => {}, 1 << 30); });\n',
};

/** Applies a fault to the sections of an image being built. */
export function applyFault(fault: TestOnlyFault, sections: { wasm: Uint8Array; runtime: Uint8Array }): { wasm: Uint8Array; runtime: Uint8Array } {
  if (fault === 'wasm-empty') return { wasm: EMPTY_WASM, runtime: sections.runtime };
  const prelude = new TextEncoder().encode(RUNTIME_PRELUDE[fault]!);
  const runtime = new Uint8Array(prelude.length + sections.runtime.length);
  runtime.set(prelude);
  runtime.set(sections.runtime, prelude.length);
  return { wasm: sections.wasm, runtime };
}
