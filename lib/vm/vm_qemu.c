/* The QEMU backend: the command line for a runm guest. microvm, no default
 * devices, no ACPI (runm's kernel has none; QEMU then lists the virtio-mmio
 * devices on the kernel command line), and -no-reboot so any guest reboot
 * or panic ends QEMU instead of hanging. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "vm_backend.h"

struct argv_builder {
  char **v;
  size_t n, cap;
  bool oom;
};

static void add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_builder *b, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;

  if (b->oom) return;
  if (b->n + 2 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 32;
    char **v = realloc(b->v, cap * sizeof(*v));
    if (v == NULL) {
      b->oom = true;
      return;
    }
    b->v = v;
    b->cap = cap;
  }
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  if (s == NULL) {
    b->oom = true;
    return;
  }
  b->v[b->n++] = s;
  b->v[b->n] = NULL;
}

void runm_argv_free(char **argv)
{
  if (argv == NULL) return;
  for (char **p = argv; *p; p++) free(*p);
  free(argv);
}

/* QEMU's option parser splits on commas: a path with one must double it. */
static int check_path(const char *what, const char *p, runm_error_t *err)
{
  if (p == NULL || *p == '\0') return runm_make_error(err, EINVAL, "no %s given", what);
  if (strchr(p, ',')) return runm_make_error(err, EINVAL, "%s path `%s` contains a comma", what, p);
  return 0;
}

/* User-mode NAT (slirp): outbound TCP/UDP and DNS with no privileges and
 * nothing to clean up; published ports are hostfwd rules, bound by QEMU at
 * start (a taken port makes QEMU exit with its reason). IPv4 only: the
 * guest configures 10.0.2.15 statically (guest/init/net.c). Both backends
 * give QEMU this -netdev. */
int runm_qemu_user_netdev(const struct runm_vm_config *cfg, char **out, runm_error_t *err)
{
  cleanup_free char *fwd = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&fwd, &len);

  *out = NULL;
  if (m == NULL) return runm_make_error(err, ENOMEM, "build QEMU command line");
  for (size_t i = 0; i < cfg->n_ports; i++) {
    const struct runm_port_forward *pf = &cfg->ports[i];
    /* Parsed by runm_ports_parse; recheck what reaches QEMU's syntax. */
    if (pf->host_addr[0] == '\0' || strspn(pf->host_addr, "0123456789.") != strlen(pf->host_addr) ||
        pf->host_port == 0 || pf->guest_port == 0) {
      fclose(m);
      return runm_make_error(err, EINVAL, "bad published port %zu", i);
    }
    fprintf(m, ",hostfwd=%s:%s:%u-10.0.2.15:%u", runm_port_proto_name(pf->proto), pf->host_addr,
            (unsigned)pf->host_port, (unsigned)pf->guest_port);
  }
  if (fclose(m) != 0) return runm_make_error(err, ENOMEM, "build QEMU command line");
  if (asprintf(out, "user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,ipv6=off%s",
               fwd ? fwd : "") < 0) {
    *out = NULL;
    return runm_make_error(err, ENOMEM, "build QEMU command line");
  }
  return 0;
}

