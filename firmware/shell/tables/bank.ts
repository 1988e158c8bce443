// Lays out one table bank: the image the control plane writes into the inactive bank of every
// line card and publishes with one store (wasm/abi.ts `Bank`, `Rule`, `Node`, `Leaf`,
// `SessionConfig`). Offsets inside the image are relative to its start, so the same bytes fit
// any bank address on any card.
//
//  ┌ Header ┬ Rules (160 × n) ┬ RuleMeta (8 × n) ┬ Forest ┬ Nodes (64 × m) ┬ Leaves ┬ Prefilters ┬ Sessions (128 × s) ┬ Templates ┬ Race groups ┬ Return table ┐
//
// The return table (the WCCP GRE return path: the caches that may return packets, the router's
// addresses and the FIB, wasm/abi.ts ReturnTable) is present only while a cache has a redirect
// session; without it Bank.Return is 0 and GRE-WCCP packets are transit traffic.
//
// Contract: inputs come from the compilers in this folder and from sessions/, already validated;
// this file checks only the layout invariants it owns (sizes, alignment, category range) and
// throws on violation.

import { Bank, BankMagic, FibEntry, Forest, ForestTree, Lane, Leaf, Limits, MaskElement, Member, Mode, Node, Prefilter, RaceGroup, RaceLimits, RaceMember, ReturnLimits, ReturnTable, Rule, RuleMeta, SessionConfig } from '../../../wasm/abi.ts';
import type { ClassifierRule, CompiledForest, CompiledTree, TreeRef } from './tree.ts';
import type { FibRoute } from './fib.ts';

/** A session as the hot path sees it: every field of SessionConfig plus its template bytes. */
export interface SessionTableEntry {
  readonly slot: number;
  readonly generation: number;
  readonly mode: Mode;
  readonly encap: number;
  readonly sampleN: number;
  readonly seed: number;
  readonly ratePps: number;
  readonly burstPkts: number;
  readonly rateBps: bigint;
  readonly burstBits: bigint;
  readonly snaplen: number;
  readonly egressPort: number;
  readonly mtu: number;
  readonly template: Uint8Array;
  readonly ipOffset: number;
  readonly greOffset: number;
  readonly serviceId: number;
  readonly flags: number;
  /** A tagged dup session's carrier member (SessionFlag.Carrier). */
  readonly carrier?: { readonly egressPort: number; readonly mtu: number; readonly template: Uint8Array; readonly ipOffset: number; readonly greOffset: number };
  /** A race session's group (Mode.Race): its members and the share of new flows it races. */
  readonly raceGroup?: { readonly members: ReadonlyArray<{ readonly port: number; readonly mac: Uint8Array; readonly routerMac: Uint8Array }>; readonly sharePpm: number };
  /** A race reply category (Mode.RaceReply): the bank index of its race session. */
  readonly raceReplyOf?: number;
}

export interface BankLayout {
  readonly image: Uint8Array;
  readonly bytes: number;
  readonly sections: { readonly rules: number; readonly ruleMeta: number; readonly forest: number; readonly nodes: number; readonly leaves: number; readonly sessions: number; readonly templates: number };
}

const align = (v: number, a: number): number => Math.ceil(v / a) * a;

/**
 * The lane a tree's prefilter tests: one on which every rule the tree can answer with (those in
 * its leaves) is a single value, the one with the most distinct values; null when there is none.
 */
export function prefilterLane(tree: CompiledTree, rules: readonly ClassifierRule[]): number | null {
  const ids = new Set<number>();
  for (const leaf of tree.leaves) for (const r of leaf.rules) ids.add(r);
  if (ids.size === 0) return null;
  let best: number | null = null;
  let bestDistinct = 0;
  for (let lane = 0; lane < Lane.Count; lane++) {
    const values = new Set<number>();
    let exact = true;
    for (const r of ids) {
      const b = rules[r].box;
      if (b.lo[lane] !== b.hi[lane]) { exact = false; break; }
      values.add(b.lo[lane]);
    }
    if (exact && values.size > bestDistinct) {
      best = lane;
      bestDistinct = values.size;
    }
  }
  return best;
}

