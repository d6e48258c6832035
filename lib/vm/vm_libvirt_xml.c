/* The libvirt backend's domain XML: what the guest sees is what the qemu
 * backend gives it (vm_qemu.c), in libvirt's own elements wherever libvirt
 * 9.0 has one:
 *  - microvm with its virtio devices on virtio-mmio (<address
 *    type='virtio-mmio'/>): the mbin disk, the virtio-serial controller and
 *    its two ports (RPC: libvirt binds plan.rpc_sock; host: QEMU dials the
 *    owner's plan.host_sock and redials), the 9p shares (passthrough,
 *    multidevs=remap, <readonly/>), vsock;
 *  - the console: an isa-serial on a unix socket the owner listens on and
 *    drains into the capped console.log (vm_console.c);
 *  - no USB controller, no balloon (microvm has no PCI for them), and every
 *    lifecycle event (poweroff, reboot, crash) destroys the domain.
 * <qemu:commandline> carries only what libvirt does not model, each item
 * narrowly (docs/libvirt.md):
 *  - `-machine isa-serial=off`: microvm's built-in COM1 would sit under
 *    libvirt's serial at the same port and swallow the console;
 *  - `-action shutdown=poweroff`: libvirt passes -no-shutdown (a guest
 *    poweroff pauses QEMU until libvirt reacts); with the embed driver no
 *    one may be connected to react, so QEMU ends itself as with -no-reboot;
 *  - user networking: libvirt 9.0's <interface type='user'> has neither
 *    hostfwd (its <portForward> is passt-only) nor QEMU's filter-redirector,
 *    which vm_netfilter.c needs between the NIC and slirp; so -netdev user
 *    (vm_qemu.c's), virtio-net-device and the redirector's two socket
 *    chardevs (dialling the owner's nf-out.sock / nf-in.sock). The TAP
 *    mode needs none: it is libvirt's <interface type='ethernet'> (see
 *    tap_xml below);
 *  - `-global virtio-mmio.force-legacy=off` (share_fs = virtiofs only):
 *    virtiofsd serves virtio 1.0 devices only, and microvm's virtio-mmio
 *    is legacy by default; libvirt models no such setting;
 *  - `-fw_cfg name=opt/runm/state-dir,...`: names the state dir on QEMU's
 *    command line as the qemu backend does (finding QEMU's pid, pgrep -f).
 * <qemu:capabilities> drops one capability for this domain only:
 *  - `cpu-unavailable-features`: with it, libvirt 9.0 reads the started
 *    guest CPU back with one QMP qom-get per boolean property of the x86
 *    CPU (~400 round trips to the paused QEMU, 0.3-2 s under TCG, before
 *    the guest may run); without it, with the two qom-gets of QEMU's
 *    older interface (feature-words, filtered-features). The CPU QEMU
 *    gets is the same either way (-cpu qemu64, QEMU's default for
 *    microvm, which the qemu backend gets by passing no -cpu; -cpu host
 *    under KVM); the flag only picks how libvirt reads it back
 *    (qemuProcessFetchGuestCPU) and which MSR features a <cpu> may name,
 *    and runm's XML names none.
 * The XML is built by the host only, from the host's configuration: nothing
 * the guest sends reaches it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "vm_backend.h"

#define RUNM_XMLNS "https://github.com/runm/runm/xmlns/vm/1"

int runm_xml_escape(FILE *f, const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) return -1;
  for (const char *p = s; *p; p++) {
    switch (*p) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&apos;", f); break;
    default: fputc(*p, f); break;
    }
  }
  return 0;
}

struct xml {
  FILE *f;
  const char *bad; /* what held a control character */
};

/* Writes fmt with each %s escaped: a tiny printf knowing only %s and %u. */
static void put(struct xml *x, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  for (const char *p = fmt; *p; p++) {
    if (p[0] == '%' && p[1] == 's') {
      const char *s = va_arg(ap, const char *);
      if (runm_xml_escape(x->f, s ? s : "") < 0 && x->bad == NULL) x->bad = s;
      p++;
    } else if (p[0] == '%' && p[1] == 'u') {
      fprintf(x->f, "%u", va_arg(ap, unsigned));
      p++;
    } else {
      fputc(*p, x->f);
    }
  }
  va_end(ap);
}

static void arg(struct xml *x, const char *value)
{
  put(x, "    <qemu:arg value='%s'/>\n", value);
}

/* The shim's namespace mode: the persistent TAP device it made in the
 * task's network namespace, which the create helper and so QEMU join
 * (vm_libvirt_conn.c); libvirt opens it by name (managed='no': libvirt
 * neither creates nor deletes nor configures it; the shim brings it up
 * once CNI has run). What the qemu backend gives the guest: virtio-net on
 * virtio-mmio, the same placeholder MAC (the guest takes CNI's, runm.v1
 * ConfigureNetwork), no vhost (driver qemu). */
