/*
 * twinflow's Linux addon: raw packet I/O for the `linux` and `host` port drivers.
 *
 * Contract (shared by every file of the addon):
 *  - Every call is non-blocking: sockets and TUN devices are opened O_NONBLOCK, bursts stop at
 *    EAGAIN, nothing waits. Readiness comes from watch() (a libuv poll on the fd).
 *  - Every system-call failure becomes a JS Error with `syscall`, `code` (the errno name),
 *    `errno` and `hint`; arguments that break the contract (an address outside `mem`, a burst
 *    larger than BURST_MAX) become a RangeError/TypeError with code ERR_INVALID_ARG_VALUE.
 *  - Frame memory (`mem`) is a Uint8Array over an ArrayBuffer or a SharedArrayBuffer (wasm
 *    linear memory). Its address is taken on every call, never kept, and every frame address
 *    is checked against its length before the first byte moves.
 *  - State per fd (its kind, the mapped receive ring, its watcher) lives in the addon instance
 *    (one per Node environment: the main thread and each worker). An fd is used by the
 *    environment that opened it.
 */
#ifndef TWINFLOW_ADDON_H
#define TWINFLOW_ADDON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <node_api.h>

/* Frames one burst call moves at most: the data plane's largest batch (boards: batch ≤ 256). */
#define BURST_MAX 256
/* An 802.1Q/802.1ad tag: TPID and TCI, re-inserted after the two MAC addresses. */
#define VLAN_TAG_LEN 4
#define MAC_ADDRS_LEN 12
/* Largest packet a TUN read can return (IPv4/IPv6 total length is 16 bits). */
#define TUN_SCRATCH_BYTES 65536

enum fd_kind {
  FD_UNKNOWN = 0,  /* not opened by this addon: bursts use the socket calls and report errno */
  FD_PACKET,       /* AF_PACKET, SOCK_RAW, bound; receive by recvmmsg with PACKET_AUXDATA */
  FD_PACKET_RING,  /* AF_PACKET with a TPACKET_V2 receive ring (mmap), transmit by sendmmsg */
  FD_RAW_IPV4,     /* AF_INET, SOCK_RAW, one protocol: receives whole IPv4 packets */
  FD_IPV4_SENDER,  /* AF_INET, SOCK_RAW, IPPROTO_RAW (IP_HDRINCL): sends whole IPv4 packets */
  FD_TUN,          /* /dev/net/tun, IFF_TUN | IFF_NO_PI: one read/write per packet */
};

struct rx_ring {
  uint8_t *map;        /* MAP_SHARED with the kernel; NULL when the fd has no ring */
  size_t map_bytes;
  uint32_t frame_size; /* bytes per ring frame (tpacket2_hdr, sockaddr_ll, frame) */
  uint32_t frame_nr;
  uint32_t block_size;
  uint32_t frames_per_block; /* frames never straddle blocks: a block's tail may be unused */
  uint32_t head;       /* next frame the kernel hands to user space, in ring order */
};

struct watcher;

struct fd_entry {
  int fd;
  enum fd_kind kind;
  struct rx_ring ring;
  /* Frames received with TP_STATUS_CSUMNOTREADY since packetStats last read it. */
  uint32_t checksum_partial;
  struct watcher *watcher; /* at most one active libuv poll per fd */
};