/** The prefilter's bit for a lane value (wasm/classify/tree.ts computes the same). */
export function prefilterBit(value: number): number {
  return Math.imul(value >>> 0, Prefilter.HashMultiplier) >>> (32 - Prefilter.Bits);
}
const CATEGORY_SHIFT = 26; // leaf entry = rule index | category << 26 (wasm/classify/tree.ts)

/** Ones'-complement sum (unfolded) of an IPv4 header with length, id and checksum taken as zero. */
export function ipv4PartialSum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) {
    if (i === 2 || i === 4 || i === 10) continue; // total length, identification, checksum
    sum += (header[i] << 8) | header[i + 1];
  }
  return sum;
}

/** Writes the bank image for these rules, their forest and the sessions (session i = category i). */
/** WCCP assignment lanes the bank asks the hot path to compute (wasm/classify/assignment.ts). */
export interface BankAssignment {
  /** ServiceFlag hash bits of the WccpBucket lane; 0 = the standard destination hash. */
  readonly hashFlags: number;
  readonly masks: ReadonlyArray<{ readonly srcAddr: number; readonly dstAddr: number; readonly srcPort: number; readonly dstPort: number }>;
}

const NO_ASSIGNMENT: BankAssignment = { hashFlags: 0, masks: [] };

/** The GRE return path of a bank (all addresses host order); see wasm/forward/return.ts. */
export interface BankReturns {
  /** Caches that have redirect sessions: their GRE-WCCP packets to the router are returns. */
  readonly sources: readonly number[];
  /** The router's addresses a return may be sent to. */
  readonly locals: readonly number[];
  /** The FIB, longest match first (fib.ts). */
  readonly routes: readonly FibRoute[];
}