static int tap_xml(struct xml *x, const struct runm_vm_config *cfg, runm_error_t *err)
{
  size_t n = cfg->tap_name ? strlen(cfg->tap_name) : 0;
  if (cfg->net != RUNM_NET_TAP) return 0;
  if (n == 0 || n >= 16 || strspn(cfg->tap_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
    return runm_make_error(err, EINVAL, "network `tap` with vm_backend = libvirt: invalid TAP device name `%s`",
                           cfg->tap_name ? cfg->tap_name : "");
  put(x, "    <interface type='ethernet'>\n      <mac address='52:54:00:12:34:56'/>\n"
         "      <target dev='%s' managed='no'/>\n      <model type='virtio'/>\n"
         "      <driver name='qemu'/>\n      <address type='virtio-mmio'/>\n    </interface>\n",
      cfg->tap_name);
  return 0;
}

/* The NIC in <qemu:commandline>. RUNM_NET_NONE, RUNM_NET_TAP: none (TAP:
 * tap_xml). User: QEMU's slirp behind the filter (see the top of the
 * file). */
static int net_xml(struct xml *x, const struct runm_vm_config *cfg, const struct runm_vm_plan *plan,
                   runm_error_t *err)
{
  cleanup_free char *netdev = NULL;
  char chr[400];

  if (cfg->net != RUNM_NET_USER) return 0;
  if (runm_qemu_user_netdev(cfg, &netdev, err) < 0) return -1;
  arg(x, "-netdev");
  arg(x, netdev);
  arg(x, "-device");
  arg(x, "virtio-net-device,netdev=net0,mac=52:54:00:12:34:56");
  /* QEMU's option syntax splits on commas: the state dir has none
   * (checked by the caller). */
  snprintf(chr, sizeof(chr), "socket,id=nfout,path=%s/nf-out.sock", plan->dir);
  arg(x, "-chardev");
  arg(x, chr);
  snprintf(chr, sizeof(chr), "socket,id=nfin,path=%s/nf-in.sock", plan->dir);
  arg(x, "-chardev");
  arg(x, chr);
  arg(x, "-object");
  arg(x, "filter-redirector,id=nf0,netdev=net0,queue=rx,outdev=nfout,indev=nfin");
  return 0;
}

int runm_libvirt_domain_xml(const struct runm_vm_config *cfg, const struct runm_vm_plan *plan,
                            const char *name, const char *emulator, char **out, runm_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  struct xml x = {0};
  bool kvm = plan->accel == RUNM_ACCEL_KVM;
  char fwcfg[320];

  *out = NULL;
  if (cfg->kernel == NULL || cfg->initrd == NULL || cfg->mbin == NULL || emulator == NULL)
    return runm_make_error(err, EINVAL, "no kernel, initrd, mbin image or QEMU given");
  /* Strings that reach QEMU's own option syntax through <qemu:commandline>
   * (libvirt escapes what it writes itself). */
  if (strchr(plan->dir, ','))
    return runm_make_error(err, EINVAL, "state dir `%s` contains a comma", plan->dir);
  x.f = open_memstream(&buf, &len);
  if (x.f == NULL) return runm_make_error(err, ENOMEM, "build domain XML");

  put(&x, "<domain type='%s' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n",
      kvm ? "kvm" : "qemu");
  put(&x, "  <name>%s</name>\n", name);
  put(&x, "  <metadata>\n    <runm:vm xmlns:runm='" RUNM_XMLNS "'>\n");
  put(&x, "      <runm:id>%s</runm:id>\n", cfg->id);
  put(&x, "      <runm:state-dir>%s</runm:state-dir>\n", plan->dir);
  put(&x, "    </runm:vm>\n  </metadata>\n");
  put(&x, "  <memory unit='MiB'>%u</memory>\n", cfg->mem_mib ? cfg->mem_mib : 256);
  /* virtio-fs: virtiofsd maps guest RAM itself (vhost-user): a shared
   * memfd, as the qemu backend's memory-backend-memfd,share=on. */
  if (cfg->share_fs == RUNM_SHARE_VIRTIOFS)
    put(&x, "  <memoryBacking>\n    <source type='memfd'/>\n    <access mode='shared'/>\n  </memoryBacking>\n");
  put(&x, "  <vcpu>%u</vcpu>\n", cfg->vcpus ? cfg->vcpus : 1);
  put(&x, "  <os>\n    <type arch='x86_64' machine='microvm'>hvm</type>\n");
  put(&x, "    <kernel>%s</kernel>\n    <initrd>%s</initrd>\n", cfg->kernel, cfg->initrd);
  put(&x, "    <cmdline>%s</cmdline>\n  </os>\n", plan->append);
  if (kvm) put(&x, "  <cpu mode='host-passthrough'/>\n");
  /* The qemu backend's TCG translation cache (see vm_qemu.c). */
  else put(&x, "  <features>\n    <tcg>\n      <tb-cache unit='MiB'>%u</tb-cache>\n    </tcg>\n  </features>\n",
           RUNM_VM_TCG_TB_MIB);
  put(&x, "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n"
          "  <on_crash>destroy</on_crash>\n");
  put(&x, "  <devices>\n    <emulator>%s</emulator>\n", emulator);
  put(&x, "    <controller type='usb' model='none'/>\n    <memballoon model='none'/>\n");
  put(&x, "    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n"
          "      <source file='%s'/>\n      <target dev='vda' bus='virtio'/>\n      <readonly/>\n"
          "      <address type='virtio-mmio'/>\n    </disk>\n", cfg->mbin);
  if (plan->transport == RUNM_TRANSPORT_VSOCK) {
    put(&x, "    <vsock model='virtio'>\n      <cid auto='no' address='%u'/>\n"
            "      <address type='virtio-mmio'/>\n    </vsock>\n", plan->vsock_cid);
  } else {
    put(&x, "    <controller type='virtio-serial' index='0' ports='4'>\n"
            "      <address type='virtio-mmio'/>\n    </controller>\n");
    put(&x, "    <channel type='unix'>\n      <source mode='bind' path='%s'/>\n"
            "      <target type='virtio' name='%s'/>\n    </channel>\n", plan->rpc_sock,
        RUNM_VM_RPC_PORT_NAME);
    if (plan->host_sock[0])
      put(&x, "    <channel type='unix'>\n      <source mode='connect' path='%s'>\n"
              "        <reconnect enabled='yes' timeout='1'/>\n      </source>\n"
              "      <target type='virtio' name='%s'/>\n    </channel>\n", plan->host_sock,
          RUNM_VM_HOST_PORT_NAME);
  }
  for (size_t i = 0; i < cfg->n_shares; i++) {
    if (runm_vm_share_check(cfg->shares[i].path, err) < 0) {
      fclose(x.f);
      return -1;
    }
    if (cfg->share_fs == RUNM_SHARE_VIRTIOFS) {
      /* runm's own virtiofsd serves it (vm_virtiofsd.c, started by
       * vm_libvirt.c before the domain); libvirt's QEMU only connects
       * (libvirt >= 8.x: an externally launched virtiofsd). */
      char sock[320];
      runm_virtiofsd_sock(plan, i, sock, sizeof(sock));
      put(&x, "    <filesystem type='mount'>\n      <driver type='virtiofs'/>\n"
              "      <source socket='%s'/>\n", sock);
      fprintf(x.f, "      <target dir='runm%zu'/>\n", i);
      put(&x, "      <address type='virtio-mmio'/>\n    </filesystem>\n");
      continue;
    }
    put(&x, "    <filesystem type='mount' accessmode='passthrough' multidevs='remap'>\n"
            "      <source dir='%s'/>\n", cfg->shares[i].path);
    fprintf(x.f, "      <target dir='runm%zu'/>\n", i);
    if (cfg->shares[i].readonly) put(&x, "      <readonly/>\n");
    put(&x, "      <address type='virtio-mmio'/>\n    </filesystem>\n");
  }
  if (tap_xml(&x, cfg, err) < 0) {
    fclose(x.f);
    return -1;
  }
  put(&x, "    <serial type='unix'>\n      <source mode='connect' path='%s/console.sock'/>\n"
          "      <target type='isa-serial' port='0'>\n        <model name='isa-serial'/>\n"
          "      </target>\n    </serial>\n  </devices>\n", plan->dir);
  put(&x, "  <qemu:commandline>\n");
  arg(&x, "-machine");
  arg(&x, "isa-serial=off");
  arg(&x, "-action");
  arg(&x, "shutdown=poweroff");
  if (cfg->share_fs == RUNM_SHARE_VIRTIOFS) {
    /* virtiofsd serves modern (virtio 1.0) devices only; microvm's
     * virtio-mmio is legacy unless told, and libvirt has no element for
     * it (the qemu backend passes the same -global). */
    arg(&x, "-global");
    arg(&x, "virtio-mmio.force-legacy=off");
  }
  if (net_xml(&x, cfg, plan, err) < 0) {
    fclose(x.f);
    return -1;
  }
  snprintf(fwcfg, sizeof(fwcfg), "name=opt/runm/state-dir,string=%s", plan->dir);
  arg(&x, "-fw_cfg");
  arg(&x, fwcfg);
  put(&x, "  </qemu:commandline>\n");
  put(&x, "  <qemu:capabilities>\n    <qemu:del capability='cpu-unavailable-features'/>\n"
          "  </qemu:capabilities>\n</domain>\n");
  if (fclose(x.f) != 0) return runm_make_error(err, ENOMEM, "build domain XML");
  if (x.bad)
    return runm_make_error(err, EINVAL,
                           "VM `%s`: a path, id or the kernel command line holds a control "
                           "character, which the domain XML cannot carry", name);
  *out = buf;
  buf = NULL;
  return 0;
}
