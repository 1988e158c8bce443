/*
 * Opening an fd inside another network namespace. setns(CLONE_NEWNET) moves only the calling
 * thread, and sockets, packet rings and TUN devices keep the namespace they were created in, so
 * an open call enters the target namespace, creates its fd, and returns, all on the JS thread
 * within one synchronous call: no other code runs on this thread in between. Going back cannot
 * be allowed to fail silently, so a failure there aborts the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "addon.h"

int netns_enter(napi_env env, const char *path) {
  if (!path || !path[0]) return -1;
  int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved < 0) {
    throw_errno(env, "open", errno, "/proc/thread-self/ns/net");
    return -2;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(saved);
    throw_errno(env, "open", err, path);
    return -2;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    close(target);
    close(saved);
    throw_errno(env, "setns", err, path);
    return -2;
  }
  close(target);
  return saved;
}

void netns_leave(int saved) {
  if (saved < 0) return;
  if (setns(saved, CLONE_NEWNET) < 0) {
    perror("twinflow linux addon: cannot return to the original network namespace");
    abort();
  }
  close(saved);
}
