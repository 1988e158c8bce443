/*
 * Module entry: one instance per Node environment (napi_set_instance_data), torn down with it
 * (every fd the environment still holds is closed, every watcher stopped).
 *
 * close(fd): stops the fd's watcher, unmaps its ring, closes it. Closing an fd twice throws
 * EBADF (the second close names no open file).
 * describe(fd) → { kind, ring? }: what the addon knows of an fd (tests and diagnostics).
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "addon.h"

static void teardown(napi_env env, void *data, void *hint) {
  struct instance *in = data;
  instance_teardown(in);
  free(in);
}

napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!arg_count(env, info, 1, argv, NULL)) return NULL;
  int64_t fd;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  entry_forget(instance_of(env), (int)fd);
  if (close((int)fd) < 0 && errno != EINTR) return throw_errno(env, "close", errno, NULL);
  return make_undefined(env);
}

static const char *kind_name(enum fd_kind k) {
  switch (k) {
    case FD_PACKET: return "packet";
    case FD_PACKET_RING: return "packet-ring";
    case FD_RAW_IPV4: return "raw-ipv4";
    case FD_IPV4_SENDER: return "ipv4-sender";
    case FD_TUN: return "tun";
    default: return "unknown";
  }
}

napi_value js_describe(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!arg_count(env, info, 1, argv, NULL)) return NULL;
  int64_t fd;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  struct fd_entry *e = entry_find(instance_of(env), (int)fd);
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "kind", make_string(env, kind_name(e ? e->kind : FD_UNKNOWN)));
  napi_set_named_property(env, result, "watched", make_bool(env, e && e->watcher));
  if (e && e->ring.map) {
    napi_value ring;
    napi_create_object(env, &ring);
    napi_set_named_property(env, ring, "frames", make_u32(env, e->ring.frame_nr));
    napi_set_named_property(env, ring, "frameSize", make_u32(env, e->ring.frame_size));
    napi_set_named_property(env, ring, "blockSize", make_u32(env, e->ring.block_size));
    napi_set_named_property(env, ring, "bytes", make_f64(env, (double)e->ring.map_bytes));
    napi_set_named_property(env, result, "ring", ring);
  }
  return result;
}

#define EXPORT(name, fn) { name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL }

NAPI_MODULE_INIT() {
  struct instance *in = calloc(1, sizeof *in);
  if (!in) {
    napi_throw_error(env, "ENOMEM", "twinflow linux addon: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, in, teardown, NULL) != napi_ok) {
    free(in);
    return NULL;
  }
  napi_property_descriptor props[] = {
    EXPORT("interfaceInfo", js_interface_info),
    EXPORT("openPacket", js_open_packet),
    EXPORT("packetStats", js_packet_stats),
    EXPORT("openRawIpv4", js_open_raw_ipv4),
    EXPORT("openIpv4Sender", js_open_ipv4_sender),
    EXPORT("openTun", js_open_tun),
    EXPORT("openTransparentListener", js_open_transparent_listener),
    EXPORT("recvBurst", js_recv_burst),
    EXPORT("sendBurst", js_send_burst),
    EXPORT("sendIpv4Burst", js_send_ipv4_burst),
    EXPORT("rxPending", js_rx_pending),
    EXPORT("watch", js_watch),
    EXPORT("unwatch", js_unwatch),
    EXPORT("close", js_close),
    EXPORT("describe", js_describe),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
