// The bundled runtime of an image: the whole `twinflow` command (entry.ts, which imports
// firmware/cli.ts) as one ESM file, made by esbuild from the source tree, with every npm
// dependency inside it, so a slot runs with node alone. CommonJS dependencies inside an ESM
// bundle need `require`: the banner defines it. esbuild itself stays outside (only `image build`
// uses it, and it is a native binary).
//
// The bundle is version-neutral: firmware/version.ts is replaced by a module whose version is a
// stamp, and stampVersion() writes an image's version into it. One bundle can so serve several
// images (tests build many), and each image's runtime reports the version its manifest states.

import { fileURLToPath } from 'node:url';
import { ImageBuildError } from './errors.ts';

const ENTRY = fileURLToPath(new URL('./entry.ts', import.meta.url));
const VERSION_MODULE = fileURLToPath(new URL('../../version.ts', import.meta.url));

/** Stands for the firmware version in an unstamped bundle. */
export const VERSION_STAMP = '@@twinflow-firmware-version@@';

const BANNER = "import { createRequire as __twinflowCreateRequire } from 'node:module'; const require = __twinflowCreateRequire(import.meta.url);";

/** Bundles the runtime from this source tree (about a second). */
export async function bundleRuntime(): Promise<Uint8Array> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new ImageBuildError('runtime', 'esbuild is not installed: images are built from a twinflow source tree after npm install');
  }
  const escaped = VERSION_MODULE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    keepNames: true,
    legalComments: 'eof',
    write: false,
    outfile: 'runtime.mjs',
    external: ['esbuild'],
    banner: { js: BANNER },
    logLevel: 'silent',
    plugins: [{
      name: 'twinflow-version-stamp',
      setup(build) {
        build.onLoad({ filter: new RegExp(`^${escaped}$`) }, () => ({
          contents: `export const FIRMWARE_VERSION = ${JSON.stringify(VERSION_STAMP)};\n`,
          loader: 'ts',
        }));
      },
    }],
  }).catch((e: Error) => {
    throw new ImageBuildError('runtime', `bundling failed: ${e.message.split('\n')[0]}`);
  });
  const out = result.outputFiles[0].contents;
  if (!new TextDecoder().decode(out).includes(VERSION_STAMP)) throw new ImageBuildError('runtime', 'the bundle lost its version stamp');
  return out;
}

/** The bundle with `version` in place of the stamp (every occurrence). */
export function stampVersion(bundle: Uint8Array, version: string): Uint8Array {
  const text = new TextDecoder().decode(bundle);
  if (!text.includes(VERSION_STAMP)) throw new ImageBuildError('runtime', 'not an unstamped runtime bundle (from bundleRuntime())');
  return new TextEncoder().encode(text.split(VERSION_STAMP).join(version));
}
