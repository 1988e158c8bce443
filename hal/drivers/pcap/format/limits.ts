// Every size bound of the capture codecs, in one place, each with the reason for its value.
// Readers check a length field against these before they buffer anything it describes, so the
// memory a reader holds is at most max(chunkSize, MAX_BLOCK_LEN) whatever the file says.

/**
 * Largest captured length accepted or written: 256 KiB, libpcap's MAXIMUM_SNAPLEN (tcpdump's
 * default snaplen). Larger records do not occur in real captures, so a larger caplen means a
 * corrupt file, and refusing it caps what one record can make us buffer.
 */
export const MAX_CAPLEN = 262_144;

/**
 * Largest pcapng block that is parsed (held whole in memory): a maximal packet plus generous
 * room for options (comments up to 64 KiB each). Unknown blocks are skipped, not buffered, so
 * they may be any size a 32-bit length allows.
 */
export const MAX_BLOCK_LEN = 1_048_576;

/** Default read size: large enough that syscalls are rare, small enough to never matter. */
export const DEFAULT_CHUNK_SIZE = 1_048_576;

/** Default output buffering of the writers: one write(2)/stream chunk per MiB of records. */
export const DEFAULT_WRITE_BUFFER = 1_048_576;

/** Output buffering of encodePcap/encodePcapng: in-memory captures are small. */
export const ENCODE_BUFFER = 65_536;

/** Smallest output buffer accepted (room for any fixed header without special cases). */
export const MIN_WRITE_BUFFER = 64;
