/*
 * AF_PACKET sockets bound to one interface.
 *
 * openPacket(ifindex, { promiscuous, ring, frameBytes, ringFrames, bufferBytes, netns }) → fd
 *   SOCK_RAW and ETH_P_ALL (every frame, Ethernet header included), created with protocol 0 so
 *   nothing is queued before bind() narrows it to the interface. PACKET_IGNORE_OUTGOING: our
 *   own transmissions never come back to us. PACKET_AUXDATA: 802.1Q/802.1ad tags the kernel
 *   moved into metadata are put back into the frame at receive time (a router must see tags).
 *   With `ring` (the default) frames arrive in a TPACKET_V2 ring shared with the kernel by
 *   mmap: receiving costs no system call, and an empty poll costs none either. Without it,
 *   recvmmsg (one system call per burst). Transmit is sendmmsg either way (burst.c).
 *
 * Why TPACKET_V2 and not V3 for the ring: V3 hands user space whole blocks, which the kernel
 *   retires only when full or when a timer (milliseconds) fires, so a lightly loaded port adds
 *   up to that timeout of latency per packet; V2 hands over each frame as soon as it is written.
 *   V2 frames are fixed-size, so the ring spends frameBytes per slot whatever the packet size.
 * Why no TX ring: a TX ring still needs one send() per burst to kick the kernel, as sendmmsg
 *   does, and the kernel copies the frame either way; sendmmsg also says exactly which frame
 *   failed and why (EMSGSIZE, ENOBUFS), where a TX ring either stalls on a malformed frame or,
 *   with PACKET_LOSS, discards it without a trace.
 *
 * packetStats(fd) → { packets, drops, checksumPartial }: PACKET_STATISTICS (the kernel resets
 *   both on read). packets counts every frame the socket saw, drops included; drops counts
 *   frames lost because the ring (or the receive buffer) was full. checksumPartial (the addon's
 *   count, also reset on read) is the frames received with TP_STATUS_CSUMNOTREADY.
 */
#include <errno.h>
#include <net/ethernet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "addon.h"

/* Receive frames the ring holds by default: four batches of the data plane's largest burst. */
#define DEFAULT_RING_FRAMES 1024
#define MAX_RING_FRAMES 65536
/* Default frame room: an Ethernet frame of MTU 1500 with two tags fits with room to spare. */
#define DEFAULT_FRAME_BYTES 2048
#define MAX_FRAME_BYTES 65536
/* Socket buffers: a burst of full-size frames in flight both ways, beyond the default ~200 KiB. */
#define DEFAULT_BUFFER_BYTES (4 << 20)
/* Ring blocks: big enough to hold several frames, small enough for an order-4 allocation. */
#define RING_BLOCK_MIN (64 << 10)
/* Where the kernel puts the MAC header of a V2 frame: TPACKET_ALIGN(TPACKET2_HDRLEN + 16). */
#define V2_NET_OFFSET TPACKET_ALIGN(TPACKET2_HDRLEN + 16)

static int set_int(int s, int level, int name, int value) {
  return setsockopt(s, level, name, &value, sizeof value);
}

/* Root (CAP_NET_ADMIN) may exceed net.core.[rw]mem_max; anyone else gets what the cap allows. */
static void set_buffer(int s, int force, int plain, int bytes) {
  if (set_int(s, SOL_SOCKET, force, bytes) < 0) set_int(s, SOL_SOCKET, plain, bytes);
}

