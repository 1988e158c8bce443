/*
 * Bursts: frames between the data plane's memory and an fd, no allocation, no blocking.
 *
 * recvBurst(fd, mem, addrs, room, lens, wireLens, max) → n
 *   Writes up to `max` frames, frame i at mem[addrs[i]] (at most `room` bytes), lens[i] the
 *   bytes written, wireLens[i] the frame's length on the wire (> lens[i]: it was truncated).
 *   Stops when nothing more is queued (EAGAIN). On AF_PACKET sockets the tag the kernel took
 *   out of the frame (802.1Q, or the outer 802.1ad tag of QinQ) is put back after the MAC
 *   addresses, so the frame is byte-identical to the one on the wire; wireLens count it.
 *   Per kind: packet ring → read the mmap ring (no system call); packet socket → recvmmsg with
 *   PACKET_AUXDATA; raw IPv4 → recvmmsg (whole IPv4 packets); TUN → one readv per packet.
 *   Frames whose transport checksum the kernel has not computed yet (TP_STATUS_CSUMNOTREADY: a
 *   local sender with checksum offload, typically across a veth) are counted per fd and
 *   reported by packetStats as checksumPartial; they are delivered as they are.
 * sendBurst(fd, mem, addrs, lens, n) → sent
 *   Sends frames in order (sendmmsg; TUN: write), stopping at the first the kernel cannot take
 *   now (EAGAIN, ENOBUFS); the caller counts the rest. A frame the kernel refuses (EMSGSIZE, ...)
 *   throws when it is the first of the call; when it is not, the call returns the frames before
 *   it, and a call that starts at it throws.
 * sendIpv4Burst(fd, mem, addrs, lens, n) → sent
 *   As sendBurst, for whole IPv4 packets on an openIpv4Sender() fd: each goes to the
 *   destination address in its own header.
 * rxPending(fd, max) → n: frames waiting in a packet ring, counted up to max (no system call),
 *   so a receiver takes only as many free frames as it will fill; other fds: max (unknown).
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <net/ethernet.h>
#include <arpa/inet.h>
#include "addon.h"

/* The smallest room a receive frame may have: a minimum Ethernet frame (without FCS). */
#define MIN_ROOM 60
#define MAX_ROOM 65535
#define IPV4_HEADER_MIN 20
#define IPV4_DADDR_OFFSET 16

struct recv_args {
  int fd;
  struct bytes_arg mem;
  struct u32_arg addrs, lens, wire;
  uint32_t room, max;
};

static inline bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

static inline uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static inline void put_tag(uint8_t *at, uint16_t tpid, uint16_t tci) {
  at[0] = tpid >> 8;
  at[1] = tpid & 0xff;
  at[2] = tci >> 8;
  at[3] = tci & 0xff;
}

/* Copies a frame out of the ring, re-inserting a stripped tag; returns bytes written (≤ room). */
static uint32_t copy_frame(uint8_t *out, uint32_t room, const uint8_t *src, uint32_t snap, bool tagged, uint16_t tpid, uint16_t tci) {
  if (!tagged || snap < MAC_ADDRS_LEN) {
    uint32_t n = min_u32(snap, room);
    memcpy(out, src, n);
    return n;
  }
  memcpy(out, src, MAC_ADDRS_LEN);
  put_tag(out + MAC_ADDRS_LEN, tpid, tci);
  uint32_t rest = min_u32(snap - MAC_ADDRS_LEN, room - MAC_ADDRS_LEN - VLAN_TAG_LEN);
  memcpy(out + MAC_ADDRS_LEN + VLAN_TAG_LEN, src + MAC_ADDRS_LEN, rest);
  return MAC_ADDRS_LEN + VLAN_TAG_LEN + rest;
}

static inline struct tpacket2_hdr *ring_frame(const struct rx_ring *r, uint32_t index) {
  size_t block = index / r->frames_per_block;
  size_t within = index % r->frames_per_block;
  return (struct tpacket2_hdr *)(r->map + block * r->block_size + within * r->frame_size);
}

