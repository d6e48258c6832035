/* runm-linux-init: shared state of the guest's PID 1. */
#ifndef RUNM_INIT_H
#define RUNM_INIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "log.h"

#define INIT_VERSION "0.1.0"
#define INIT_RPC_SOCKET "/run/runm/guest.sock"

struct reaper;
struct registry;
struct events;
struct hostlink;

struct init_config {
  char vm_id[128];
  char transport[16];   /* "serial" or "vsock" */
  char port_name[64];   /* virtio-serial port name */
  unsigned vsock_port;
  char time[64];        /* runm.time: host realtime at spawn */
  bool debug;
};

struct boot_timeline {
  int64_t mounter_start_ns;
  int64_t init_start_ns;
  int64_t serving_ns;
  int64_t first_rpc_ns; /* written once by the first call, atomically */
  int64_t runc_sealed_ns; /* written once by runc_exe's thread, atomically */
};

/* The network as configured before serving (net.c), and in the namespace
 * mode once more by ConfigureNetwork (net_tap.c). */
struct init_net {
  bool failed;
  int64_t setup_ns;  /* time net.c took */
  bool tap_waiting;  /* runm.net=tap without an address: ConfigureNetwork may run (once) */
  pthread_mutex_t lock; /* guards status and tap_configured after boot */
  bool tap_configured;
  char status[256];  /* "user: eth0 10.0.2.15/24 via 10.0.2.2, dns 10.0.2.3", or "error: ..." */
};

struct init_ctx {
  struct init_config cfg;
  struct boot_timeline timeline;
  struct init_net net;
  struct reaper *reaper;
  struct events *events;     /* exits and OOM kills, in order */
  struct registry *registry; /* containers and their processes */
  struct hostlink *hostlink; /* guest-to-host channel; NULL when the VM has none */
  struct runm_logger log;
  int prepared; /* Prepare succeeded or is running (atomic; prepare.c) */
};

int64_t init_boottime_ns(void);

/* setup.c */
int init_config_parse(struct init_config *cfg, const char *cmdline, runm_error_t *err);
int init_setup_system(const struct init_config *cfg, struct runm_logger *log, runm_error_t *err);
/* shares.c */
int init_mount_shares(const char *cmdline, struct runm_logger *log, runm_error_t *err);
/* files.c: mkdir -p (mode 0755), and a whole file written (created or
 * truncated, O_NOFOLLOW). */
int init_mkdir_p(const char *path, runm_error_t *err);
int init_write_file(const char *path, const void *data, size_t len, mode_t mode, runm_error_t *err);
/* net.c: lo, and the VM's network from runm.net* keys. Never fails: a
 * problem is logged loudly and recorded in st->status. */
void init_net_setup(const char *cmdline, struct init_net *st, const struct runm_logger *log);

/* relay.c: connects the host channel to the local gRPC socket; runs forever
 * on its own thread. */
int init_relay_start(struct init_ctx *ctx, runm_error_t *err);
/* Relays the named virtio-serial port: for each host connection, the local
 * end comes from open_local and `closed` runs when it ends (hostlink.c). */
int init_relay_serial_start(struct init_ctx *ctx, const char *port_name,
                            int (*open_local)(void *arg, runm_error_t *err),
                            void (*closed)(void *arg), void *arg, runm_error_t *err);

/* service.c */
int init_service_start(struct init_ctx *ctx, runm_error_t *err);

#endif
