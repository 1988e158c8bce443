// Errors a user (or an uploader) can cause with firmware images, keys and slot directories. Each
// names what is at fault — the image file and the reason, the key file, the slots directory — in
// one line; firmware/errors.ts lists them as user errors (the CLI exits 2 with the line alone).

/**
 * Every reason an image is refused, with the human string. The management port counts refused
 * uploads under these names; `twinflow image verify` prints the detail of one.
 */
export const IMAGE_REFUSALS = {
  'not-an-image': 'the file does not start with the image magic',
  'unsupported-format': 'the image format version is not one this runtime reads',
  'too-large': 'larger than MAX_IMAGE_BYTES',
  truncated: 'shorter than its header says',
  'trailing-bytes': 'longer than its header says',
  'bad-header': 'header lengths are impossible',
  checksum: 'the SHA-256 over the image does not match (corrupted)',
  'bad-manifest': 'the manifest is not the JSON object the format describes',
  'wrong-key': 'signed by another key than the one it is verified with',
  'bad-signature': 'the Ed25519 signature does not verify (corrupted or forged)',
  'section-hash': 'a section does not match its SHA-256 in the manifest',
  'wrong-board': 'built for another board than the device',
  'below-minimum-version': 'older than the minimum version the device accepts',
} as const;

export type ImageRefusal = keyof typeof IMAGE_REFUSALS;

/** An image was refused: `source` names it (a file, or "upload"), `reason` is the counter name. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(readonly source: string, readonly reason: ImageRefusal, detail: string) {
    super(`${source}: ${detail}`);
  }
}

/** An image could not be built from these inputs (the board, the wasm, the version, a fault). */
export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
  constructor(readonly field: string, detail: string) {
    super(`image build: ${field}: ${detail}`);
  }
}

/** A key file is not the Ed25519 key in PEM that it should be. */
export class KeyError extends Error {
  override readonly name = 'KeyError';
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
  }
}

/** A slots directory cannot do what was asked (not initialised, other board, no bootable slot…). */
export class SlotError extends Error {
  override readonly name = 'SlotError';
  constructor(readonly dir: string, detail: string) {
    super(`${dir}: ${detail}`);
  }
}

/** A firmware version is not MAJOR.MINOR.PATCH. */
export class VersionError extends Error {
  override readonly name = 'VersionError';
  constructor(readonly field: string, readonly text: string) {
    super(`${field}: "${text}" is not a firmware version (MAJOR.MINOR.PATCH, e.g. 1.4.0)`);
  }
}
