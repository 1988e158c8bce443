/*
 * openTransparentListener(address, port, { netns, backlog }?) → fd
 *   A listening TCP socket (AF_INET, SOCK_STREAM) with SO_REUSEADDR and IP_TRANSPARENT, bound to
 *   address:port ("0.0.0.0": every address; port 0: one the kernel picks) and listening with
 *   `backlog` (default 511, Node's).
 *   IP_TRANSPARENT is what lets a transparent cache answer connections addressed to *other*
 *   hosts: the kernel delivers such a SYN locally when policy routing says so (a `local` route),
 *   but it refuses to send the SYN-ACK, or anything after it, from a source address this host
 *   does not hold unless the socket is transparent (the route lookup then carries
 *   FLOWI_FLAG_ANYSRC); accepted connections inherit the flag. Needs CAP_NET_RAW or CAP_NET_ADMIN.
 *
 * The fd is not recorded in the addon's registry and no addon call takes it: it is the caller's
 * to hand to Node (net.Server#listen({ fd })), whose handle owns and closes it from then on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "addon.h"

/* Node's default listen backlog. */
#define DEFAULT_BACKLOG 511
/* listen(2) caps the backlog at net.core.somaxconn; larger values are a caller's mistake. */
#define MAX_BACKLOG 65535

napi_value js_open_transparent_listener(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!arg_count(env, info, 3, argv, NULL)) return NULL;
  char address[INET_ADDRSTRLEN];
  char netns[256];
  int64_t port, backlog;
  if (!arg_string(env, argv[0], "address", address, sizeof address)) return NULL;
  if (!arg_int(env, argv[1], "port", 0, 65535, &port)) return NULL;
  if (!opt_netns(env, argv[2], netns, sizeof netns)) return NULL;
  if (!opt_int(env, argv[2], "backlog", 1, MAX_BACKLOG, DEFAULT_BACKLOG, &backlog)) return NULL;
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) return throw_range(env, "address must be a dotted IPv4 address");

  int saved = netns_enter(env, netns);
  if (saved == -2) return NULL;
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = s < 0 ? errno : 0;
  netns_leave(saved);
  if (s < 0) return throw_errno(env, "socket(AF_INET, SOCK_STREAM)", err, NULL);

  int on = 1;
  const char *call = NULL;
  if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0) call = "setsockopt(SO_REUSEADDR)";
  else if (setsockopt(s, SOL_IP, IP_TRANSPARENT, &on, sizeof on) < 0) call = "setsockopt(IP_TRANSPARENT)";
  else if (bind(s, (struct sockaddr *)&sin, sizeof sin) < 0) call = "bind";
  else if (listen(s, (int)backlog) < 0) call = "listen";
  if (call) {
    err = errno;
    close(s);
    char where[INET_ADDRSTRLEN + 8];
    snprintf(where, sizeof where, "%s:%u", address, (unsigned)port);
    return throw_errno(env, call, err, where);
  }
  return make_u32(env, (uint32_t)s);
}
