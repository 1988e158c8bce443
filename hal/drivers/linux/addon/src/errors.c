/*
 * Errors as JS values. A failed system call becomes an Error whose message names the call, the
 * errno name and what usually fixes it, with the same facts as properties (`syscall`, `code`,
 * `errno`, `hint`) so callers can branch on them without parsing text.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include "addon.h"

#define MESSAGE_BYTES 512

static const char *hint_for(int err) {
  switch (err) {
    case EPERM:
    case EACCES: return "needs root or CAP_NET_RAW";
    case ENODEV: return "no such interface in this network namespace";
    case ENXIO: return "the interface is gone or down";
    case ENETDOWN: return "the interface is down";
    case EBADF: return "not an open file descriptor (closed already?)";
    case ENOTSOCK: return "the file descriptor is not a socket";
    case EMSGSIZE: return "the frame is larger than the interface MTU allows";
    case ENOENT: return "no such file (is the namespace or /dev/net/tun there?)";
    case EBUSY: return "already in use";
    case EADDRINUSE: return "the address and port are in use (another server listening there?)";
    case EADDRNOTAVAIL: return "not an address of this machine";
    default: return "";
  }
}

static void set_prop(napi_env env, napi_value obj, const char *key, napi_value v) {
  napi_set_named_property(env, obj, key, v);
}

napi_value throw_errno(napi_env env, const char *syscall, int err, const char *context) {
  const char *code = uv_err_name(-err);
  const char *hint = hint_for(err);
  char message[MESSAGE_BYTES];
  snprintf(message, sizeof message, "%s%s%s %s: %s%s%s", context ? context : "", context ? ": " : "", syscall, code,
           strerror(err), *hint ? " — " : "", hint);
  napi_value msg, error, code_v;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v);
  napi_create_error(env, code_v, msg, &error);
  set_prop(env, error, "syscall", make_string(env, syscall));
  set_prop(env, error, "errno", make_f64(env, err));
  set_prop(env, error, "hint", make_string(env, hint));
  napi_throw(env, error);
  return NULL;
}

napi_value throw_arg(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

napi_value throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", message);
  return NULL;
}
