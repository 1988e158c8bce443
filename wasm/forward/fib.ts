// The router's IPv4 forwarding table, as the GRE return path uses it (wasm/abi.ts ReturnTable,
// FibEntry): compiled by the control plane from the board (firmware/shell/tables/fib.ts), sorted
// most specific first, so the first entry that covers an address is its longest-prefix match.
//
// Contract: the table is trusted (the control plane wrote it and the bank switch published it
// whole); the scan reads at most ReturnLimits.MaxRoutes entries, whatever RouteCount says.

import { FibEntry, ReturnLimits, ReturnTable } from '../abi';

/** The entry that forwards `dst` (host order), or 0 when none covers it. */
export function fibLookup(table: usize, dst: u32): usize {
  let n = load<u32>(table, ReturnTable.RouteCount);
  if (n > <u32>ReturnLimits.MaxRoutes) n = <u32>ReturnLimits.MaxRoutes;
  let e = table + ReturnTable.Routes;
  for (let i: u32 = 0; i < n; i++) {
    // Covered when dst − lo ≤ width, unsigned (the rule boxes' idiom).
    if (dst - load<u32>(e, FibEntry.Lo) <= load<u32>(e, FibEntry.Width)) return e;
    e += FibEntry.Size;
  }
  return 0;
}

/** Whether `address` is one of the `count` words at `list` (count bounded by the caller). */
@inline export function listHas(list: usize, count: u32, address: u32): bool {
  for (let i: u32 = 0; i < count; i++) {
    if (load<u32>(list + (<usize>i << 2)) == address) return true;
  }
  return false;
}