static uint32_t ring_recv(struct fd_entry *e, const struct recv_args *a) {
  struct rx_ring *r = &e->ring;
  uint32_t n = 0;
  while (n < a->max) {
    struct tpacket2_hdr *h = ring_frame(r, r->head);
    /* Acquire: the frame's bytes and header fields are the kernel's until TP_STATUS_USER is seen. */
    uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
    if (!(status & TP_STATUS_USER)) break;
    /* libpcap's rule: a tag was stripped when the kernel says so, or (older kernels) the TCI is set. */
    bool tagged = (status & TP_STATUS_VLAN_VALID) || h->tp_vlan_tci != 0;
    if (status & TP_STATUS_CSUMNOTREADY) e->checksum_partial++;
    uint16_t tpid = (status & TP_STATUS_VLAN_TPID_VALID) ? h->tp_vlan_tpid : ETH_P_8021Q;
    const uint8_t *frame = (const uint8_t *)h + h->tp_mac;
    a->lens.data[n] = copy_frame(a->mem.data + a->addrs.data[n], a->room, frame, h->tp_snaplen, tagged, tpid, h->tp_vlan_tci);
    a->wire.data[n] = h->tp_len + (tagged && h->tp_snaplen >= MAC_ADDRS_LEN ? VLAN_TAG_LEN : 0);
    /* Release: our reads of the frame are done before the kernel may reuse it. */
    __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    r->head = r->head + 1 == r->frame_nr ? 0 : r->head + 1;
    n++;
  }
  return n;
}

static bool auxdata_tag(struct fd_entry *e, struct msghdr *m, uint16_t *tpid, uint16_t *tci) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
    if (c->cmsg_len < CMSG_LEN(sizeof(struct tpacket_auxdata))) continue;
    struct tpacket_auxdata aux;
    memcpy(&aux, CMSG_DATA(c), sizeof aux);
    if (aux.tp_status & TP_STATUS_CSUMNOTREADY) e->checksum_partial++;
    if (!((aux.tp_status & TP_STATUS_VLAN_VALID) || aux.tp_vlan_tci != 0)) return false;
    *tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q;
    *tci = aux.tp_vlan_tci;
    return true;
  }
  return false;
}

/*
 * recvmmsg into the frames. With auxdata (packet sockets) each frame is received into its first
 * room − 4 bytes plus a 4-byte side tail, so a tag can be re-inserted without losing the bytes
 * it displaces, and an untagged frame costs only the copy of that tail.
 */
static int mmsg_recv(napi_env env, struct instance *in, struct fd_entry *packet, const struct recv_args *a, uint32_t *out) {
  bool aux = packet != NULL;
  uint32_t main_bytes = aux ? a->room - VLAN_TAG_LEN : a->room;
  for (uint32_t i = 0; i < a->max; i++) {
    struct msghdr *m = &in->msgs[i].msg_hdr;
    memset(m, 0, sizeof *m);
    in->iov[i][0].iov_base = a->mem.data + a->addrs.data[i];
    in->iov[i][0].iov_len = main_bytes;
    in->iov[i][1].iov_base = in->tails[i];
    in->iov[i][1].iov_len = VLAN_TAG_LEN;
    m->msg_iov = in->iov[i];
    m->msg_iovlen = aux ? 2 : 1;
    if (aux) {
      m->msg_control = in->control[i].bytes;
      m->msg_controllen = sizeof in->control[i].bytes;
    }
  }
  int r;
  do r = recvmmsg(a->fd, in->msgs, a->max, MSG_DONTWAIT | MSG_TRUNC, NULL);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (would_block(errno)) { *out = 0; return 0; }
    throw_errno(env, "recvmmsg", errno, NULL);
    return -1;
  }
  for (int i = 0; i < r; i++) {
    uint8_t *frame = a->mem.data + a->addrs.data[i];
    uint32_t wire = in->msgs[i].msg_len; /* MSG_TRUNC: the whole length, even when cut */
    uint32_t got = min_u32(wire, a->room);
    uint16_t tpid, tci;
    if (aux && auxdata_tag(packet, &in->msgs[i].msg_hdr, &tpid, &tci) && got >= MAC_ADDRS_LEN) {
      uint32_t in_main = min_u32(got, main_bytes);
      memmove(frame + MAC_ADDRS_LEN + VLAN_TAG_LEN, frame + MAC_ADDRS_LEN, in_main - MAC_ADDRS_LEN);
      put_tag(frame + MAC_ADDRS_LEN, tpid, tci);
      a->lens.data[i] = min_u32(got + VLAN_TAG_LEN, a->room);
      a->wire.data[i] = wire + VLAN_TAG_LEN;
    } else {
      if (aux && got > main_bytes) memcpy(frame + main_bytes, in->tails[i], got - main_bytes);
      a->lens.data[i] = got;
      a->wire.data[i] = wire;
    }
  }
  *out = (uint32_t)r;
  return 0;
}