static int setup_ring(int s, struct rx_ring *ring, uint32_t frame_bytes, uint32_t frames, const char **call) {
  *call = "setsockopt(PACKET_VERSION)";
  if (set_int(s, SOL_PACKET, PACKET_VERSION, TPACKET_V2) < 0) return -1;
  uint32_t frame_size = TPACKET_ALIGN(V2_NET_OFFSET + frame_bytes);
  uint32_t block = (uint32_t)sysconf(_SC_PAGESIZE);
  while (block < frame_size || block < RING_BLOCK_MIN) block <<= 1;
  uint32_t per_block = block / frame_size;
  uint32_t blocks = (frames + per_block - 1) / per_block;
  struct tpacket_req req = {
    .tp_block_size = block,
    .tp_block_nr = blocks,
    .tp_frame_size = frame_size,
    .tp_frame_nr = blocks * per_block,
  };
  *call = "setsockopt(PACKET_RX_RING)";
  if (setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return -1;
  size_t bytes = (size_t)block * blocks;
  *call = "mmap";
  void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
  if (map == MAP_FAILED) return -1;
  ring->map = map;
  ring->map_bytes = bytes;
  ring->frame_size = frame_size;
  ring->frame_nr = req.tp_frame_nr;
  ring->block_size = block;
  ring->frames_per_block = per_block;
  ring->head = 0;
  return 0;
}

napi_value js_open_packet(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!arg_count(env, info, 2, argv, NULL)) return NULL;
  int64_t ifindex, frame_bytes, frames, buffer;
  bool promiscuous, use_ring;
  char netns[256];
  if (!arg_int(env, argv[0], "ifindex", 1, INT32_MAX, &ifindex)) return NULL;
  if (!opt_bool(env, argv[1], "promiscuous", false, &promiscuous)) return NULL;
  if (!opt_bool(env, argv[1], "ring", true, &use_ring)) return NULL;
  if (!opt_int(env, argv[1], "frameBytes", 64, MAX_FRAME_BYTES, DEFAULT_FRAME_BYTES, &frame_bytes)) return NULL;
  if (!opt_int(env, argv[1], "ringFrames", 16, MAX_RING_FRAMES, DEFAULT_RING_FRAMES, &frames)) return NULL;
  if (!opt_int(env, argv[1], "bufferBytes", 65536, INT32_MAX, DEFAULT_BUFFER_BYTES, &buffer)) return NULL;
  if (!opt_netns(env, argv[1], netns, sizeof netns)) return NULL;

  int saved = netns_enter(env, netns);
  if (saved == -2) return NULL;
  int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = s < 0 ? errno : 0;
  netns_leave(saved);
  if (s < 0) return throw_errno(env, "socket(AF_PACKET)", err, NULL);

  struct rx_ring ring = { 0 };
  const char *call = "setsockopt(PACKET_IGNORE_OUTGOING)";
  if (set_int(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1) < 0) goto fail;
  call = "setsockopt(PACKET_AUXDATA)";
  if (set_int(s, SOL_PACKET, PACKET_AUXDATA, 1) < 0) goto fail;
  set_buffer(s, SO_RCVBUFFORCE, SO_RCVBUF, (int)buffer);
  set_buffer(s, SO_SNDBUFFORCE, SO_SNDBUF, (int)buffer);
  if (use_ring && setup_ring(s, &ring, (uint32_t)frame_bytes, (uint32_t)frames, &call) < 0) goto fail;

  struct sockaddr_ll sll = {
    .sll_family = AF_PACKET,
    .sll_protocol = htons(ETH_P_ALL),
    .sll_ifindex = (int)ifindex,
  };
  call = "bind(AF_PACKET)";
  if (bind(s, (struct sockaddr *)&sll, sizeof sll) < 0) goto fail;
  if (promiscuous) {
    struct packet_mreq mr = { .mr_ifindex = (int)ifindex, .mr_type = PACKET_MR_PROMISC };
    call = "setsockopt(PACKET_ADD_MEMBERSHIP)";
    if (setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) goto fail;
  }

  struct instance *in = instance_of(env);
  struct fd_entry *e = entry_add(env, in, s, use_ring ? FD_PACKET_RING : FD_PACKET);
  if (!e) {
    if (ring.map) munmap(ring.map, ring.map_bytes);
    return NULL;
  }
  e->ring = ring;
  return make_u32(env, (uint32_t)s);

fail:
  err = errno;
  if (ring.map) munmap(ring.map, ring.map_bytes);
  close(s);
  return throw_errno(env, call, err, NULL);
}

napi_value js_packet_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!arg_count(env, info, 1, argv, NULL)) return NULL;
  int64_t fd;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  if (getsockopt((int)fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) return throw_errno(env, "getsockopt(PACKET_STATISTICS)", errno, NULL);
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "packets", make_u32(env, st.tp_packets));
  napi_set_named_property(env, result, "drops", make_u32(env, st.tp_drops));
  struct fd_entry *e = entry_find(instance_of(env), (int)fd);
  napi_set_named_property(env, result, "checksumPartial", make_u32(env, e ? e->checksum_partial : 0));
  if (e) e->checksum_partial = 0;
  return result;
}
