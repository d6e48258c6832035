/* What stopped VMs left running on their own (vm.h, struct runm_vm_tidy):
 * the libvirt backend's tidy after QEMU ended, which its owner waits for
 * only before it exits, not on the stop's path. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vm.h"

void runm_vm_tidy_init(struct runm_vm_tidy *t)
{
  memset(t, 0, sizeof(*t));
  pthread_mutex_init(&t->lock, NULL);
}

int runm_vm_tidy_add(struct runm_vm_tidy *t, pid_t pid, int answer_fd, int64_t deadline_ns,
                     const char *what)
{
  int ret = -1;
  pthread_mutex_lock(&t->lock);
  if (t->n < RUNM_VM_TIDY_MAX) {
    struct runm_vm_tidy_proc *p = &t->procs[t->n++];
    p->pid = pid;
    p->answer_fd = answer_fd;
    p->deadline_ns = deadline_ns;
    snprintf(p->what, sizeof(p->what), "%s", what);
    ret = 0;
  }
  pthread_mutex_unlock(&t->lock);
  return ret;
}

int runm_vm_child_end(pid_t pid, int64_t deadline_ns)
{
  int fd = (int)syscall(SYS_pidfd_open, pid, 0), status, ret = 0;
  if (fd >= 0) {
    struct pollfd pl = {.fd = fd, .events = POLLIN};
    int r;
    for (;;) {
      int64_t left = (deadline_ns - runm_now_ns()) / 1000000;
      r = left > 0 ? poll(&pl, 1, (int)left) : 0;
      if (r >= 0 || errno != EINTR) break;
    }
    if (r == 0) {
      (void)syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
      ret = -1;
    }
    close(fd);
  } else {
    /* No pidfd (old kernel): poll its exit. */
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (runm_now_ns() > deadline_ns) {
        kill(pid, SIGKILL);
        ret = -1;
        break;
      }
      usleep(10000);
    }
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return ret;
}

void runm_vm_tidy_wait(struct runm_vm_tidy *t, const struct runm_logger *log)
{
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < t->n; i++) {
    struct runm_vm_tidy_proc *p = &t->procs[i];
    bool in_time = runm_vm_child_end(p->pid, p->deadline_ns) == 0;
    if (p->answer_fd >= 0) {
      /* One line, written before the helper exited: it is in the pipe.
       * Not waited for: a process libvirt left may hold the pipe too. */
      char answer[600];
      ssize_t n;
      (void)fcntl(p->answer_fd, F_SETFL, O_NONBLOCK);
      do
        n = read(p->answer_fd, answer, sizeof(answer) - 1);
      while (n < 0 && errno == EINTR);
      answer[n > 0 ? n : 0] = '\0';
      answer[strcspn(answer, "\n")] = '\0';
      close(p->answer_fd);
      if (!in_time)
        runm_log(log, RUNM_LOG_WARN, "%s: did not end by its deadline, killed", p->what);
      else if (strncmp(answer, "OK", 2) != 0)
        runm_log(log, RUNM_LOG_WARN, "%s: %s", p->what, answer[0] ? answer : "ended without an answer");
    }
  }
  t->n = 0;
  pthread_mutex_unlock(&t->lock);
}
