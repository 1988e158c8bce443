// The firmware version this code runs as. From the source tree it is package.json's version; a
// firmware image's bundled runtime has this module replaced at build time by the image's own
// version (firmware/runtime/image/bundle.ts), so `twinflow --version` and the health check's
// report say which image is running.

import pkg from '../package.json' with { type: 'json' };

export const FIRMWARE_VERSION: string = pkg.version;
