// The boot command's user errors (kept apart so the CLI can name them without loading the runtime).

/** A boot option that cannot be honoured (one line, exit status 2). */
export class BootOptionError extends Error {
  override readonly name = 'BootOptionError';
}
