/*
 * openTun(name, { netns, up, ipv4 }?) → { fd, name }
 *   A layer-3 TUN device (IFF_TUN | IFF_NO_PI: each read or write is one bare IP packet). An
 *   empty name lets the kernel pick one (tunN); the name the kernel used is returned. The device
 *   lives in the namespace the character device was opened in and disappears when the fd is
 *   closed (it is not made persistent). recvBurst/sendBurst on the fd read and write packets.
 *   With up: true the device is also brought up (SIOCSIFFLAGS IFF_UP): the kernel refuses writes
 *   to a TUN that is down (EIO), and a program that only injects packets has no other reason to
 *   run `ip link`. With ipv4: "a.b.c.d" the device also gets that address with a /32 mask
 *   (SIOCSIFADDR, SIOCSIFNETMASK: no subnet route): Linux's reverse-path filter, in strict and
 *   loose mode alike, drops every packet received on an interface that has no IPv4 address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "addon.h"

napi_value js_open_tun(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!arg_count(env, info, 2, argv, NULL)) return NULL;
  char name[IFNAMSIZ];
  char netns[256];
  char address[INET_ADDRSTRLEN];
  bool up;
  if (!arg_string(env, argv[0], "name", name, sizeof name)) return NULL;
  if (!opt_netns(env, argv[1], netns, sizeof netns)) return NULL;
  if (!opt_bool(env, argv[1], "up", false, &up)) return NULL;
  if (!opt_string(env, argv[1], "ipv4", address, sizeof address)) return NULL;
  struct sockaddr_in sin = { .sin_family = AF_INET };
  bool addressed = address[0] != 0;
  if (addressed && inet_pton(AF_INET, address, &sin.sin_addr) != 1) return throw_range(env, "options.ipv4 must be a dotted IPv4 address");

  int saved = netns_enter(env, netns);
  if (saved == -2) return NULL;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  int err = fd < 0 ? errno : 0;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  const char *call = "open(/dev/net/tun)";
  if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0) {
    err = errno;
    call = "ioctl(TUNSETIFF)";
    close(fd);
    fd = -1;
  }
  if (fd >= 0 && (up || addressed)) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq req;
    bool done = s >= 0;
    if (done && addressed) {
      memset(&req, 0, sizeof req);
      memcpy(req.ifr_name, ifr.ifr_name, IFNAMSIZ);
      memcpy(&req.ifr_addr, &sin, sizeof sin);
      call = "ioctl(SIOCSIFADDR)";
      done = ioctl(s, SIOCSIFADDR, &req) == 0;
      if (done) {
        struct sockaddr_in mask = { .sin_family = AF_INET, .sin_addr.s_addr = INADDR_NONE };
        memcpy(&req.ifr_netmask, &mask, sizeof mask);
        call = "ioctl(SIOCSIFNETMASK)";
        done = ioctl(s, SIOCSIFNETMASK, &req) == 0;
      }
    }
    if (done && up) {
      memset(&req, 0, sizeof req);
      memcpy(req.ifr_name, ifr.ifr_name, IFNAMSIZ);
      call = "ioctl(SIOCSIFFLAGS)";
      done = ioctl(s, SIOCGIFFLAGS, &req) == 0;
      if (done) {
        req.ifr_flags |= IFF_UP;
        done = ioctl(s, SIOCSIFFLAGS, &req) == 0;
      }
    }
    if (!done) {
      err = errno;
      if (s < 0) call = "socket";
      close(fd);
      fd = -1;
    }
    if (s >= 0) close(s);
  }
  netns_leave(saved);
  if (fd < 0) return throw_errno(env, call, err, name[0] ? name : NULL);

  if (!entry_add(env, instance_of(env), fd, FD_TUN)) return NULL;
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "fd", make_u32(env, (uint32_t)fd));
  napi_set_named_property(env, result, "name", make_string(env, ifr.ifr_name));
  return result;
}
