/*
 * openTun(name, { netns, up }?) → { fd, name }
 *   A layer-3 TUN device (IFF_TUN | IFF_NO_PI: each read or write is one bare IP packet). An
 *   empty name lets the kernel pick one (tunN); the name the kernel used is returned. The device
 *   lives in the namespace the character device was opened in and disappears when the fd is
 *   closed (it is not made persistent). recvBurst/sendBurst on the fd read and write packets.
 *   With up: true the device is also brought up (SIOCSIFFLAGS IFF_UP): the kernel refuses writes
 *   to a TUN that is down (EIO), and a program that only injects packets has no other reason to
 *   run `ip link`.
 */
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
  bool up;
  if (!arg_string(env, argv[0], "name", name, sizeof name)) return NULL;
  if (!opt_netns(env, argv[1], netns, sizeof netns)) return NULL;
  if (!opt_bool(env, argv[1], "up", false, &up)) return NULL;

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
  if (fd >= 0 && up) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq flags;
    memset(&flags, 0, sizeof flags);
    memcpy(flags.ifr_name, ifr.ifr_name, IFNAMSIZ);
    bool raised = s >= 0 && ioctl(s, SIOCGIFFLAGS, &flags) == 0;
    if (raised) {
      flags.ifr_flags |= IFF_UP;
      raised = ioctl(s, SIOCSIFFLAGS, &flags) == 0;
    }
    if (!raised) {
      err = errno;
      call = "ioctl(SIOCSIFFLAGS)";
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
