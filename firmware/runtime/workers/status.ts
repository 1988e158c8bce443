// A line card's status block: one SharedArrayBuffer per card, made by the control plane's thread
// and handed to every card's worker. It carries what must cross threads without a message (a
// message waits for the receiver's event loop; these words are read and waited on directly):
//
//  ┌ words (Int32, Atomics) ─────────────────────────────────────────────────────────────────────┐
//  │ State │ Doorbell │ Sleeping │ Stop │ CmdSeq │ CmdOp │ CmdArg0 │ CmdArg1 │ CmdDone │ CmdResult │
//  │ Drained │ MessageBytes │ Work │ Paused │ …                                                                 │
//  ├ counters (Float64, plain stores by the card, snapshot reads) ──────────────────────────────────┤
//  │ per port: DriverCounters (5), then HandoffCounter.Count                                     │
//  ├ failure message (UTF-8, MESSAGE_BYTES) ──────────────────────────────────────────────────────┘
//
// Protocols (who writes what, and the ordering):
// - State: the card stores Running once it runs, Failed (after writing the message and its length)
//   when its loop or a driver throws, Stopped when it has closed. Waiters check it when woken.
// - Doorbell / Sleeping: a card about to sleep stores Sleeping = 1, loads Doorbell, re-checks its
//   inbound rings and mailbox, then Atomics.wait(Doorbell, seen, bound). Whoever gives it work
//   (a peer card, the control plane) makes the work visible first, then, if Sleeping, adds 1 to
//   Doorbell and notifies it. Sequentially consistent Atomics on both words mean either the
//   sleeper sees the work or the waker sees Sleeping: no lost wake-up, and the bound covers the rest.
// - Mailbox: the control plane writes CmdOp and the arguments, then stores CmdSeq (release) and
//   rings. The card, between steps, sees CmdSeq ≠ CmdDone, runs the command, writes CmdResult,
//   stores CmdDone = CmdSeq (release) and notifies CmdDone. One command at a time per card.
// - Stop: the control plane stores 1 and rings; the card finishes its step and closes.
// - Paused: while 1 (set before the card starts, cleared once), the card moves no frame: the
//   control plane can publish its first tables before any packet is classified.

/** Word indices (Int32) of the status block. */
export const enum Word {
  State = 0,
  Doorbell = 1,
  Sleeping = 2,
  Stop = 3,
  CmdSeq = 4,
  CmdOp = 5,
  CmdArg0 = 6,
  CmdArg1 = 7,
  CmdDone = 8,
  CmdResult = 9,
  /** 1 while the card found nothing to do and nothing in flight towards it in its last idle check. */
  Drained = 10,
  MessageBytes = 11,
  /** Busy iterations so far (a watcher that sees it unchanged knows nothing moved meanwhile). */
  Work = 12,
  /** 1: the card serves its mailbox and acknowledges table versions but polls no driver. */
  Paused = 13,
  Count = 16,
}

export const enum CardState {
  Starting = 0,
  Running = 1,
  Failed = 2,
  Stopped = 3,
}

export const enum Command {
  ResetSessionSlot = 1,
  /** Result: replicas the slot still holds on this card. */
  ReleaseHeld = 2,
  DiscardHeld = 3,
}

/** Frames moved by the hand-off, per port, on each card (Float64 slots after the driver counters). */
export const enum HandoffCounter {
  /** Owner: received frames this card kept (its own flows). */
  KeptLocal = 0,
  /** Owner: received frames handed to the card owning their flow. */
  SteeredOut = 1,
  /** Non-owner: frames received on the port for this card's flows, from the owner. */
  SteeredIn = 2,
  /** Non-owner: frames this card sent on the port, handed to the owner. */
  TxOut = 3,
  /** Owner: frames other cards sent on the port, taken onto its tx rings. */
  TxIn = 4,
  Count = 5,
}

export const HANDOFF_COUNTER_NAMES: readonly string[] = ['kept_local', 'steered_out', 'steered_in', 'tx_handed_out', 'tx_handed_in'];

/** The DriverCounters fields, in the order they are mirrored. */
export const DRIVER_COUNTER_NAMES = ['rxMissed', 'rxErrors', 'txPackets', 'txBytes', 'txDropped'] as const;

const PER_PORT = DRIVER_COUNTER_NAMES.length + HandoffCounter.Count;
/** Bytes kept of a failure message (the rest is cut). */
export const MESSAGE_BYTES = 2048;

/** Views of one card's status block (either thread). */
export class StatusBlock {
  readonly words: Int32Array;
  readonly counters: Float64Array;
  private readonly message: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer, readonly ports: number) {
    this.words = new Int32Array(buffer, 0, Word.Count);
    this.counters = new Float64Array(buffer, Word.Count * 4, ports * PER_PORT);
    this.message = new Uint8Array(buffer, Word.Count * 4 + ports * PER_PORT * 8, MESSAGE_BYTES);
  }

  static create(ports: number): StatusBlock {
    return new StatusBlock(new SharedArrayBuffer(Word.Count * 4 + ports * PER_PORT * 8 + MESSAGE_BYTES), ports);
  }

  load(word: Word): number {
    return Atomics.load(this.words, word);
  }

  store(word: Word, value: number): void {
    Atomics.store(this.words, word, value);
  }

  /** Rings the doorbell if the card sleeps (call after making the work visible). */
  wake(): void {
    if (Atomics.load(this.words, Word.Sleeping) !== 0) {
      Atomics.add(this.words, Word.Doorbell, 1);
      Atomics.notify(this.words, Word.Doorbell);
    }
  }

  /** Index of a port's counter slots in `counters`. */
  static driverBase(port: number): number {
    return port * PER_PORT;
  }

  static handoffBase(port: number): number {
    return port * PER_PORT + DRIVER_COUNTER_NAMES.length;
  }

  /** Records why the card failed (the card's side, before State = Failed). */
  writeMessage(text: string): void {
    const bytes = new TextEncoder().encode(text).subarray(0, MESSAGE_BYTES);
    this.message.set(bytes);
    this.store(Word.MessageBytes, bytes.length);
  }

  readMessage(): string {
    const n = Math.min(this.load(Word.MessageBytes), MESSAGE_BYTES);
    return new TextDecoder().decode(this.message.slice(0, n));
  }
}
