/* Finding a host process by its command line (proc_find.h): the libvirt
 * backend's way to the QEMU libvirt started and to its own helpers, which
 * it did not fork itself. */
#include "proc_find.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cleanup.h"

pid_t runm_proc_find(size_t cap, bool (*match)(const char *args, size_t len, void *arg), void *arg)
{
  cleanup_dir DIR *d = opendir("/proc");
  cleanup_free char *buf = cap > 1 ? malloc(cap) : NULL;
  struct dirent *de;

  if (d == NULL || buf == NULL) return -1;
  while ((de = readdir(d))) {
    char path[300];
    ssize_t n;
    int fd;
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    if (match(buf, (size_t)n, arg)) return (pid_t)atoi(de->d_name);
  }
  return -1;
}
