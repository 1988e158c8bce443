// Public surface of the capture-file codecs (classic pcap and pcapng), used by the hal `pcap`
// driver, the `trace` tap, the remote peer's pcapng output and the tests. Each concept lives in
// its own file; see each file's header for its contract.

export { BUFFER_NAME, CAPTURE_ERRORS, CaptureFormatError, WRITE_ERRORS } from './errors.ts';
export type { CaptureErrorCode } from './errors.ts';
export { isValidLinkType, LINKTYPE, LINKTYPE_MAX, linkTypeName } from './linktype.ts';
export { DEFAULT_CHUNK_SIZE, DEFAULT_WRITE_BUFFER, MAX_BLOCK_LEN, MAX_CAPLEN } from './limits.ts';
export { copyPacket } from './packet.ts';
export type {
  CaptureFormat,
  CaptureInterface,
  CaptureReader,
  CaptureReaderOptions,
  CapturedPacket,
  PacketDirection,
  PacketInput,
} from './packet.ts';
export { encodePcap, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, PcapWriter } from './pcap.ts';
export type { PcapWriterOptions } from './pcap.ts';
export {
  BLOCK_TYPE,
  encodePcapng,
  isValidTsresol,
  OPTION,
  PcapngWriter,
  TSRESOL_NSEC,
  TSRESOL_USEC,
  tsresolPow2,
  tsresolUnitsPerSecond,
} from './pcapng.ts';
export type { PcapngInterfaceSpec, PcapngWriterOptions } from './pcapng.ts';
export { openBufferReader, openCaptureReader, readCaptureBuffer } from './open.ts';
export type { CaptureTarget, SinkOptions } from './sink.ts';
