/*
 * interfaceInfo(name, { netns }?) → { index, mac: Uint8Array(6), mtu, up, running }
 * Four ioctls on a throwaway datagram socket (no privilege needed). `up` is IFF_UP (the
 * administrator's state); `running` is IFF_RUNNING (carrier).
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "addon.h"

static int query(int s, unsigned long request, struct ifreq *ifr, const char *name) {
  memset(ifr, 0, sizeof *ifr);
  memcpy(ifr->ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  return ioctl(s, request, ifr);
}

napi_value js_interface_info(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!arg_count(env, info, 2, argv, NULL)) return NULL;
  char name[IFNAMSIZ];
  char netns[256];
  if (!arg_string(env, argv[0], "name", name, sizeof name)) return NULL;
  if (!name[0]) return throw_range(env, "name must not be empty");
  if (!opt_netns(env, argv[1], netns, sizeof netns)) return NULL;

  int saved = netns_enter(env, netns);
  if (saved == -2) return NULL;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int err = s < 0 ? errno : 0;
  netns_leave(saved);
  if (s < 0) return throw_errno(env, "socket", err, NULL);

  struct ifreq ifr;
  int index, mtu;
  short flags;
  uint8_t mac[6];
  const char *call = "ioctl";
  if (query(s, SIOCGIFINDEX, &ifr, name) < 0) goto fail;
  index = ifr.ifr_ifindex;
  if (query(s, SIOCGIFMTU, &ifr, name) < 0) goto fail;
  mtu = ifr.ifr_mtu;
  if (query(s, SIOCGIFFLAGS, &ifr, name) < 0) goto fail;
  flags = ifr.ifr_flags;
  if (query(s, SIOCGIFHWADDR, &ifr, name) < 0) goto fail;
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  close(s);

  napi_value result, mac_ab, mac_v;
  void *mac_data;
  napi_create_object(env, &result);
  napi_create_arraybuffer(env, 6, &mac_data, &mac_ab);
  memcpy(mac_data, mac, 6);
  napi_create_typedarray(env, napi_uint8_array, 6, mac_ab, 0, &mac_v);
  napi_set_named_property(env, result, "name", make_string(env, name));
  napi_set_named_property(env, result, "index", make_u32(env, (uint32_t)index));
  napi_set_named_property(env, result, "mac", mac_v);
  napi_set_named_property(env, result, "mtu", make_u32(env, (uint32_t)mtu));
  napi_set_named_property(env, result, "up", make_bool(env, (flags & IFF_UP) != 0));
  napi_set_named_property(env, result, "running", make_bool(env, (flags & IFF_RUNNING) != 0));
  return result;

fail:
  err = errno;
  close(s);
  return throw_errno(env, call, err, name);
}
