// The peer command's user errors (kept apart so the CLI can name them without loading the peer).

/** A `twinflow peer` option that cannot be honoured (one line, exit status 2). */
export class PeerOptionError extends Error {
  override readonly name = 'PeerOptionError';
}