export function layoutBank(rules: readonly ClassifierRule[], forest: CompiledForest, sessions: readonly SessionTableEntry[], assignment: BankAssignment = NO_ASSIGNMENT, returns?: BankReturns): BankLayout {
  if (assignment.masks.length > MaskElement.MaxElements) throw new RangeError(`at most ${MaskElement.MaxElements} mask elements per bank`);
  if (returns) {
    if (returns.sources.length > ReturnLimits.MaxSources) throw new RangeError(`at most ${ReturnLimits.MaxSources} caches may return packets`);
    if (returns.locals.length > ReturnLimits.MaxLocals) throw new RangeError(`at most ${ReturnLimits.MaxLocals} router addresses for returns`);
    if (returns.routes.length > ReturnLimits.MaxRoutes) throw new RangeError(`at most ${ReturnLimits.MaxRoutes} forwarding entries`);
  }
  if (sessions.length > Limits.MaxSessions) throw new RangeError(`at most ${Limits.MaxSessions} sessions per bank`);
  const n = rules.length;
  const rulesOff = Bank.Header;
  const metaOff = rulesOff + n * Rule.Size;
  const forestOff = align(metaOff + n * RuleMeta.Size, 16);
  const nodesOff = align(forestOff + Forest.Trees + forest.trees.length * ForestTree.Size, Node.Size);
  // Every tree's nodes and leaves go in one section each; remember where each tree's start.
  const nodeBase: number[] = [];
  let nodeCount = 0;
  for (const t of forest.trees) {
    nodeBase.push(nodeCount);
    nodeCount += t.nodes.length;
  }
  const leavesOff = align(nodesOff + nodeCount * Node.Size, 16);
  const leafOffsets: number[][] = [];
  let cursor = leavesOff;
  for (const t of forest.trees) {
    const offsets: number[] = [];
    for (const leaf of t.leaves) {
      offsets.push(cursor);
      cursor = align(cursor + Leaf.Rules + 4 * leaf.rules.length, 16);
    }
    leafOffsets.push(offsets);
  }
  // Prefilter bitmaps, for the trees that have one.
  const prefilters = forest.trees.map((t) => prefilterLane(t, rules));
  const prefilterOffsets: number[] = [];
  cursor = align(cursor, 64);
  for (const lane of prefilters) {
    prefilterOffsets.push(lane === null ? 0 : cursor);
    if (lane !== null) cursor += Prefilter.Bytes;
  }
  const sessionsOff = align(cursor, 16);
  const templatesOff = sessionsOff + sessions.length * SessionConfig.Size;
  const templateOffsets: number[] = [];
  const carrierOffsets: number[] = [];
  cursor = templatesOff;
  for (const s of sessions) {
    for (const t of s.carrier ? [s.template, s.carrier.template] : [s.template]) {
      if (t.length > Limits.MaxTemplate) throw new RangeError(`session template of ${t.length} bytes exceeds ${Limits.MaxTemplate}`);
    }
    templateOffsets.push(cursor);
    cursor = align(cursor + s.template.length, 8);
    carrierOffsets.push(cursor);
    if (s.carrier) cursor = align(cursor + s.carrier.template.length, 8);
  }
  cursor = align(cursor, 16);
  const groupOffsets: number[] = [];
  for (const s of sessions) {
    groupOffsets.push(s.raceGroup ? cursor : 0);
    if (s.raceGroup) {
      if (s.raceGroup.members.length < 1 || s.raceGroup.members.length > RaceLimits.MaxMembers) throw new RangeError(`a race group has 1..${RaceLimits.MaxMembers} members`);
      cursor += RaceGroup.Size;
    }
  }
  const returnOff = returns ? align(cursor, 64) : 0;
  if (returns) cursor = returnOff + ReturnTable.Routes + returns.routes.length * FibEntry.Size;
  const bytes = align(cursor, 64);
  if (bytes >= Node.LeafFlag) throw new RangeError('bank image exceeds 2 GiB');

  const image = new Uint8Array(bytes);
  const dv = new DataView(image.buffer);
  const u32 = (off: number, v: number): void => dv.setUint32(off, v >>> 0, true);

  u32(Bank.Magic, BankMagic.Value);
  u32(Bank.Bytes, bytes);
  // A node ref carries the lane its node cuts in the low bits (free by 64-byte alignment).
  const ref = (t: number, r: TreeRef): number =>
    r.leaf ? (leafOffsets[t][r.index] | Node.LeafFlag) >>> 0 : (nodesOff + (nodeBase[t] + r.index) * Node.Size) | forest.trees[t].nodes[r.index].lane;
  u32(Bank.Forest, forestOff);
  u32(Bank.Rules, rulesOff);
  u32(Bank.RuleCount, n);
  u32(Bank.RuleMeta, metaOff);
  u32(Bank.SessionCount, sessions.length);
  u32(Bank.Sessions, sessionsOff);
  u32(Bank.Templates, templatesOff);

  let replicate = 0n;
  let redirect = 0n;
  let drop = 0n;
  let race = 0n;
  let raceReply = 0n;
  sessions.forEach((s, i) => {
    if (s.mode === Mode.Redirect) redirect |= 1n << BigInt(i);
    else if (s.mode === Mode.Drop) drop |= 1n << BigInt(i);
    else if (s.mode === Mode.Race) race |= 1n << BigInt(i);
    else if (s.mode === Mode.RaceReply) raceReply |= 1n << BigInt(i);
    else replicate |= 1n << BigInt(i);
  });
  dv.setBigUint64(Bank.ReplicateMask, replicate, true);
  dv.setBigUint64(Bank.RedirectMask, redirect, true);
  dv.setBigUint64(Bank.DropMask, drop, true);
  dv.setBigUint64(Bank.RaceMask, race, true);
  dv.setBigUint64(Bank.RaceReplyMask, raceReply, true);
  u32(Bank.HashFlags, assignment.hashFlags);
  u32(Bank.MaskCount, assignment.masks.length);
  assignment.masks.forEach((m, i) => {
    const at = Bank.Masks + i * MaskElement.Size;
    u32(at + MaskElement.SrcAddr, m.srcAddr);
    u32(at + MaskElement.DstAddr, m.dstAddr);
    u32(at + MaskElement.SrcPort, m.srcPort);
    u32(at + MaskElement.DstPort, m.dstPort);
  });

  for (let r = 0; r < n; r++) {
    const base = rulesOff + r * Rule.Size;
    const box = rules[r].box;
    for (let l = 0; l < Lane.Count; l++) {
      u32(base + Rule.Lo + 4 * l, box.lo[l]);
      u32(base + Rule.Width + 4 * l, box.hi[l] - box.lo[l]);
    }
    u32(metaOff + r * RuleMeta.Size + RuleMeta.Id, rules[r].id);
    u32(metaOff + r * RuleMeta.Size + RuleMeta.Category, rules[r].category);
  }

  u32(forestOff + Forest.Count, forest.trees.length);
  forest.trees.forEach((tree, t) => {
    const entry = forestOff + Forest.Trees + t * ForestTree.Size;
    u32(entry + ForestTree.Root, ref(t, tree.root));
    u32(entry + ForestTree.MinRule, tree.minRule);
    dv.setBigUint64(entry + ForestTree.CategoryMask, tree.categoryMask, true);
    const lane = prefilters[t];
    u32(entry + ForestTree.PrefilterLane, lane ?? Prefilter.None);
    u32(entry + ForestTree.Prefilter, prefilterOffsets[t]);
    if (lane !== null) {
      for (const leaf of tree.leaves) {
        for (const r of leaf.rules) {
          const bit = prefilterBit(rules[r].box.lo[lane]);
          image[prefilterOffsets[t] + (bit >> 3)] |= 1 << (bit & 7);
        }
      }
    }

    tree.nodes.forEach((node, i) => {
      const base = nodesOff + (nodeBase[t] + i) * Node.Size;
      if (node.lane > Node.LaneMask) throw new RangeError(`lane ${node.lane} does not fit a node ref`);
      for (let k = 0; k < Node.MaxChildren; k++) {
        u32(base + Node.Thresholds + 4 * k, k < node.thresholds.length ? node.thresholds[k] : 0xffffffff);
      }
      for (let c = 0; c < Node.MaxChildren; c++) {
        // Unused children are never selected (their thresholds are 0xffffffff); point them at the last one.
        u32(base + Node.Children + 4 * c, ref(t, node.children[Math.min(c, node.children.length - 1)]));
      }
    });

    tree.leaves.forEach((leaf, i) => {
      const base = leafOffsets[t][i];
      u32(base + Leaf.Count, leaf.rules.length);
      dv.setBigUint64(base + Leaf.CategoryMask, leaf.categoryMask, true);
      // Bound: the union of the leaf's rules on lane group 0 (an empty leaf's bound is irrelevant).
      for (let l = 0; l < 4; l++) {
        let lo = 0xffffffff;
        let hi = 0;
        for (const r of leaf.rules) {
          lo = Math.min(lo, rules[r].box.lo[l]);
          hi = Math.max(hi, rules[r].box.hi[l]);
        }
        u32(base + Leaf.BoundLo + 4 * l, lo);
        u32(base + Leaf.BoundWidth + 4 * l, leaf.rules.length === 0 ? 0 : hi - lo);
      }
      leaf.rules.forEach((r, k) => {
        if (r >= 1 << CATEGORY_SHIFT) throw new RangeError('too many rules for the leaf entry format');
        u32(base + Leaf.Rules + 4 * k, r | (rules[r].category << CATEGORY_SHIFT));
      });
    });
  });

  sessions.forEach((s, i) => {
    const base = sessionsOff + i * SessionConfig.Size;
    u32(base + SessionConfig.Slot, s.slot);
    u32(base + SessionConfig.Generation, s.generation);
    u32(base + SessionConfig.Mode, s.mode);
    u32(base + SessionConfig.Encap, s.encap);
    u32(base + SessionConfig.SampleN, s.sampleN);
    u32(base + SessionConfig.Seed, s.seed);
    u32(base + SessionConfig.RatePps, s.ratePps);
    u32(base + SessionConfig.BurstPkts, s.burstPkts);
    dv.setBigUint64(base + SessionConfig.RateBps, s.rateBps, true);
    dv.setBigUint64(base + SessionConfig.BurstBits, s.burstBits, true);
    u32(base + SessionConfig.Snaplen, s.snaplen);
    const member = (at: number, m: { egressPort: number; mtu: number; template: Uint8Array; ipOffset: number; greOffset: number }, off: number): void => {
      u32(at + Member.EgressPort, m.egressPort);
      u32(at + Member.Mtu, m.mtu);
      u32(at + Member.TemplateOff, off);
      u32(at + Member.TemplateLen, m.template.length);
      u32(at + Member.IpOff, m.ipOffset);
      u32(at + Member.GreOff, m.greOffset);
      u32(at + Member.IpSum, m.template.length ? ipv4PartialSum(m.template.subarray(m.ipOffset, m.ipOffset + 20)) : 0);
      image.set(m.template, off);
    };
    member(base + SessionConfig.Replica, s, templateOffsets[i]);
    if (s.carrier) member(base + SessionConfig.Carrier, s.carrier, carrierOffsets[i]);
    u32(base + SessionConfig.ServiceId, s.serviceId);
    u32(base + SessionConfig.Flags, s.flags);
    if (s.raceReplyOf !== undefined) {
      if (sessions[s.raceReplyOf]?.mode !== Mode.Race) throw new RangeError(`race reply category ${i} answers for ${s.raceReplyOf}, which is not a race session`);
      u32(base + SessionConfig.RaceReplyOf, s.raceReplyOf);
    }
    if (s.raceGroup) {
      const g = groupOffsets[i];
      u32(base + SessionConfig.RaceGroup, g);
      u32(g + RaceGroup.MemberCount, s.raceGroup.members.length);
      u32(g + RaceGroup.SharePpm, s.raceGroup.sharePpm);
      s.raceGroup.members.forEach((m, k) => {
        const at = g + RaceGroup.Members + k * RaceMember.Size;
        u32(at + RaceMember.Port, m.port);
        image.set(m.mac, at + RaceMember.Mac);
        image.set(m.routerMac, at + RaceMember.RouterMac);
      });
    }
  });

  if (returns) {
    u32(Bank.Return, returnOff);
    u32(returnOff + ReturnTable.SourceCount, returns.sources.length);
    u32(returnOff + ReturnTable.LocalCount, returns.locals.length);
    u32(returnOff + ReturnTable.RouteCount, returns.routes.length);
    returns.sources.forEach((a, i) => u32(returnOff + ReturnTable.Sources + 4 * i, a));
    returns.locals.forEach((a, i) => u32(returnOff + ReturnTable.Locals + 4 * i, a));
    returns.routes.forEach((r, i) => {
      const at = returnOff + ReturnTable.Routes + i * FibEntry.Size;
      u32(at + FibEntry.Lo, r.lo);
      u32(at + FibEntry.Width, r.width);
      u32(at + FibEntry.Port, r.port);
      u32(at + FibEntry.Flags, r.flags);
      image.set(r.mac.subarray(0, 6), at + FibEntry.Mac);
      image.set(r.routerMac.subarray(0, 6), at + FibEntry.RouterMac);
    });
  }

  return { image, bytes, sections: { rules: rulesOff, ruleMeta: metaOff, forest: forestOff, nodes: nodesOff, leaves: leavesOff, sessions: sessionsOff, templates: templatesOff } };
}