/* TUN: one packet per readv; the side buffer takes what does not fit, so the length is exact. */
static int tun_read(napi_env env, struct instance *in, const struct recv_args *a, uint32_t *out) {
  uint32_t n = 0;
  while (n < a->max) {
    struct iovec iov[2] = {
      { .iov_base = a->mem.data + a->addrs.data[n], .iov_len = a->room },
      { .iov_base = in->tun_scratch, .iov_len = sizeof in->tun_scratch },
    };
    ssize_t r = readv(a->fd, iov, 2);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (would_block(errno) || n > 0) break;
      throw_errno(env, "readv", errno, "tun");
      return -1;
    }
    a->lens.data[n] = min_u32((uint32_t)r, a->room);
    a->wire.data[n] = (uint32_t)r;
    n++;
  }
  *out = n;
  return 0;
}

napi_value js_recv_burst(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!arg_count(env, info, 7, argv, NULL)) return NULL;
  struct recv_args a;
  int64_t fd, room, max;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  if (!arg_u8(env, argv[1], "mem", &a.mem)) return NULL;
  if (!arg_int(env, argv[3], "room", MIN_ROOM, MAX_ROOM, &room)) return NULL;
  if (!arg_int(env, argv[6], "max", 0, BURST_MAX, &max)) return NULL;
  if (!arg_u32(env, argv[2], "addrs", (size_t)max, &a.addrs)) return NULL;
  if (!arg_u32(env, argv[4], "lens", (size_t)max, &a.lens)) return NULL;
  if (!arg_u32(env, argv[5], "wireLens", (size_t)max, &a.wire)) return NULL;
  a.fd = (int)fd;
  a.room = (uint32_t)room;
  a.max = (uint32_t)max;
  if (!check_frames(env, &a.mem, a.addrs.data, NULL, a.room, a.max)) return NULL;
  if (a.max == 0) return make_u32(env, 0);

  struct instance *in = instance_of(env);
  struct fd_entry *e = entry_find(in, a.fd);
  uint32_t n = 0;
  int rc = 0;
  switch (e ? e->kind : FD_UNKNOWN) {
    case FD_PACKET_RING: n = ring_recv(e, &a); break;
    case FD_PACKET: rc = mmsg_recv(env, in, e, &a, &n); break;
    case FD_TUN: rc = tun_read(env, in, &a, &n); break;
    default: rc = mmsg_recv(env, in, NULL, &a, &n); break;
  }
  if (rc < 0) return NULL;
  return make_u32(env, n);
}

/* sendmmsg until done or the kernel pushes back; see the file comment for errors. */
static int mmsg_send(napi_env env, struct instance *in, int fd, uint32_t n, uint32_t *out) {
  uint32_t sent = 0;
  while (sent < n) {
    int r = sendmmsg(fd, in->msgs + sent, n - sent, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (would_block(errno) || errno == ENOBUFS || sent > 0) break;
      throw_errno(env, "sendmmsg", errno, NULL);
      return -1;
    }
    if (r == 0) break;
    sent += (uint32_t)r;
  }
  *out = sent;
  return 0;
}

static int tun_write(napi_env env, int fd, const struct bytes_arg *mem, const uint32_t *addrs, const uint32_t *lens, uint32_t n, uint32_t *out) {
  uint32_t sent = 0;
  while (sent < n) {
    ssize_t r = write(fd, mem->data + addrs[sent], lens[sent]);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (would_block(errno) || errno == ENOBUFS || sent > 0) break;
      throw_errno(env, "write", errno, "tun");
      return -1;
    }
    sent++;
  }
  *out = sent;
  return 0;
}

