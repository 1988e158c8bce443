// The WCCPv2 codec's public surface. Decode with decodeMessage (untrusted datagrams; errors are
// WccpDecodeError / WccpSecurityError), encode with encodeMessage, and use assignment.ts for
// hash buckets and mask matching. docs/protocol.md specifies twinflow's Command Extension.

export * from './constants.ts';
export { WccpDecodeError, WccpEncodeError, WccpSecurityError, DECODE_ERRORS, ENCODE_ERRORS, SECURITY_ERRORS } from './errors.ts';
export type { DecodeErrorCode, SecurityVerdict } from './errors.ts';
export type {
  AssignmentData,
  AssignmentDataKind,
  AssignmentKey,
  MaskElement,
  MaskValueSet,
  RouterAssignmentElement,
  RouterIdElement,
  ValueElement,
  WebCacheIdentityElement,
} from './elements.ts';
export { decodeComponent, encodeComponent, isKnownComponentType } from './components.ts';
export type {
  AddressTable,
  AlternateAssignment,
  AssignmentInfo,
  AssignmentMap,
  CapabilitiesInfo,
  CapabilityElement,
  Command,
  CommandExtension,
  ComponentValues,
  KnownComponentType,
  RawComponent,
  RouterIdentityInfo,
  RouterQueryInfo,
  RouterViewInfo,
  SecurityInfo,
  ServiceInfo,
  WebCacheIdentityInfo,
  WebCacheViewInfo,
} from './components.ts';
export { decodeMessage, encodeMessage, replicationRequestOf } from './message.ts';
export type { DecodeOptions, EncodeOptions, HereIAm, ISeeYou, RedirectAssign, RemovalQuery, WccpMessage } from './message.ts';
export { checkSecurity, computeDigest, digestMatches, paddedPassword, signMessage } from './security.ts';
export type { WccpPassword } from './security.ts';
export { EXTENSION_ERRORS } from './extension.ts';
export type { ReplicaEncapsulation, ReplicationMode, ReplicationRequest, SubField } from './extension.ts';
export {
  bitmapForCache,
  bucketBitmap,
  bucketsOf,
  buildHashTable,
  hashBucket,
  hashKey,
  hasBucket,
  lookupHash,
  matchMask,
  WEB_CACHE_HASH_FLAGS,
} from './assignment.ts';
export type { FlowFields, HashLookup } from './assignment.ts';
