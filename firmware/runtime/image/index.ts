// Firmware images and A/B slots: the public surface (the CLI uses commands.ts; the management
// port calls flashImageBytes for uploads). docs/images.md describes the file and the directory.

export { buildImage, type BuildImageOptions, type BuiltImage } from './build.ts';
export { bundleRuntime } from './bundle.ts';
export { verifyImage, type VerifiedImage, type VerifyOptions } from './verify.ts';
export { readImage, IMAGE_FORMAT, IMAGE_MAGIC, MAX_IMAGE_BYTES, type Manifest } from './format.ts';
export { flashImageBytes, slotsStatus, type FlashOptions, type FlashResult, type SlotName, type SlotState, type DeviceRecord } from './slots.ts';
export { bootFromSlots, selectBootSlot, type BootDecision, type SlotBootOptions } from './slot-boot.ts';
export { runSelftest, type SelftestReport } from './selftest.ts';
export { IMAGE_REFUSALS, ImageError, ImageBuildError, KeyError, SlotError, VersionError, type ImageRefusal } from './errors.ts';
export { TEST_ONLY_FAULTS, type TestOnlyFault } from './faults.ts';