struct send_args {
  int fd;
  struct bytes_arg mem;
  struct u32_arg addrs, lens;
  uint32_t n;
};

static bool send_args(napi_env env, napi_callback_info info, struct send_args *a) {
  napi_value argv[5];
  int64_t fd, n;
  if (!arg_count(env, info, 5, argv, NULL)) return false;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return false;
  if (!arg_u8(env, argv[1], "mem", &a->mem)) return false;
  if (!arg_int(env, argv[4], "n", 0, BURST_MAX, &n)) return false;
  if (!arg_u32(env, argv[2], "addrs", (size_t)n, &a->addrs)) return false;
  if (!arg_u32(env, argv[3], "lens", (size_t)n, &a->lens)) return false;
  a->fd = (int)fd;
  a->n = (uint32_t)n;
  for (uint32_t i = 0; i < a->n; i++) {
    if (a->lens.data[i] == 0 || a->lens.data[i] > MAX_ROOM) {
      throw_range(env, "lens: every frame must have 1..65535 bytes");
      return false;
    }
  }
  return check_frames(env, &a->mem, a->addrs.data, a->lens.data, 0, a->n);
}

static void prepare_msgs(struct instance *in, const struct send_args *a) {
  for (uint32_t i = 0; i < a->n; i++) {
    struct msghdr *m = &in->msgs[i].msg_hdr;
    memset(m, 0, sizeof *m);
    in->iov[i][0].iov_base = a->mem.data + a->addrs.data[i];
    in->iov[i][0].iov_len = a->lens.data[i];
    m->msg_iov = in->iov[i];
    m->msg_iovlen = 1;
  }
}

napi_value js_send_burst(napi_env env, napi_callback_info info) {
  struct send_args a;
  if (!send_args(env, info, &a)) return NULL;
  if (a.n == 0) return make_u32(env, 0);
  struct instance *in = instance_of(env);
  struct fd_entry *e = entry_find(in, a.fd);
  uint32_t sent = 0;
  int rc;
  if (e && e->kind == FD_TUN) {
    rc = tun_write(env, a.fd, &a.mem, a.addrs.data, a.lens.data, a.n, &sent);
  } else {
    prepare_msgs(in, &a);
    rc = mmsg_send(env, in, a.fd, a.n, &sent);
  }
  if (rc < 0) return NULL;
  return make_u32(env, sent);
}

napi_value js_send_ipv4_burst(napi_env env, napi_callback_info info) {
  struct send_args a;
  if (!send_args(env, info, &a)) return NULL;
  if (a.n == 0) return make_u32(env, 0);
  struct instance *in = instance_of(env);
  prepare_msgs(in, &a);
  for (uint32_t i = 0; i < a.n; i++) {
    const uint8_t *ip = a.mem.data + a.addrs.data[i];
    if (a.lens.data[i] < IPV4_HEADER_MIN || (ip[0] >> 4) != 4) return throw_range(env, "sendIpv4Burst: every packet must start with an IPv4 header");
    struct sockaddr_in *d = &in->dst[i];
    memset(d, 0, sizeof *d);
    d->sin_family = AF_INET;
    memcpy(&d->sin_addr, ip + IPV4_DADDR_OFFSET, 4);
    in->msgs[i].msg_hdr.msg_name = d;
    in->msgs[i].msg_hdr.msg_namelen = sizeof *d;
  }
  uint32_t sent = 0;
  if (mmsg_send(env, in, a.fd, a.n, &sent) < 0) return NULL;
  return make_u32(env, sent);
}

napi_value js_rx_pending(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd, max;
  if (!arg_count(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  if (!arg_int(env, argv[1], "max", 0, BURST_MAX, &max)) return NULL;
  struct fd_entry *e = entry_find(instance_of(env), (int)fd);
  if (!e || e->kind != FD_PACKET_RING) return make_u32(env, (uint32_t)max);
  struct rx_ring *r = &e->ring;
  uint32_t n = 0;
  for (uint32_t at = r->head; n < (uint32_t)max; at = at + 1 == r->frame_nr ? 0 : at + 1, n++) {
    if (!(__atomic_load_n(&ring_frame(r, at)->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
  }
  return make_u32(env, n);
}
