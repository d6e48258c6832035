/* The runm.* kernel command-line keys: the host writes them (lib/vm/vm.c builds
 * the command line), the guest reads them (guest/mounter, guest/init). One
 * spelling for both sides, so a renamed key cannot silently stop meaning
 * anything. The values' formats are the boot contract in docs/guest-boot.md.
 * Macros, not constants, so they concatenate into format strings and
 * messages. */
#ifndef RUNM_CMDLINE_KEYS_H
#define RUNM_CMDLINE_KEYS_H

/* Read by the mounter (initramfs /init). */
#define RUNM_KEY_MBIN "runm.mbin" /* device holding mbin, e.g. vdb */
#define RUNM_KEY_INIT "runm.init" /* absolute path of the program to switch_root to */

/* Read by init (guest/init/setup.c): who it is and where it serves. */
#define RUNM_KEY_ID "runm.id"                 /* the VM's id */
#define RUNM_KEY_TRANSPORT "runm.transport"   /* serial or vsock */
#define RUNM_KEY_PORT "runm.port"             /* virtio-serial port name of runm.v1.Guest */
#define RUNM_KEY_VSOCK_PORT "runm.vsock_port" /* its vsock port */
#define RUNM_KEY_TIME "runm.time"             /* host wall clock, SECONDS.NANOS */
#define RUNM_KEY_DEBUG "runm.debug"           /* 1: debug logging */

/* The guest-to-host channel (guest/init/hostlink.c). */
#define RUNM_KEY_HOST_PORT "runm.host_port"             /* virtio-serial port name of runm.v1.Host */
#define RUNM_KEY_HOST_VSOCK_PORT "runm.host_vsock_port" /* its vsock port */

/* Networking (guest/init/net.c). */
#define RUNM_KEY_NET "runm.net"         /* none, user or tap */
#define RUNM_KEY_NET_IP "runm.net.ip"   /* ADDR/PREFIX */
#define RUNM_KEY_NET_GW "runm.net.gw"   /* ADDR */
#define RUNM_KEY_NET_DNS "runm.net.dns" /* ADDR[,ADDR...] */
#define RUNM_KEY_NET_MAC "runm.net.mac" /* xx:xx:xx:xx:xx:xx */

/* Shares (guest/init/shares.c): RUNM_KEY_SHARE followed by the share's
 * index N (runm.shareN=ro|rw:PATH, 9p tag runmN). */
#define RUNM_KEY_SHARE "runm.share"
/* "virtiofs": the shares are virtio-fs devices (tag runmN), not 9p. */
#define RUNM_KEY_SHARE_FS "runm.sharefs"

#endif