/* Per-environment state; burst scratch lives here so bursts never allocate. */
struct instance {
  struct fd_entry **entries; /* indexed by fd */
  size_t capacity;
  uint32_t next_watch_id;
  struct watcher *watchers;  /* every live watcher, for unwatch(id) and teardown */
  struct mmsghdr msgs[BURST_MAX];
  struct iovec iov[BURST_MAX][2];
  uint8_t tails[BURST_MAX][VLAN_TAG_LEN];
  union {
    struct cmsghdr align;
    uint8_t bytes[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
  } control[BURST_MAX];
  struct sockaddr_in dst[BURST_MAX];
  uint8_t tun_scratch[TUN_SCRATCH_BYTES];
};

/* ── errors.c ── */
/* Throws an Error for a failed system call (errno `err`); returns NULL for the caller to return. */
napi_value throw_errno(napi_env env, const char *syscall, int err, const char *context);
napi_value throw_arg(napi_env env, const char *message);
napi_value throw_range(napi_env env, const char *message);

/* ── args.c ── */
struct bytes_arg { uint8_t *data; size_t length; };
struct u32_arg { uint32_t *data; size_t length; };
/* Each returns false after throwing. */
bool arg_count(napi_env env, napi_callback_info info, size_t want, napi_value *argv, size_t *argc);
bool arg_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out);
bool arg_u8(napi_env env, napi_value v, const char *name, struct bytes_arg *out);
bool arg_u32(napi_env env, napi_value v, const char *name, size_t need, struct u32_arg *out);
/* A string argument into buf (NUL-terminated); fails if it does not fit. */
bool arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t cap);
/* Optional property of an options object: present → true and *out set; absent → false. */
bool opt_bool(napi_env env, napi_value options, const char *key, bool fallback, bool *out);
bool opt_int(napi_env env, napi_value options, const char *key, int64_t min, int64_t max, int64_t fallback, int64_t *out);
/* options.<key>, a string, into buf (NUL-terminated); empty when absent. */
bool opt_string(napi_env env, napi_value options, const char *key, char *buf, size_t cap);
/* options.netns (a name under /run/netns or a path) into buf; empty when absent. */
bool opt_netns(napi_env env, napi_value options, char *buf, size_t cap);
napi_value make_u32(napi_env env, uint32_t v);
napi_value make_f64(napi_env env, double v);
napi_value make_bool(napi_env env, bool v);
napi_value make_string(napi_env env, const char *s);
napi_value make_undefined(napi_env env);
/* Frame addresses addrs[0..n) each with `room` bytes must lie inside mem. */
bool check_frames(napi_env env, const struct bytes_arg *mem, const uint32_t *addrs, const uint32_t *lens, uint32_t room, uint32_t n);

/* ── registry.c ── */
struct instance *instance_of(napi_env env);
struct fd_entry *entry_find(struct instance *in, int fd);
/* Records an fd this addon opened; on failure closes it and throws. */
struct fd_entry *entry_add(napi_env env, struct instance *in, int fd, enum fd_kind kind);
/* Stops the fd's watcher, unmaps its ring, forgets it (does not close the fd). */
void entry_forget(struct instance *in, int fd);
void instance_teardown(struct instance *in);

/* ── netns.c ── */
/* Moves this thread into the namespace at `path` (empty: stay); returns the fd to go back to,
 * -1 when nothing changed, -2 after throwing. */
int netns_enter(napi_env env, const char *path);
/* Returns the thread to its namespace; aborts the process if that fails (the thread would
 * otherwise keep running in the wrong namespace). */
void netns_leave(int saved);

/* ── watch.c ── */
void watcher_stop(struct instance *in, struct watcher *w);

/* ── exported functions ── */
napi_value js_interface_info(napi_env env, napi_callback_info info);
napi_value js_open_packet(napi_env env, napi_callback_info info);
napi_value js_packet_stats(napi_env env, napi_callback_info info);
napi_value js_open_raw_ipv4(napi_env env, napi_callback_info info);
napi_value js_open_ipv4_sender(napi_env env, napi_callback_info info);
napi_value js_open_tun(napi_env env, napi_callback_info info);
napi_value js_open_transparent_listener(napi_env env, napi_callback_info info);
napi_value js_recv_burst(napi_env env, napi_callback_info info);
napi_value js_send_burst(napi_env env, napi_callback_info info);
napi_value js_send_ipv4_burst(napi_env env, napi_callback_info info);
napi_value js_rx_pending(napi_env env, napi_callback_info info);
napi_value js_describe(napi_env env, napi_callback_info info);
napi_value js_watch(napi_env env, napi_callback_info info);
napi_value js_unwatch(napi_env env, napi_callback_info info);
napi_value js_close(napi_env env, napi_callback_info info);

#endif
