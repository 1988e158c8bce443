// The peer and eliminate commands' user errors (kept apart so the CLI can name them without loading
// the commands).

/** A `twinflow peer` option that cannot be honoured (one line, exit status 2). */
export class PeerOptionError extends Error {
  override readonly name = 'PeerOptionError';
}

/** A `twinflow eliminate` option that cannot be honoured (one line, exit status 2). */
export class EliminateOptionError extends Error {
  override readonly name = 'EliminateOptionError';
}
