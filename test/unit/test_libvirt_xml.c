/* The libvirt backend's domain XML (vm_libvirt_xml.c): parsed back with
 * libxml2, every value the host put in comes out unchanged, whatever XML
 * syntax it holds; a control character is refused; the devices are those
 * the qemu backend gives the guest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "cleanup.h"
#include "tap.h"
#include "vm_backend.h"

/* The text of the first node matching the XPath, or NULL (heap). */
static char *xp(xmlDocPtr doc, const char *path)
{
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathObjectPtr r;
  char *out = NULL;
  xmlXPathRegisterNs(ctx, BAD_CAST "runm", BAD_CAST "https://github.com/runm/runm/xmlns/vm/1");
  xmlXPathRegisterNs(ctx, BAD_CAST "qemu", BAD_CAST "http://libvirt.org/schemas/domain/qemu/1.0");
  r = xmlXPathEvalExpression(BAD_CAST path, ctx);
  if (r && r->nodesetval && r->nodesetval->nodeNr > 0) {
    xmlChar *c = xmlNodeGetContent(r->nodesetval->nodeTab[0]);
    out = strdup((const char *)c);
    xmlFree(c);
  }
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(ctx);
  return out;
}

static int count(xmlDocPtr doc, const char *path)
{
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathObjectPtr r;
  int n;
  xmlXPathRegisterNs(ctx, BAD_CAST "qemu", BAD_CAST "http://libvirt.org/schemas/domain/qemu/1.0");
  r = xmlXPathEvalExpression(BAD_CAST path, ctx);
  n = r && r->nodesetval ? r->nodesetval->nodeNr : 0;
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(ctx);
  return n;
}

static void is_xp(xmlDocPtr doc, const char *path, const char *want, const char *what)
{
  cleanup_free char *got = xp(doc, path);
  is_str(got ? got : "(none)", want, what);
}

/* Is `value` one of the <qemu:arg>s? */
static int has_arg(xmlDocPtr doc, const char *value)
{
  char path[512];
  snprintf(path, sizeof(path), "//qemu:commandline/qemu:arg[@value='%s']", value);
  return count(doc, path) > 0;
}

