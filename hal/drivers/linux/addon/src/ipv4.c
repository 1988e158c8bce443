/*
 * Raw IPv4 sockets: the host's own IP stack as a medium.
 *
 * openRawIpv4(protocol, bindAddress?, { netns }?) → fd
 *   Receives every IPv4 packet of `protocol` (47: GRE) that this host accepts, header included
 *   (recvBurst works on it), only those addressed to bindAddress when one is given (what the
 *   socket queued before bind() narrowed it is discarded). The kernel still runs its own handler
 *   for the protocol as well; this socket gets a copy.
 * openIpv4Sender({ netns }?) → fd
 *   IPPROTO_RAW (IP_HDRINCL): sendIpv4Burst hands whole IPv4 packets to the kernel, which routes
 *   each by its destination address. The kernel rewrites the total length (to the length sent)
 *   and the header checksum, and picks an ID when it is 0; everything else goes as given, and a
 *   packet larger than the route's MTU is refused (EMSGSIZE), never fragmented.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include "addon.h"

/* Receive buffer: a burst of large GRE replicas queued between two polls. */
#define RAW_BUFFER_BYTES (4 << 20)

static int open_raw(napi_env env, const char *netns, int protocol, const char *what) {
  int saved = netns_enter(env, netns);
  if (saved == -2) return -1;
  int s = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  int err = s < 0 ? errno : 0;
  netns_leave(saved);
  if (s < 0) {
    throw_errno(env, what, err, NULL);
    return -1;
  }
  return s;
}

napi_value js_open_raw_ipv4(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!arg_count(env, info, 3, argv, NULL)) return NULL;
  int64_t protocol;
  char address[INET_ADDRSTRLEN];
  char netns[256];
  if (!arg_int(env, argv[0], "protocol", 1, 254, &protocol)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  struct sockaddr_in sin = { .sin_family = AF_INET };
  bool bound = t != napi_undefined && t != napi_null;
  if (bound) {
    if (!arg_string(env, argv[1], "bindAddress", address, sizeof address)) return NULL;
    if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) return throw_range(env, "bindAddress must be a dotted IPv4 address");
  }
  if (!opt_netns(env, argv[2], netns, sizeof netns)) return NULL;
  int s = open_raw(env, netns, (int)protocol, "socket(AF_INET, SOCK_RAW)");
  if (s < 0) return NULL;
  int buffer = RAW_BUFFER_BYTES;
  if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) < 0) setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  if (bound && bind(s, (struct sockaddr *)&sin, sizeof sin) < 0) {
    int err = errno;
    close(s);
    return throw_errno(env, "bind", err, address);
  }
  /* Until bind() the socket took every packet of the protocol, for any address: discard those,
   * so that what recvBurst returns is only what was addressed to bindAddress. */
  if (bound) {
    char sink[1];
    while (recv(s, sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC) >= 0) {}
  }
  if (!entry_add(env, instance_of(env), s, FD_RAW_IPV4)) return NULL;
  return make_u32(env, (uint32_t)s);
}

napi_value js_open_ipv4_sender(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!arg_count(env, info, 1, argv, NULL)) return NULL;
  char netns[256];
  if (!opt_netns(env, argv[0], netns, sizeof netns)) return NULL;
  int s = open_raw(env, netns, IPPROTO_RAW, "socket(AF_INET, SOCK_RAW, IPPROTO_RAW)");
  if (s < 0) return NULL;
  int on = 1;
  if (setsockopt(s, IPPROTO_IP, IP_HDRINCL, &on, sizeof on) < 0) {
    int err = errno;
    close(s);
    return throw_errno(env, "setsockopt(IP_HDRINCL)", err, NULL);
  }
  int buffer = RAW_BUFFER_BYTES;
  if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) < 0) setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  if (!entry_add(env, instance_of(env), s, FD_IPV4_SENDER)) return NULL;
  return make_u32(env, (uint32_t)s);
}
