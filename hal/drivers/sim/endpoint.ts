// The far end of a simulated wire: whatever is plugged into a sim port (a group of client hosts,
// servers, a collector of replicas). Endpoints are driven by the port's driver; time is passed in.

export interface SimEndpoint {
  /** A human-readable name (shown in counters). */
  readonly name: string;
  /**
   * Called once per poll: the endpoint offers the frames it wants to send now through `emit`,
   * which copies the bytes onto the wire and returns false when the router's port could not take
   * the frame (the frame is then lost on the wire, as on a real link, and counted by the driver).
   */
  poll(now: bigint, emit: (frame: Uint8Array) => boolean): void;
  /** A frame the router sent out of the port. `frame` is only valid during the call. */
  deliver(frame: Uint8Array, now: bigint): void;
  /** Endpoint-specific counters for display and tests. */
  counters(): Record<string, number>;
}
