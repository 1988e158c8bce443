/*
 * watch(fd, callback) → id, unwatch(id)
 *   A libuv poll on the fd in this environment's event loop: callback() runs (as a macrotask,
 *   through napi_make_callback) whenever the fd is readable, callback(error) once if the poll
 *   fails. The poll is level-triggered: a receiver that leaves frames queued is called again.
 *   One watcher per fd (libuv forbids two polls on one fd). unwatch of an unknown or already
 *   stopped id is a no-op; close(fd) stops the fd's watcher first. A watcher keeps the event
 *   loop alive until it is stopped.
 */
#include <errno.h>
#include <stdlib.h>
#include <uv.h>
#include "addon.h"

struct watcher {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  struct instance *in;
  struct fd_entry *entry; /* NULL for an fd the addon did not open */
  int fd;
  uint32_t id;
  struct watcher *next;
};

static void on_closed(uv_handle_t *h) {
  free(h->data);
}

/* Unlinks and stops a watcher; its memory goes when libuv has closed the handle. */
void watcher_stop(struct instance *in, struct watcher *w) {
  for (struct watcher **p = &in->watchers; *p; p = &(*p)->next) {
    if (*p == w) {
      *p = w->next;
      break;
    }
  }
  if (w->entry && w->entry->watcher == w) w->entry->watcher = NULL;
  uv_poll_stop(&w->poll);
  napi_delete_reference(w->env, w->callback);
  napi_async_destroy(w->env, w->async);
  w->poll.data = w;
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  struct watcher *w = handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, argv[1], result;
  size_t argc = 0;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  if (status < 0) {
    napi_value msg, code, err;
    napi_create_string_utf8(env, uv_strerror(status), NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, uv_err_name(status), NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &err);
    napi_set_named_property(env, err, "syscall", make_string(env, "uv_poll"));
    argv[0] = err;
    argc = 1;
    /* A failed poll reports once; the watcher stops so the loop cannot spin on the error. */
    watcher_stop(w->in, w);
  }
  if (cb && napi_make_callback(env, w->async, recv, cb, argc, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
  napi_close_handle_scope(env, scope);
}

napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!arg_count(env, info, 2, argv, NULL)) return NULL;
  int64_t fd;
  if (!arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return throw_arg(env, "callback must be a function");
  struct instance *in = instance_of(env);
  for (struct watcher *w = in->watchers; w; w = w->next) {
    if (w->fd == (int)fd) return throw_errno(env, "watch", EBUSY, "the fd is already watched");
  }
  struct uv_loop_s *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  struct watcher *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, "calloc", ENOMEM, "watch");
  int rc = uv_poll_init(loop, &w->poll, (int)fd);
  if (rc < 0) {
    free(w);
    return throw_errno(env, "uv_poll_init", -rc, NULL);
  }
  w->poll.data = w;
  w->env = env;
  w->in = in;
  w->fd = (int)fd;
  w->entry = entry_find(in, (int)fd);
  w->id = ++in->next_watch_id;
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "twinflow.linux.watch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &w->async);
  napi_create_reference(env, argv[1], 1, &w->callback);
  rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->async);
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return throw_errno(env, "uv_poll_start", -rc, NULL);
  }
  w->next = in->watchers;
  in->watchers = w;
  if (w->entry) w->entry->watcher = w;
  return make_u32(env, w->id);
}

napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!arg_count(env, info, 1, argv, NULL)) return NULL;
  int64_t id;
  if (!arg_int(env, argv[0], "id", 0, UINT32_MAX, &id)) return NULL;
  struct instance *in = instance_of(env);
  for (struct watcher *w = in->watchers; w; w = w->next) {
    if (w->id == (uint32_t)id) {
      watcher_stop(in, w);
      break;
    }
  }
  return make_undefined(env);
}
