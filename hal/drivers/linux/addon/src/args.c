/*
 * Argument checks. JS callers are trusted to pass the right kinds (native.ts types them), but
 * never trusted with memory: every typed array is checked for its element type and length and
 * every frame address for its place inside `mem`, before any byte is read or written.
 */
#include <stdio.h>
#include <string.h>
#include "addon.h"

bool arg_count(napi_env env, napi_callback_info info, size_t want, napi_value *argv, size_t *argc) {
  size_t n = want;
  if (napi_get_cb_info(env, info, &n, argv, NULL, NULL) != napi_ok) return false;
  for (size_t i = n; i < want; i++) napi_get_undefined(env, &argv[i]);
  if (argc) *argc = n;
  return true;
}

bool arg_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  char msg[160];
  if (t != napi_number) {
    snprintf(msg, sizeof msg, "%s must be a number", name);
    throw_arg(env, msg);
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (d != (double)(int64_t)d || d < (double)min || d > (double)max) {
    snprintf(msg, sizeof msg, "%s must be an integer in %lld..%lld, got %g", name, (long long)min, (long long)max, d);
    throw_range(env, msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool typed(napi_env env, napi_value v, const char *name, napi_typedarray_type want, const char *want_name, void **data, size_t *length) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  char msg[160];
  if (is) {
    napi_value ab;
    size_t offset;
    /* The data pointer already includes the view's byte offset; it is the same call for views
     * over an ArrayBuffer and over a SharedArrayBuffer. */
    if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok) return false;
  }
  if (!is || type != want) {
    snprintf(msg, sizeof msg, "%s must be a %s", name, want_name);
    throw_arg(env, msg);
    return false;
  }
  return true;
}

bool arg_u8(napi_env env, napi_value v, const char *name, struct bytes_arg *out) {
  void *data = NULL;
  if (!typed(env, v, name, napi_uint8_array, "Uint8Array", &data, &out->length)) return false;
  out->data = data;
  return true;
}

bool arg_u32(napi_env env, napi_value v, const char *name, size_t need, struct u32_arg *out) {
  void *data = NULL;
  if (!typed(env, v, name, napi_uint32_array, "Uint32Array", &data, &out->length)) return false;
  out->data = data;
  if (out->length < need) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s has %zu entries, %zu needed", name, out->length, need);
    throw_range(env, msg);
    return false;
  }
  return true;
}

bool arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t cap) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  char msg[160];
  if (t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a string", name);
    throw_arg(env, msg);
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len + 1 > cap) {
    snprintf(msg, sizeof msg, "%s is %zu bytes long, at most %zu allowed", name, len, cap - 1);
    throw_range(env, msg);
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  return true;
}

static bool property(napi_env env, napi_value options, const char *key, napi_value *out) {
  napi_valuetype t;
  napi_typeof(env, options, &t);
  if (t == napi_undefined || t == napi_null) return false;
  if (t != napi_object) return false;
  bool has = false;
  napi_has_named_property(env, options, key, &has);
  if (!has) return false;
  napi_get_named_property(env, options, key, out);
  napi_typeof(env, *out, &t);
  return t != napi_undefined;
}

bool opt_bool(napi_env env, napi_value options, const char *key, bool fallback, bool *out) {
  napi_value v;
  *out = fallback;
  if (!property(env, options, key, &v)) return true;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_boolean) {
    char msg[160];
    snprintf(msg, sizeof msg, "options.%s must be a boolean", key);
    throw_arg(env, msg);
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

bool opt_int(napi_env env, napi_value options, const char *key, int64_t min, int64_t max, int64_t fallback, int64_t *out) {
  napi_value v;
  *out = fallback;
  if (!property(env, options, key, &v)) return true;
  char name[64];
  snprintf(name, sizeof name, "options.%s", key);
  return arg_int(env, v, name, min, max, out);
}

bool opt_string(napi_env env, napi_value options, const char *key, char *buf, size_t cap) {
  napi_value v;
  buf[0] = 0;
  if (!property(env, options, key, &v)) return true;
  char name[64];
  snprintf(name, sizeof name, "options.%s", key);
  return arg_string(env, v, name, buf, cap);
}

bool opt_netns(napi_env env, napi_value options, char *buf, size_t cap) {
  napi_value v;
  buf[0] = 0;
  if (!property(env, options, "netns", &v)) return true;
  char name[cap];
  if (!arg_string(env, v, "options.netns", name, cap)) return false;
  if (name[0] == 0) return true;
  /* A bare name is one that `ip netns add` made; anything with a slash is a path. */
  int n = strchr(name, '/') ? snprintf(buf, cap, "%s", name) : snprintf(buf, cap, "/run/netns/%s", name);
  if (n < 0 || (size_t)n >= cap) {
    throw_range(env, "options.netns is too long");
    return false;
  }
  return true;
}

napi_value make_u32(napi_env env, uint32_t v) { napi_value r; napi_create_uint32(env, v, &r); return r; }
napi_value make_f64(napi_env env, double v) { napi_value r; napi_create_double(env, v, &r); return r; }
napi_value make_bool(napi_env env, bool v) { napi_value r; napi_get_boolean(env, v, &r); return r; }
napi_value make_string(napi_env env, const char *s) { napi_value r; napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r); return r; }
napi_value make_undefined(napi_env env) { napi_value r; napi_get_undefined(env, &r); return r; }

bool check_frames(napi_env env, const struct bytes_arg *mem, const uint32_t *addrs, const uint32_t *lens, uint32_t room, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint64_t bytes = lens ? lens[i] : room;
    if ((uint64_t)addrs[i] + bytes > mem->length) {
      char msg[200];
      snprintf(msg, sizeof msg, "frame %u at %u (+%llu bytes) lies outside mem (%zu bytes)", i, addrs[i], (unsigned long long)bytes, mem->length);
      throw_range(env, msg);
      return false;
    }
  }
  return true;
}