int main(void)
{
  /* Every XML-special character in the paths, the id-bearing name, the
   * command line. (runm's ids are [A-Za-z0-9_.-]; paths are not.) */
  static const char kernel[] = "/k/a&b<c>d\"e'f/vmlinux";
  static const char share[] = "/s/x&y<z>'/rootfs"; /* no \" : runm_vm_share_check */
  struct runm_vm_share shares[2] = {{.path = share, .readonly = false}, {.path = "/ro", .readonly = true}};
  struct runm_port_forward pf = {.proto = RUNM_PORT_TCP, .host_addr = "127.0.0.1", .host_port = 8080,
                                 .guest_port = 80};
  struct runm_vm_config cfg = {.id = "t1.x_y-z", .kernel = kernel, .initrd = "/k/initrd]]>.cpio",
                               .mbin = "/k/mbin.squashfs", .mem_mib = 384, .vcpus = 2,
                               .shares = shares, .n_shares = 2, .ports = &pf, .n_ports = 1};
  struct runm_vm_plan plan = {.accel = RUNM_ACCEL_TCG, .transport = RUNM_TRANSPORT_SERIAL};
  runm_error_t err = NULL;
  char *xml = NULL;
  xmlDocPtr doc;

  snprintf(plan.dir, sizeof(plan.dir), "/run/r&<'>\"/vm/t1.x_y-z");
  snprintf(plan.rpc_sock, sizeof(plan.rpc_sock), "%s/rpc.sock", plan.dir);
  snprintf(plan.host_sock, sizeof(plan.host_sock), "%s/host.sock", plan.dir);
  snprintf(plan.append, sizeof(plan.append), "console=ttyS0 runm.id=t1 x=\"<&>\" y='a'");

  is_int(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1.x_y-z", "/usr/bin/qemu-system-x86_64", &xml, &err),
         0, "domain XML builds");
  doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET) : NULL;
  ok(doc != NULL, "it is well-formed XML");
  if (doc == NULL) {
    fprintf(stderr, "%s\n", xml ? xml : "(null)");
    return tap_done();
  }
  is_xp(doc, "/domain/@type", "qemu", "TCG: domain type qemu");
  is_xp(doc, "/domain/name", "runm-t1.x_y-z", "named after the VM");
  is_xp(doc, "/domain/metadata/runm:vm/runm:id", "t1.x_y-z", "runm's id in <metadata>");
  is_xp(doc, "/domain/metadata/runm:vm/runm:state-dir", plan.dir, "state dir in <metadata>, escaped and back");
  is_xp(doc, "/domain/os/type/@machine", "microvm", "microvm");
  is_xp(doc, "/domain/features/tcg/tb-cache", "96", "TCG: the qemu backend's 96 MiB translation cache");
  is_xp(doc, "/domain/os/kernel", kernel, "kernel path with & < > \" ' round trips");
  is_xp(doc, "/domain/os/initrd", "/k/initrd]]>.cpio", "initrd path with ]]> round trips");
  is_xp(doc, "/domain/os/cmdline", plan.append, "kernel command line round trips");
  is_xp(doc, "/domain/memory", "384", "memory");
  is_xp(doc, "/domain/vcpu", "2", "vCPUs");
  is_xp(doc, "/domain/on_reboot", "destroy", "a guest reboot destroys the domain");
  is_xp(doc, "/domain/on_crash", "destroy", "a crash destroys the domain");
  is_xp(doc, "/domain/devices/disk/source/@file", "/k/mbin.squashfs", "mbin disk");
  ok(count(doc, "/domain/devices/disk/readonly") == 1, "mbin disk read-only");
  ok(count(doc, "/domain/devices/*/address[@type='virtio-mmio']") == 4,
     "disk, virtio-serial and two shares on virtio-mmio (no PCI on microvm)");
  ok(count(doc, "/domain/devices/controller[@type='usb'][@model='none']") == 1, "no USB controller");
  ok(count(doc, "/domain/devices/memballoon[@model='none']") == 1, "no balloon");
  is_xp(doc, "/domain/devices/channel[target/@name='runm.rpc']/source/@path", plan.rpc_sock,
        "RPC port on the plan's socket");
  is_xp(doc, "/domain/devices/channel[target/@name='runm.rpc']/source/@mode", "bind", "libvirt binds the RPC socket");
  is_xp(doc, "/domain/devices/channel[target/@name='runm.host']/source/@path", plan.host_sock,
        "host port dials the owner's socket");
  is_xp(doc, "/domain/devices/channel[target/@name='runm.host']/source/reconnect/@enabled", "yes",
        "and redials");
  is_xp(doc, "/domain/devices/filesystem[target/@dir='runm0']/source/@dir", share, "share 0 path round trips");
  is_xp(doc, "/domain/devices/filesystem[target/@dir='runm0']/@accessmode", "passthrough", "9p passthrough");
  is_xp(doc, "/domain/devices/filesystem[target/@dir='runm0']/@multidevs", "remap", "multidevs=remap");
  ok(count(doc, "/domain/devices/filesystem[target/@dir='runm0']/readonly") == 0, "share 0 writable");
  ok(count(doc, "/domain/devices/filesystem[target/@dir='runm1']/readonly") == 1, "share 1 read-only");
  {
    char want[400];
    snprintf(want, sizeof(want), "%s/console.sock", plan.dir);
    is_xp(doc, "/domain/devices/serial/source/@path", want, "console on the owner's socket");
  }
  ok(has_arg(doc, "isa-serial=off"), "qemu:commandline: microvm's own COM1 off");
  ok(has_arg(doc, "shutdown=poweroff"), "qemu:commandline: a guest poweroff ends QEMU");
  ok(has_arg(doc, "user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,ipv6=off,"
                  "hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80"),
     "qemu:commandline: the qemu backend's -netdev user with hostfwd");
  ok(has_arg(doc, "filter-redirector,id=nf0,netdev=net0,queue=rx,outdev=nfout,indev=nfin"),
     "qemu:commandline: the network filter's redirector");
  ok(count(doc, "//qemu:commandline/qemu:arg") == 16, "qemu:commandline holds those items only");
  ok(count(doc, "/domain/cpu") == 0, "TCG: no <cpu>, QEMU's default CPU as in the qemu backend");
  ok(count(doc, "/domain/qemu:capabilities/qemu:del[@capability='cpu-unavailable-features']") == 1,
     "qemu:capabilities: libvirt reads the guest CPU back without ~400 qom-gets");
  ok(count(doc, "/domain/qemu:capabilities/*") == 1, "qemu:capabilities holds that item only");
  xmlFreeDoc(doc);
  free(xml);
  xml = NULL;

  /* KVM, vsock, no network */
  plan.accel = RUNM_ACCEL_KVM;
  plan.transport = RUNM_TRANSPORT_VSOCK;
  plan.vsock_cid = 77;
  cfg.net = RUNM_NET_NONE;
  cfg.n_ports = 0;
  is_int(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1", "/q", &xml, &err), 0, "kvm/vsock XML builds");
  doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET) : NULL;
  ok(doc != NULL, "well-formed");
  if (doc) {
    is_xp(doc, "/domain/@type", "kvm", "KVM: domain type kvm");
    is_xp(doc, "/domain/cpu/@mode", "host-passthrough", "KVM: the host's CPU");
    is_xp(doc, "/domain/devices/vsock/cid/@address", "77", "vsock CID");
    ok(count(doc, "/domain/devices/channel") == 0, "no virtio-serial ports with vsock");
    ok(!has_arg(doc, "-netdev"), "network none: no NIC");
    ok(count(doc, "/domain/features/tcg") == 0, "KVM: no TCG settings");
    ok(count(doc, "/domain/qemu:capabilities/qemu:del[@capability='cpu-unavailable-features']") == 1,
       "KVM: the same CPU read-back");
    xmlFreeDoc(doc);
  }
  free(xml);
  xml = NULL;

  /* The namespace mode: libvirt's own ethernet interface on the TAP the
   * shim made, nothing on QEMU's command line. */
  cfg.net = RUNM_NET_TAP;
  cfg.tap_name = "tap0_runm";
  is_int(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1", "/q", &xml, &err), 0, "TAP XML builds");
  doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET) : NULL;
  ok(doc != NULL, "well-formed");
  if (doc) {
    is_xp(doc, "/domain/devices/interface/@type", "ethernet", "TAP: an ethernet interface");
    is_xp(doc, "/domain/devices/interface/target/@dev", "tap0_runm", "TAP: the shim's device by name");
    is_xp(doc, "/domain/devices/interface/target/@managed", "no", "TAP: libvirt does not manage it");
    is_xp(doc, "/domain/devices/interface/model/@type", "virtio", "TAP: virtio-net");
    is_xp(doc, "/domain/devices/interface/driver/@name", "qemu", "TAP: no vhost");
    is_xp(doc, "/domain/devices/interface/address/@type", "virtio-mmio", "TAP: on virtio-mmio");
    is_xp(doc, "/domain/devices/interface/mac/@address", "52:54:00:12:34:56", "TAP: the qemu backend's MAC");
    ok(count(doc, "/domain/devices/interface") == 1, "TAP: one NIC");
    ok(!has_arg(doc, "-netdev"), "TAP: no -netdev on QEMU's command line");
    xmlFreeDoc(doc);
  }
  free(xml);
  xml = NULL;

  /* share_fs = virtiofs: shared memfd RAM, runm's virtiofsd sockets, the
   * modern virtio-mmio transport. */
  cfg.net = RUNM_NET_NONE;
  cfg.share_fs = RUNM_SHARE_VIRTIOFS;
  is_int(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1", "/q", &xml, &err), 0, "virtiofs XML builds");
  doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET) : NULL;
  ok(doc != NULL, "well-formed");
  if (doc) {
    char want[400];
    is_xp(doc, "/domain/memoryBacking/source/@type", "memfd", "virtiofs: memfd RAM");
    is_xp(doc, "/domain/memoryBacking/access/@mode", "shared", "virtiofs: shared with virtiofsd");
    is_xp(doc, "/domain/devices/filesystem[1]/driver/@type", "virtiofs", "virtiofs: libvirt's driver type");
    snprintf(want, sizeof(want), "%s/vfs0.sock", plan.dir);
    is_xp(doc, "/domain/devices/filesystem[1]/source/@socket", want, "virtiofs: runm's virtiofsd socket");
    is_xp(doc, "/domain/devices/filesystem[2]/target/@dir", "runm1", "virtiofs: the same tags");
    is_xp(doc, "/domain/devices/filesystem[1]/address/@type", "virtio-mmio", "virtiofs: on virtio-mmio");
    ok(count(doc, "/domain/devices/filesystem/source/@dir") == 0, "virtiofs: no 9p share");
    ok(has_arg(doc, "virtio-mmio.force-legacy=off"), "virtiofs: modern virtio-mmio (qemu:commandline)");
    xmlFreeDoc(doc);
  }
  free(xml);
  xml = NULL;
  cfg.share_fs = RUNM_SHARE_9P;
  cfg.net = RUNM_NET_TAP;

  /* Refusals */
  cfg.tap_name = "tap0'><x";
  ok(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1", "/q", &xml, &err) < 0 && err &&
         strstr(err->msg, "invalid TAP device name") && xml == NULL,
     "a TAP name that is not an interface name is refused, naming it");
  runm_error_release(&err);
  cfg.tap_name = NULL;
  ok(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1", "/q", &xml, &err) < 0 && err &&
         strstr(err->msg, "invalid TAP device name") && xml == NULL,
     "the TAP mode without a TAP name is refused");
  runm_error_release(&err);
  cfg.net = RUNM_NET_NONE;
  cfg.kernel = "/k/bad\x01name";
  ok(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1", "/q", &xml, &err) < 0 && err &&
         strstr(err->msg, "control character") && xml == NULL,
     "a control character is refused, naming the problem");
  runm_error_release(&err);
  cfg.kernel = kernel;
  snprintf(plan.dir, sizeof(plan.dir), "/run/a,b/vm/t1");
  ok(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1", "/q", &xml, &err) < 0 && err && strstr(err->msg, "comma"),
     "a comma in the state dir (QEMU's option syntax) is refused");
  runm_error_release(&err);
  snprintf(plan.dir, sizeof(plan.dir), "/run/x/vm/t1");
  shares[0].path = "/s/../etc";
  ok(runm_libvirt_domain_xml(&cfg, &plan, "runm-t1", "/q", &xml, &err) < 0 && err,
     "a share path that is not normalised is refused");
  runm_error_release(&err);
  {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    is_int(runm_xml_escape(m, "a&b<c>d\"e'f"), 0, "escape");
    fclose(m);
    is_str(buf, "a&amp;b&lt;c&gt;d&quot;e&apos;f", "all five XML specials escaped");
    free(buf);
  }
  xmlCleanupParser();
  return tap_done();
}
