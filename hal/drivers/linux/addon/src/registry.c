/*
 * What the addon knows about the fds it opened: their kind (which decides how a burst moves
 * frames) and, for AF_PACKET sockets with a receive ring, the mapping. Indexed by fd; grows by
 * doubling when the kernel hands out a larger fd. An fd it did not open has no entry and is
 * treated as a plain socket, so errors come from the kernel (EBADF, ENOTSOCK).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "addon.h"

#define INITIAL_CAPACITY 64

struct instance *instance_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

struct fd_entry *entry_find(struct instance *in, int fd) {
  if (fd < 0 || (size_t)fd >= in->capacity) return NULL;
  return in->entries[fd];
}

struct fd_entry *entry_add(napi_env env, struct instance *in, int fd, enum fd_kind kind) {
  if ((size_t)fd >= in->capacity) {
    size_t cap = in->capacity ? in->capacity : INITIAL_CAPACITY;
    while (cap <= (size_t)fd) cap *= 2;
    struct fd_entry **grown = realloc(in->entries, cap * sizeof *grown);
    if (!grown) {
      close(fd);
      throw_errno(env, "realloc", ENOMEM, "fd table");
      return NULL;
    }
    memset(grown + in->capacity, 0, (cap - in->capacity) * sizeof *grown);
    in->entries = grown;
    in->capacity = cap;
  }
  struct fd_entry *e = calloc(1, sizeof *e);
  if (!e) {
    close(fd);
    throw_errno(env, "calloc", ENOMEM, "fd table");
    return NULL;
  }
  e->fd = fd;
  e->kind = kind;
  /* A stale entry (its fd was closed behind our back and reused) is replaced. */
  if (in->entries[fd]) entry_forget(in, fd);
  in->entries[fd] = e;
  return e;
}

void entry_forget(struct instance *in, int fd) {
  struct fd_entry *e = entry_find(in, fd);
  if (!e) return;
  if (e->watcher) watcher_stop(in, e->watcher);
  if (e->ring.map) munmap(e->ring.map, e->ring.map_bytes);
  in->entries[fd] = NULL;
  free(e);
}

void instance_teardown(struct instance *in) {
  for (size_t fd = 0; fd < in->capacity; fd++) {
    if (in->entries[fd]) {
      entry_forget(in, (int)fd);
      close((int)fd);
    }
  }
  while (in->watchers) watcher_stop(in, in->watchers);
  free(in->entries);
  in->entries = NULL;
  in->capacity = 0;
}