static int qemu_build_argv(const struct runm_vm_config *cfg, const struct runm_vm_plan *plan,
                           int rpc_listen_fd, char ***argv, runm_error_t *err)
{
  struct argv_builder b = {0};
  bool kvm = plan->accel == RUNM_ACCEL_KVM;

  if (check_path("kernel", cfg->kernel, err) < 0 || check_path("initrd", cfg->initrd, err) < 0 ||
      check_path("mbin image", cfg->mbin, err) < 0)
    return -1;

  add(&b, "%s", cfg->qemu ? cfg->qemu : "qemu-system-x86_64");
  add(&b, "-name");
  add(&b, "runm-%s", cfg->id);
  add(&b, "-M");
  /* virtio-fs: virtiofsd reads and writes guest RAM itself (vhost-user),
   * so the RAM is a shared memfd it maps. */
  if (cfg->share_fs == RUNM_SHARE_VIRTIOFS) {
    add(&b, "microvm,acpi=off,isa-serial=on,memory-backend=mem");
    add(&b, "-object");
    add(&b, "memory-backend-memfd,id=mem,size=%uM,share=on", cfg->mem_mib ? cfg->mem_mib : 256);
    /* virtiofsd's libvhost-user serves modern (virtio 1.0) devices only;
     * microvm's virtio-mmio transport is legacy unless told. */
    add(&b, "-global");
    add(&b, "virtio-mmio.force-legacy=off");
  } else {
    add(&b, "microvm,acpi=off,isa-serial=on");
  }
  add(&b, "-accel");
  /* TCG's translation cache grows with the guest code it has ever
   * translated (QEMU 7.2 reserves 1 GiB and touches it as it goes): 66 MiB
   * once a container runs, 90-140 MiB after a few execs. When it is full
   * QEMU flushes it all and the guest pays for retranslating what it runs
   * next. 64 MiB held a plain boot and runc, but not a start with OCI
   * hooks (runc's hook path, runm-fork-exec-proxy, init's host channel):
   * there the flush fell in `runc start`, 3-4x its CPU (+0.2-0.4 s per
   * nerdctl start); 96 MiB holds it. 32 MiB: 2.5x the CPU per exec.
   * A/Bs in docs/performance.md. */
  if (kvm)
    add(&b, "kvm");
  else
    add(&b, "tcg,tb-size=%u", RUNM_VM_TCG_TB_MIB);
  if (kvm) {
    add(&b, "-cpu");
    add(&b, "host");
  }
  add(&b, "-m");
  add(&b, "%u", cfg->mem_mib ? cfg->mem_mib : 256);
  add(&b, "-smp");
  add(&b, "%u", cfg->vcpus ? cfg->vcpus : 1);
  add(&b, "-nodefaults");
  add(&b, "-no-user-config");
  add(&b, "-nographic");
  add(&b, "-no-reboot");
  /* QEMU's seccomp policy: no obsolete calls, no set*id, no fork/exec, no
   * scheduler or resource control. Nothing runm uses needs them. */
  add(&b, "-sandbox");
  add(&b, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  add(&b, "-kernel");
  add(&b, "%s", cfg->kernel);
  add(&b, "-initrd");
  add(&b, "%s", cfg->initrd);
  add(&b, "-append");
  add(&b, "%s", plan->append);
  add(&b, "-drive");
  add(&b, "id=mbin,file=%s,format=raw,if=none,readonly=on", cfg->mbin);
  add(&b, "-device");
  add(&b, "virtio-blk-device,drive=mbin");
  if (cfg->net == RUNM_NET_USER) {
    cleanup_free char *netdev = NULL;
    if (runm_qemu_user_netdev(cfg, &netdev, err) < 0) {
      runm_argv_free(b.v);
      return -1;
    }
    add(&b, "-netdev");
    add(&b, "%s", netdev);
    add(&b, "-device");
    add(&b, "virtio-net-device,netdev=net0,mac=52:54:00:12:34:56");
    /* Every frame the guest sends to slirp goes to the owner's filter
     * (fd 4) and only what it allows comes back (fd 5): vm_netfilter.c. */
    add(&b, "-chardev");
    add(&b, "socket,id=nfout,fd=%d", RUNM_VM_NETFILTER_OUT_FD);
    add(&b, "-chardev");
    add(&b, "socket,id=nfin,fd=%d", RUNM_VM_NETFILTER_IN_FD);
    add(&b, "-object");
    add(&b, "filter-redirector,id=nf0,netdev=net0,queue=rx,outdev=nfout,indev=nfin");
  }
  if (cfg->net == RUNM_NET_TAP) {
    /* The shim's namespace mode: the TAP device it opened in the task's
     * network namespace, bridged there to CNI's interface (host-shim/
     * netns.c). No vhost: it needs /dev/vhost-net in QEMU's confinement,
     * and under TCG the guest's CPU is the bottleneck, not the copy. The
     * MAC is a placeholder: the guest sets the CNI interface's (runm.v1
     * ConfigureNetwork) once CNI has run. */
    add(&b, "-netdev");
    add(&b, "tap,id=net0,fd=%d,vhost=off", RUNM_VM_TAP_FD);
    add(&b, "-device");
    add(&b, "virtio-net-device,netdev=net0,mac=52:54:00:12:34:56");
  }
  if (plan->transport == RUNM_TRANSPORT_VSOCK) {
    add(&b, "-device");
    add(&b, "vhost-vsock-device,guest-cid=%u", plan->vsock_cid);
  } else {
    /* runm made and bound the listening socket itself (0600, in a 0700 dir)
     * and hands it over, so there is no window where the path is missing. */
    add(&b, "-device");
    add(&b, "virtio-serial-device,max_ports=4");
    add(&b, "-chardev");
    add(&b, "socket,id=rpc,fd=%d,server=on,wait=off", rpc_listen_fd);
    add(&b, "-device");
    add(&b, "virtserialport,chardev=rpc,name=%s", RUNM_VM_RPC_PORT_NAME);
    if (plan->host_sock[0]) {
      /* Guest-to-host: the owner listens, QEMU dials (and redials if the
       * owner's server restarts); the guest's init holds the port. */
      if (check_path("host channel socket", plan->host_sock, err) < 0) {
        runm_argv_free(b.v);
        return -1;
      }
      add(&b, "-chardev");
      add(&b, "socket,id=host,path=%s,server=off,reconnect=1", plan->host_sock);
      add(&b, "-device");
      add(&b, "virtserialport,chardev=host,name=%s", RUNM_VM_HOST_PORT_NAME);
    }
  }
  for (size_t i = 0; i < cfg->n_shares; i++) {
    if (runm_vm_share_check(cfg->shares[i].path, err) < 0) {
      runm_argv_free(b.v);
      return -1;
    }
    /* passthrough keeps the guest's view of owners and modes faithful
     * (runc chowns and creates files in rootfs and volumes). A share spans
     * mounts (the rootfs under a bundle, a pooled VM's binds): remap keeps
     * inode numbers from different host devices from colliding. */
    if (cfg->share_fs == RUNM_SHARE_VIRTIOFS) {
      /* The share is virtiofsd's (vm_virtiofsd.c); QEMU only connects. */
      char sock[320];
      runm_virtiofsd_sock(plan, i, sock, sizeof(sock));
      if (check_path("virtiofsd socket", sock, err) < 0) {
        runm_argv_free(b.v);
        return -1;
      }
      add(&b, "-chardev");
      add(&b, "socket,id=vfs%zu,path=%s", i, sock);
      add(&b, "-device");
      add(&b, "vhost-user-fs-device,chardev=vfs%zu,tag=runm%zu", i, i);
      continue;
    }
    add(&b, "-fsdev");
    add(&b, "local,id=fs%zu,path=%s,security_model=passthrough,multidevs=remap%s", i, cfg->shares[i].path,
        cfg->shares[i].readonly ? ",readonly=on" : "");
    add(&b, "-device");
    add(&b, "virtio-9p-device,fsdev=fs%zu,mount_tag=runm%zu", i, i);
  }
  /* The console is QEMU's stdout, a pipe the owner drains into a capped
   * console.log (vm_console.c); a file chardev would grow without bound. */
  add(&b, "-chardev");
  add(&b, "stdio,id=console,signal=off");
  add(&b, "-serial");
  add(&b, "chardev:console");
  /* Names the state dir on QEMU's command line, as the console file did:
   * `pgrep -f <state dir>` finds a VM's QEMU. (Not a -pidfile: QEMU cannot
   * write its state dir, vm_spawn.c.) */
  if (check_path("state dir", plan->dir[0] ? plan->dir : "/", err) < 0) {
    runm_argv_free(b.v);
    return -1;
  }
  add(&b, "-fw_cfg");
  add(&b, "name=opt/runm/state-dir,string=%s", plan->dir);
  if (b.oom) {
    runm_argv_free(b.v);
    return runm_make_error(err, ENOMEM, "build QEMU command line");
  }
  *argv = b.v;
  return 0;
}

const struct runm_vm_backend runm_vm_backend_qemu = {
    .name = "qemu",
    .build_argv = qemu_build_argv,
    .takes_rpc_fd = true,
    .spawn = runm_qemu_spawn,
    .term = runm_qemu_term,
    .kill = runm_qemu_kill,
    .wait = runm_qemu_wait,
};
