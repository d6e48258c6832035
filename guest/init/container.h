/* The registry of containers and their processes: what init knows about
 * every container it created, and the exit routing from the reaper. */
#ifndef RUNM_CONTAINER_H
#define RUNM_CONTAINER_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "log.h"
#include "rlimits.h"

struct reaper;
struct events;
struct stdio_stream;
struct runm_rpc_call;

/* Bounds on what the host can make init hold. */
#define ID_MAX 64
#define MAX_CONTAINERS 256
#define MAX_EXECS 256
#define PROCESS_JSON_MAX (1024 * 1024)
#define BUNDLE_MAX 4096

#define RUNM_RUN_DIR "/run/runm"
#define RUNC_ROOT "/run/runm/runc"
#define CONTAINER_DIR "/run/runm/c"
#define TTY_DIR "/run/runm/tty"
#define LOG_DIR "/run/runm/log"

enum proc_state {
  PROC_CREATED,  /* registered (exec) or runc-created (init), not started */
  PROC_STARTING, /* runc exec in progress */
  PROC_RUNNING,
  PROC_STOPPED,  /* exited, status known */
};

/* A container's init (exec_id "") or one of its exec processes. Fields are
 * guarded by the registry lock unless noted. The output fds and the master
 * are only closed when the process is freed, so a holder of a reference may
 * use them without the lock; stdin is written and closed under stdin_lock. */
struct process {
  struct container *c; /* holds a reference on it */
  struct process *next; /* in c->execs */
  char exec_id[ID_MAX + 1];
  int refs;      /* table (until removed), reaper watch, handlers, streams */
  bool removed;  /* deleted: no longer reachable by id */
  enum proc_state state;
  pid_t pid;
  int pidfd;
  uint32_t exit_status;
  int64_t exited_at;
  bool terminal, stdin;
  /* init's ends of the process's stdio (-1 when absent); in tty mode the
   * pty master carries everything. */
  int in_w, out_r, err_r, master;
  /* The process's ends, kept by init only for an exec not yet started. */
  int child_in, child_out, child_err;
  pthread_mutex_t stdin_lock; /* guards in_w and stdin_closed; held around every write */
  bool stdin_closed;
  bool stdin_close_requested; /* set before taking stdin_lock to close it */
  int stdin_wake; /* eventfd: wakes a writer blocked on a full stdin */
  struct stdio_stream *attached; /* the Stdio stream relaying this process, if any */
  char *process_json; /* exec: the OCI Process until Start */
  size_t process_json_len;
};

struct container {
  struct registry *reg;
  struct container *next;
  char id[ID_MAX + 1];
  char *bundle;
  int refs;     /* guarded by the registry lock */
  bool removed; /* guarded by the registry lock: deleted or creation failed */
  /* Orders runc operations on this container: lifecycle changes (create,
   * start, delete, pause, resume) take it for writing; the rest (exec, kill,
   * state, ps, update, stats) for reading. Never held with the registry
   * lock, never taken while holding it. */
  pthread_rwlock_t op_lock;
  struct process *init;  /* guarded by the registry lock */
  struct process *execs; /* guarded by the registry lock */
  unsigned n_execs;
  char cgroup[PATH_MAX]; /* "/sys/fs/cgroup/..." or "" when unknown; set at create */
  int oom_wd;            /* inotify watch on memory.events, -1 if none */
  uint64_t oom_kills;    /* last memory.events oom_kill seen */
  struct runc_rlimits rlimits; /* runc create's and every runc exec's; set at create */
};

struct registry {
  /* Guards the container list, every container's refs/removed/init/execs,
   * and every process field listed as such. Held only for short critical
   * sections: never across runc, a blocking read or a send. */
  pthread_mutex_t lock;
  /* Broadcast whenever a process exits, is removed, or a stream attaches
   * or detaches. */
  pthread_cond_t changed;
  struct container *containers;
  unsigned n_containers;
  uint64_t tty_seq; /* names console sockets */
  struct reaper *reaper;
  struct events *events;
  struct runm_logger *log;
  int inotify_fd; /* OOM watches; read by the oom thread */
};

struct registry *registry_new(struct reaper *reaper, struct events *events,
                              struct runm_logger *log, runm_error_t *err);

/* ids and exec ids: 1..64 of [A-Za-z0-9_.-], not starting with '.'. An
 * empty exec id (allow_empty) names the init. */
int validate_id(const char *what, const char *id, bool allow_empty, runm_error_t *err);

/* Reserves `id` for a container being created: a new container in the table,
 * returned referenced with op_lock held for writing. EEXIST if taken. */
struct container *registry_reserve(struct registry *reg, const char *id, runm_error_t *err);
/* The container `id`, referenced; ENOENT if there is none. */
struct container *registry_get(struct registry *reg, const char *id, runm_error_t *err);
/* The process (id, exec_id), referenced; ENOENT if there is none. */
struct process *registry_get_process(struct registry *reg, const char *id, const char *exec_id,
                                     runm_error_t *err);
/* Takes the container out of the table (creation failed or deleted): its
 * processes are removed too. Caller holds the registry lock. */
void registry_remove_locked(struct registry *reg, struct container *c);
unsigned registry_count(struct registry *reg);

void container_put(struct container *c);
void container_unref_locked(struct container *c);
struct process *process_new_locked(struct container *c, const char *exec_id);
void process_put(struct process *p);
void process_unref_locked(struct process *p);

/* Routes p's exit to the registry: adopts p->pid in the reaper. Caller holds
 * the registry lock. If it has already exited, p is marked stopped now. */
int process_watch_locked(struct process *p, runm_error_t *err);
/* Records an exit: status, time, event, wakes waiters. Caller holds the lock. */
void process_exited_locked(struct process *p, int wait_status, int64_t exited_at);
/* Marks a process that never ran (its start failed) stopped, without an
 * exit event. */
void process_start_failed_locked(struct process *p);

/* Blocks until p has exited (0), was removed (ENOENT), or the call was
 * cancelled (ECANCELED). Caller holds a reference, not the lock. */
int process_wait_exit(struct process *p, struct runm_rpc_call *call, runm_error_t *err);

/* Closes the process's stdin (pipe) or sends it end-of-file (pty). Safe to
 * call from any thread; a stream writing stdin is interrupted. */
void process_close_stdin(struct process *p);

/* The container `id` with its op_lock held (for writing or reading) and a
 * reference; ENOENT if there is none or it was removed while we waited for
 * the lock. container_op_done releases both. */
struct container *container_op_begin(struct registry *reg, const char *id, bool write,
                                     runm_error_t *err);
void container_op_done(struct container *c);

static inline void container_op_donep(struct container **c)
{
  if (*c) container_op_done(*c);
}
#define cleanup_container_op __attribute__((cleanup(container_op_donep)))

static inline void process_putp(struct process **p)
{
  if (*p) process_put(*p);
}
#define cleanup_process __attribute__((cleanup(process_putp)))

/* Sends sig through the pidfd (never to a recycled pid). ENOENT once the
 * process is gone. */
int process_signal(struct process *p, int sig, runm_error_t *err);

/* The OOM watcher (oom.c). */
int oom_watch_start(struct registry *reg, runm_error_t *err);
void oom_watch_add_locked(struct registry *reg, struct container *c);
void oom_watch_remove_locked(struct registry *reg, struct container *c);

#endif
