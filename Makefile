# runm — one Makefile for host binaries, guest binaries, guest kernel and image.
#   make            build everything (host tools, guest binaries, kernel, image)
#   make deps       install the Debian packages the build, image and tests need
#   make test       deps + build + every test (unit, integration, e2e), plus a SANITIZE=1 pass
#   make unit       host binaries + unit tests only (no kernel, no image); also
#                   make integration, make e2e; test/run.sh NAME... runs named tests
#   make demo       deps + build + boot a VM, ping it, show its boot timeline, stop it
#   make bench      deps + build + runc-v2 vs runm benchmarks (~15 min) into bench-results/
#   make SANITIZE=1 ASan+UBSan host binaries (in build-san/)

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

PREFIX ?= /usr/local
CC ?= gcc
PKG_CONFIG ?= pkg-config
PROTOC_C ?= protoc-c

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
        -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation -Wswitch-default -Wno-unused-parameter
# lib/ holds four libraries; a binary links only those it uses (see LIBS below).
LIB_INC := -Ilib/core -Ilib/rpc -Ilib/ttrpc -Ilib/vm
BASE_CFLAGS := -std=gnu11 -O2 -g -D_GNU_SOURCE $(WARN) $(LIB_INC) -I$(BUILD)/gen
GRPC_CFLAGS := $(shell $(PKG_CONFIG) --cflags grpc_unsecure libprotobuf-c json-c libvirt 2>/dev/null)
# libvirt: lib/vm's libvirt backend (vm_libvirt.c).
GRPC_LIBS := $(shell $(PKG_CONFIG) --libs grpc_unsecure libprotobuf-c json-c libvirt 2>/dev/null) -lpthread -lm
SQFS_CFLAGS := $(shell $(PKG_CONFIG) --cflags libsquashfs1 2>/dev/null)
SQFS_LIBS := $(shell $(PKG_CONFIG) --libs libsquashfs1 2>/dev/null) -lelf
FUSE_CFLAGS := $(shell $(PKG_CONFIG) --cflags fuse3 2>/dev/null)
FUSE_LIBS := $(shell $(PKG_CONFIG) --libs fuse3 2>/dev/null) -lpthread
# rtnetlink and tc in the namespace mode (host-shim/netlink_if.c).
MNL_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmnl 2>/dev/null)
MNL_LIBS := $(shell $(PKG_CONFIG) --libs libmnl 2>/dev/null)
# SHA-256 for the shim's names (host-shim/names.c).
CRYPTO_LIBS := $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null || echo -lcrypto)

HOST_CFLAGS := $(BASE_CFLAGS) $(GRPC_CFLAGS) $(SANFLAGS)
HOST_LDFLAGS := $(SANFLAGS)
# Guest binaries run inside the VM: never sanitized, always from build/.
GUEST_BUILD := build/guest
GUEST_CFLAGS := $(BASE_CFLAGS) $(GRPC_CFLAGS)

BIN := $(BUILD)/bin
SHARE := build/share/runm
GEN := $(BUILD)/gen

PROTOS := proto/runm/v1/guest.proto \
          proto/runm/v1/host.proto \
          proto/google/rpc/status.proto \
          proto/containerd/ttrpc/request.proto \
          proto/containerd/types/mount.proto \
          proto/containerd/types/introspection.proto \
          proto/containerd/types/task/task.proto \
          proto/containerd/runtime/task/v2/shim.proto \
          proto/containerd/events/task.proto \
          proto/containerd/services/ttrpc/events/v1/events.proto \
          proto/containerd/cgroups/v2/metrics.proto
# Well-known types the containerd protos import: protoc-c ships their .proto
# files but no C code for them, so they are generated like ours.
PROTO_SYS ?= /usr/include
WKT_PROTOS := google/protobuf/any.proto google/protobuf/empty.proto google/protobuf/timestamp.proto
# What this make reads when it starts: the packages' .pc files and the
# well-known .proto files. Missing, the generated-code rules cannot match and
# make would stop at "No rule to make target build/obj/lib/…": say instead
# what is missing. deps, demo, test and bench run `make deps` first and the
# build in a fresh make (test/unit/test_makefile.sh checks that), so only
# the goals that build in this very process need the packages already.
PKG_MODULES := grpc_unsecure libprotobuf-c json-c libsquashfs1 fuse3 libmnl libvirt libxml-2.0
DEPS_MISSING := $(shell $(PKG_CONFIG) --exists $(PKG_MODULES) 2>/dev/null || echo "pkg-config modules ($(PKG_MODULES))") \
                $(if $(wildcard $(PROTO_SYS)/google/protobuf/empty.proto),,$(PROTO_SYS)/google/protobuf/*.proto)
NO_DEPS_GOALS := deps demo test bench clean distclean
ifneq ($(filter-out $(NO_DEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
ifneq ($(strip $(DEPS_MISSING)),)
$(error missing build dependencies: $(strip $(DEPS_MISSING)); run `make deps` first (`make demo` and `make test` run it for you))
endif
endif

# Every generated file, relative to the gen directory.
PROTO_GEN := $(patsubst proto/%.proto,%.pb-c,$(PROTOS)) $(patsubst %.proto,%.pb-c,$(WKT_PROTOS))
PROTO_C := $(addprefix $(GEN)/,$(addsuffix .c,$(PROTO_GEN)))
PROTO_H := $(PROTO_C:.c=.h)

# The shared libraries, one folder and one archive each:
#   core   errors, logging, cleanup, whole-buffer I/O, kernel command line
#   rpc    gRPC server/client/proxy on protobuf-c (host and guest)
#   ttrpc  containerd's ttrpc (the shim only)
#   vm     the VM launcher and its records (host only)
#   pb     the generated protobuf-c code
# Each depends only on those before it (vm uses rpc for the first Ping).
LIB_NAMES := core rpc ttrpc vm
lib_srcs = $(wildcard lib/$(1)/*.c)
lib_objs = $(patsubst lib/%.c,$(BUILD)/obj/lib/%.o,$(call lib_srcs,$(1)))
LIB_HDRS := $(wildcard lib/*/*.h)
LIB_ALL_SRCS := $(foreach l,$(LIB_NAMES),$(call lib_srcs,$(l)))
LIBCORE := $(BUILD)/lib/librunm-core.a
LIBRPC := $(BUILD)/lib/librunm-rpc.a
LIBTTRPC := $(BUILD)/lib/librunm-ttrpc.a
LIBVM := $(BUILD)/lib/librunm-vm.a
LIBPB := $(BUILD)/lib/librunm-pb.a
PB_OBJS := $(patsubst $(GEN)/%.c,$(BUILD)/obj/gen/%.o,$(PROTO_C))
# Link lines, most dependent library first.
LIBS_SHIM := $(LIBVM) $(LIBTTRPC) $(LIBRPC) $(LIBPB) $(LIBCORE)
LIBS_CTL := $(LIBVM) $(LIBRPC) $(LIBPB) $(LIBCORE)
# What guest code links (its unit tests run it on the host).
LIBS_GUEST := $(LIBRPC) $(LIBPB) $(LIBCORE)
LIBS_ALL := $(LIBS_SHIM)

RUNMCTL_SRCS := $(wildcard runmctl/*.c)
SHIM_SRCS := $(wildcard host-shim/*.c)
INIT_SRCS := $(wildcard guest/init/*.c)
MOUNTER_SRCS := $(wildcard guest/mounter/*.c)
PROXY_SRCS := $(wildcard guest/fork-exec-proxy/*.c)
MKIMAGE_SRCS := $(wildcard tools/mkimage/*.c)
BINDFS_SRCS := $(wildcard bindfs/*.c)
# What runm-bindfs's unit tests link: the pure parts.
BINDFS_PURE := bindfs/map.c bindfs/options.c
# The mounter is static and syscall-only: it links these few lib files directly.
MOUNTER_LIB := lib/core/error.c lib/core/cmdline.c

UNIT_SRCS := $(wildcard test/unit/test_*.c)
UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(UNIT_SRCS))

HOST_BINS := $(BIN)/runmctl $(BIN)/runm-mkimage $(BIN)/containerd-shim-runm-v1 $(BIN)/runm-bindfs \
             $(BIN)/fuse3.runm-bindfs
GUEST_BINS := $(GUEST_BUILD)/runm-linux-init $(GUEST_BUILD)/runm-linux-mounter \
              $(GUEST_BUILD)/runm-fork-exec-proxy

KERNEL := $(SHARE)/vmlinux
INITRD := $(SHARE)/initrd.cpio
MBIN := $(SHARE)/mbin.squashfs

.SECONDARY:
.PHONY: all host guest kernel image deps test unit integration e2e demo bench install clean distclean fuzz fuzz-ports \
        fuzz-replies fuzz-hookreq fuzz-claim fuzz-cmdline fuzz-guest fuzz-netconfig
all: host guest image kernel

host: $(HOST_BINS) $(UNIT_BINS)
guest: $(GUEST_BINS)

deps:
	@bash tools/deps.sh

# ---- generated protobuf-c code (out of the source tree) ----
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	$(PROTOC_C) --proto_path=proto --proto_path=$(PROTO_SYS) --c_out=$(GEN) $<
$(GEN)/google/protobuf/%.pb-c.c $(GEN)/google/protobuf/%.pb-c.h: $(PROTO_SYS)/google/protobuf/%.proto
	@mkdir -p $(GEN)
	$(PROTOC_C) --proto_path=$(PROTO_SYS) --c_out=$(GEN) $<

# ---- host objects ----
$(BUILD)/obj/lib/%.o: lib/%.c $(PROTO_H) $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<
$(BUILD)/obj/gen/%.o: $(GEN)/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -c -o $@ $<
$(LIBCORE): $(call lib_objs,core)
$(LIBRPC): $(call lib_objs,rpc)
$(LIBTTRPC): $(call lib_objs,ttrpc)
$(LIBVM): $(call lib_objs,vm)
$(LIBPB): $(PB_OBJS)
$(LIBCORE) $(LIBRPC) $(LIBTTRPC) $(LIBVM) $(LIBPB):
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/runmctl: $(RUNMCTL_SRCS) $(wildcard runmctl/*.h) $(LIBS_CTL)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Irunmctl -o $@ $(RUNMCTL_SRCS) $(LIBS_CTL) $(GRPC_LIBS) $(HOST_LDFLAGS)

$(BIN)/containerd-shim-runm-v1: $(SHIM_SRCS) $(wildcard host-shim/*.h) $(LIBS_SHIM)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(MNL_CFLAGS) -Ihost-shim -o $@ $(SHIM_SRCS) $(LIBS_SHIM) $(GRPC_LIBS) $(CRYPTO_LIBS) $(MNL_LIBS) \
	  $(HOST_LDFLAGS)

$(BIN)/runm-bindfs: $(BINDFS_SRCS) $(wildcard bindfs/*.h) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(FUSE_CFLAGS) -Ibindfs -o $@ $(BINDFS_SRCS) $(LIBCORE) $(FUSE_LIBS) $(HOST_LDFLAGS)
# `mount -t fuse3.runm-bindfs` reaches mount.fuse3, which runs the program
# named by the whole type (from the default PATH: mount(8) drops PATH).
$(BIN)/fuse3.runm-bindfs: $(BIN)/runm-bindfs
	ln -sf runm-bindfs $@

$(BIN)/runm-mkimage: $(MKIMAGE_SRCS) $(wildcard tools/mkimage/*.h) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SQFS_CFLAGS) -Itools/mkimage -o $@ $(MKIMAGE_SRCS) $(LIBCORE) $(SQFS_LIBS) $(HOST_LDFLAGS)

# Unit tests may see internals of the component they test.
$(BUILD)/test/test_%: test/unit/test_%.c $(LIBS_ALL) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SQFS_CFLAGS) -Itest/unit -o $@ $< $(LIBS_ALL) $(GRPC_LIBS) $(SQFS_LIBS) $(HOST_LDFLAGS)
# The libvirt domain XML, parsed back with libxml2 (escaping round trips).
$(BUILD)/test/test_libvirt_xml: test/unit/test_libvirt_xml.c $(LIBS_ALL) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(shell $(PKG_CONFIG) --cflags libxml-2.0) -Itest/unit -o $@ $< $(LIBS_ALL) \
	  $(GRPC_LIBS) $(shell $(PKG_CONFIG) --libs libxml-2.0) $(HOST_LDFLAGS)
# The shim's bind mounts (rootfs.c, fusebind.c) with the real runm-bindfs.
$(BUILD)/test/test_bindfs_rootfs: test/unit/test_bindfs_rootfs.c host-shim/rootfs.c host-shim/fusebind.c \
    host-shim/config.c $(wildcard host-shim/*.h) $(LIBS_SHIM) test/unit/tap.h $(BIN)/runm-bindfs
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itest/unit -Ihost-shim -o $@ $< host-shim/rootfs.c host-shim/fusebind.c host-shim/config.c \
	  $(LIBS_SHIM) $(GRPC_LIBS) $(HOST_LDFLAGS)
# The shim's settings (config.c).
$(BUILD)/test/test_shim_config: test/unit/test_shim_config.c host-shim/config.c $(wildcard host-shim/*.h) \
    $(LIBS_SHIM) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itest/unit -Ihost-shim -o $@ $< host-shim/config.c $(LIBS_SHIM) $(GRPC_LIBS) $(HOST_LDFLAGS)
# The shim's names and spec reading (names.c, spec.c).
$(BUILD)/test/test_shim_names: test/unit/test_shim_names.c host-shim/names.c host-shim/spec.c host-shim/netmode.c \
    $(wildcard host-shim/*.h) $(LIBS_SHIM) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itest/unit -Ihost-shim -o $@ $< host-shim/names.c host-shim/spec.c host-shim/netmode.c \
	  $(LIBS_SHIM) $(GRPC_LIBS) $(CRYPTO_LIBS) $(HOST_LDFLAGS)
# The namespace mode's rtnetlink and tc pieces (netlink_if.c, netns.c).
NETIF_TEST_SRCS := host-shim/netlink_if.c host-shim/netns.c host-shim/net_guest.c host-shim/netmode.c
$(BUILD)/test/test_netlink_if: test/unit/test_netlink_if.c $(NETIF_TEST_SRCS) \
    $(wildcard host-shim/*.h) $(LIBS_SHIM) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(MNL_CFLAGS) -Itest/unit -Ihost-shim -o $@ $< $(NETIF_TEST_SRCS) \
	  $(LIBS_SHIM) $(GRPC_LIBS) $(MNL_LIBS) $(HOST_LDFLAGS)
# Pods: group, size and namespace paths from a spec (pod.c).
$(BUILD)/test/test_shim_pod: test/unit/test_shim_pod.c host-shim/pod.c host-shim/guest_spec.c \
    $(wildcard host-shim/*.h) $(LIBS_SHIM) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itest/unit -Ihost-shim -o $@ $< host-shim/pod.c host-shim/guest_spec.c \
	  $(LIBS_SHIM) $(GRPC_LIBS) $(HOST_LDFLAGS)
# `-info` for containerd 2.x (info.c).
$(BUILD)/test/test_shim_info: test/unit/test_shim_info.c host-shim/info.c $(wildcard host-shim/*.h) $(LIBS_SHIM) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itest/unit -Ihost-shim -o $@ $< host-shim/info.c $(LIBS_SHIM) $(GRPC_LIBS) $(HOST_LDFLAGS)
# runm-bindfs's tests link its pure parts (option and map parsing).
$(BUILD)/test/test_bindfs_%: test/unit/test_bindfs_%.c $(BINDFS_PURE) $(wildcard bindfs/*.h) $(LIBCORE) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itest/unit -Ibindfs -o $@ $< $(BINDFS_PURE) $(LIBCORE) $(HOST_LDFLAGS)

# guest/init's tests: test_init_FILE.c may #include guest/init/FILE.c to
# reach its static parsers; every other init source (not main.c) comes from
# an archive, so only what the test calls is linked in.
INIT_TEST_LIB := $(BUILD)/init-test.a
INIT_TEST_OBJS := $(patsubst guest/init/%.c,$(BUILD)/obj/init/%.o,$(filter-out guest/init/main.c,$(INIT_SRCS)))
$(BUILD)/obj/init/%.o: guest/init/%.c $(wildcard guest/init/*.h) $(PROTO_H) $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Iguest/init -c -o $@ $<
$(INIT_TEST_LIB): $(INIT_TEST_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/test/test_init_%: test/unit/test_init_%.c $(INIT_TEST_LIB) $(wildcard guest/init/*.c) $(LIBS_GUEST) $(wildcard test/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itest/unit -Iguest/init -o $@ $< $(INIT_TEST_LIB) $(LIBS_GUEST) $(GRPC_LIBS) $(HOST_LDFLAGS)

# ---- guest binaries (never sanitized) ----
$(GUEST_BUILD)/obj/lib/%.o: lib/%.c $(addprefix build/gen/,$(addsuffix .h,$(PROTO_GEN))) $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -Ibuild/gen -c -o $@ $<
$(GUEST_BUILD)/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -Ibuild/gen -Wno-missing-prototypes -c -o $@ $<
# The guest links core and rpc (and the generated code), never ttrpc or vm.
GUEST_LIB_OBJS := $(patsubst lib/%.c,$(GUEST_BUILD)/obj/lib/%.o,$(call lib_srcs,core) $(call lib_srcs,rpc)) \
                  $(addprefix $(GUEST_BUILD)/obj/gen/,$(addsuffix .o,$(PROTO_GEN)))
$(GUEST_BUILD)/librunm.a: $(GUEST_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# Init is linked statically: under TCG, loading ~50 shared libraries (gRPC,
# abseil, libstdc++) and resolving their symbols cost most of a second of
# boot. glibc warns that getaddrinfo in a static binary needs its NSS
# modules at run time; init only ever uses unix: addresses, so it never asks.
GUEST_STATIC_LIBS := -static -Wl,--start-group \
  $(shell $(PKG_CONFIG) --static --libs grpc_unsecure libprotobuf-c 2>/dev/null) \
  -lupb -laddress_sorting -lcares -lz -lstdc++ -lpthread -lm -Wl,--end-group
$(GUEST_BUILD)/runm-linux-init: $(INIT_SRCS) $(wildcard guest/init/*.h) $(GUEST_BUILD)/librunm.a
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -Ibuild/gen -Iguest/init -o $@ $(INIT_SRCS) $(GUEST_BUILD)/librunm.a \
	  $(GUEST_STATIC_LIBS) 2>$@.ld || { cat $@.ld; rm -f $@.ld; exit 1; }
	@grep -v "statically linked applications requires at runtime\|in function \`" $@.ld || true
	@rm -f $@.ld

$(GUEST_BUILD)/runm-linux-mounter: $(MOUNTER_SRCS) $(wildcard guest/mounter/*.h) $(MOUNTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Os -static -Iguest/mounter -o $@ $(MOUNTER_SRCS) $(MOUNTER_LIB)

# Static: it runs inside containers (startContainer hooks) where only the
# bind-mounted binary exists. protobuf-c is its one library.
$(GUEST_BUILD)/obj/proxy/host.pb-c.o: build/gen/runm/v1/host.pb-c.c build/gen/runm/v1/host.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Os -Ibuild/gen -Wno-missing-prototypes -c -o $@ $<
# Like the mounter, it links the few lib files it needs directly.
PROXY_LIB := lib/core/error.c lib/core/unix_socket.c
$(GUEST_BUILD)/runm-fork-exec-proxy: $(PROXY_SRCS) $(PROXY_LIB) $(GUEST_BUILD)/obj/proxy/host.pb-c.o build/gen/runm/v1/host.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Os -static -s -Ibuild/gen -o $@ $(PROXY_SRCS) $(PROXY_LIB) $(GUEST_BUILD)/obj/proxy/host.pb-c.o \
	  -lprotobuf-c

ifneq ($(SANITIZE),1)
build/gen/%.pb-c.c build/gen/%.pb-c.h: proto/%.proto
	@mkdir -p build/gen
	$(PROTOC_C) --proto_path=proto --proto_path=$(PROTO_SYS) --c_out=build/gen $<
build/gen/google/protobuf/%.pb-c.c build/gen/google/protobuf/%.pb-c.h: $(PROTO_SYS)/google/protobuf/%.proto
	@mkdir -p build/gen
	$(PROTOC_C) --proto_path=$(PROTO_SYS) --c_out=build/gen $<
endif

# ---- guest kernel (cached by fragment + source version) ----
kernel: $(KERNEL)
$(KERNEL): linux/kernel/runm.config linux/kernel/build.sh
	@mkdir -p $(SHARE)
	bash linux/kernel/build.sh $(SHARE)

# ---- guest image ----
image: $(INITRD) $(MBIN)
$(INITRD): build/bin/runm-mkimage $(GUEST_BUILD)/runm-linux-mounter
	@mkdir -p $(SHARE)
	build/bin/runm-mkimage initramfs --out $@ --file $(GUEST_BUILD)/runm-linux-mounter:init
# --raw-data: the guest reads init, runc and busybox without decompressing
# them under emulation (boot and runc's sealed copy, docs/performance.md).
$(MBIN): build/bin/runm-mkimage $(GUEST_BUILD)/runm-linux-init $(GUEST_BUILD)/runm-fork-exec-proxy
	@mkdir -p $(SHARE)
	strip -o $(GUEST_BUILD)/runm-linux-init.stripped $(GUEST_BUILD)/runm-linux-init
	build/bin/runm-mkimage mbin --out $@ --compressor zstd --raw-data \
	  --elf $(GUEST_BUILD)/runm-linux-init.stripped:bin/runm-linux-init \
	  --file $(GUEST_BUILD)/runm-fork-exec-proxy:bin/runm-fork-exec-proxy \
	  --elf $$(command -v runc):bin/runc \
	  --elf /bin/busybox:bin/busybox \
	  --symlink busybox:bin/sh

ifeq ($(SANITIZE),1)
build/bin/runm-mkimage:
	$(MAKE) SANITIZE=0 build/bin/runm-mkimage
endif

# ---- fuzzing (clang + libFuzzer; not part of `all`) ----
# `make fuzz` builds the ttrpc fuzzer, writes a seed corpus of real frames
# and fuzzes for FUZZ_TIME seconds; it fails on any crash or leak.
FUZZ_CC ?= clang
FUZZ_TIME ?= 20
FUZZ_DIR := build/fuzz
FUZZ_CFLAGS := -std=gnu11 -O1 -g -D_GNU_SOURCE $(LIB_INC) -Ibuild/gen -fno-omit-frame-pointer
FUZZ_TTRPC_SRCS := test/fuzz/fuzz_ttrpc.c lib/ttrpc/ttrpc_frame.c lib/core/error.c \
                   $(addprefix build/gen/,$(addsuffix .c,$(PROTO_GEN)))
fuzz: $(FUZZ_DIR)/fuzz_ttrpc $(FUZZ_DIR)/fuzz_ttrpc_seeds
	rm -rf $(FUZZ_DIR)/corpus_ttrpc && mkdir -p $(FUZZ_DIR)/corpus_ttrpc
	$(FUZZ_DIR)/fuzz_ttrpc_seeds $(FUZZ_DIR)/corpus_ttrpc
	$(FUZZ_DIR)/fuzz_ttrpc -max_total_time=$(FUZZ_TIME) -max_len=65536 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus_ttrpc
$(FUZZ_DIR)/fuzz_ttrpc: $(FUZZ_TTRPC_SRCS) lib/ttrpc/ttrpc.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_TTRPC_SRCS) $$($(PKG_CONFIG) --libs libprotobuf-c)
$(FUZZ_DIR)/fuzz_ttrpc_seeds: $(FUZZ_TTRPC_SRCS) lib/ttrpc/ttrpc.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_WRITE_SEEDS -o $@ $(FUZZ_TTRPC_SRCS) $$($(PKG_CONFIG) --libs libprotobuf-c)
# `make fuzz-ports`: the published-ports parser (annotation / --publish
# text), seeded with valid and invalid specs, for FUZZ_TIME seconds.
FUZZ_PORTS_SRCS := test/fuzz/fuzz_ports.c lib/vm/ports.c lib/core/error.c
fuzz-ports: $(FUZZ_DIR)/fuzz_ports
	rm -rf $(FUZZ_DIR)/corpus_ports && mkdir -p $(FUZZ_DIR)/corpus_ports
	printf '8080:80' >$(FUZZ_DIR)/corpus_ports/a
	printf '127.0.0.1:5353:53/udp,0.0.0.0:1:65535/tcp' >$(FUZZ_DIR)/corpus_ports/b
	printf '[::1]:80:80,8080:80/sctp,,1.2.3:4:5' >$(FUZZ_DIR)/corpus_ports/c
	$(FUZZ_DIR)/fuzz_ports -max_total_time=$(FUZZ_TIME) -max_len=4200 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus_ports
$(FUZZ_DIR)/fuzz_ports: $(FUZZ_PORTS_SRCS) lib/vm/ports.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_PORTS_SRCS)

# ---- fuzzing what the guest sends the host (issue 11) ----
# `make fuzz-guest` runs the five below, FUZZ_GUEST_TIME seconds each:
#   fuzz-replies  every runm.v1 reply/stream message the shim decodes, and
#                 the RunHook request, through the rpc layer's budgeted decoder,
#                 and the shim's conversions of them (guest_reply.c)
#   fuzz-hookreq  the RunHook request judged by hooks.c's admit()
#   fuzz-claim    the pool claim message (pool_claim.c)
#   fuzz-cmdline  the kernel command-line parser (lib/core/cmdline.c)
#   fuzz-netconfig the namespace mode's NetworkConfig as init checks it
# fuzz_hookreq and fuzz_claim #include the shim file whose static parser
# they drive and link the rest of the shim and lib, built here with
# coverage (main.c's main renamed: libFuzzer brings its own).
FUZZ_GUEST_TIME ?= 10
FUZZ_OBJ := $(FUZZ_DIR)/obj
FUZZ_OBJ_CFLAGS := $(FUZZ_CFLAGS) $(GRPC_CFLAGS) -Ihost-shim -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LINK := -fsanitize=fuzzer,address,undefined
FUZZ_OPTS = -max_total_time=$(FUZZ_GUEST_TIME) -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/
fuzz_shim_objs = $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(LIB_ALL_SRCS) $(PROTO_C) $(filter-out $(1),$(SHIM_SRCS)))
$(FUZZ_OBJ)/%.o: %.c $(PROTO_H) $(LIB_HDRS) $(wildcard host-shim/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_OBJ_CFLAGS) $(if $(filter host-shim/main.c,$<),-Dmain=runm_shim_main) -c -o $@ $<
# fuzz_guest_replies links the shim's own conversions (guest_reply.c).
FUZZ_REPLIES_SRCS := test/fuzz/fuzz_guest_replies.c host-shim/guest_reply.c lib/rpc/rpc_decode.c \
                     lib/rpc/rpc_codec.c lib/rpc/pb.c lib/core/log.c lib/core/error.c lib/core/xalloc.c $(PROTO_C)
$(FUZZ_DIR)/fuzz_guest_replies: $(FUZZ_REPLIES_SRCS) $(PROTO_H) $(LIB_HDRS) host-shim/guest_reply.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(GRPC_CFLAGS) -Ihost-shim $(FUZZ_LINK) -o $@ $(FUZZ_REPLIES_SRCS) $(GRPC_LIBS)
$(FUZZ_DIR)/fuzz_hookreq: test/fuzz/fuzz_hookreq.c host-shim/hooks.c $(call fuzz_shim_objs,host-shim/hooks.c)
	$(FUZZ_CC) $(FUZZ_OBJ_CFLAGS) $(FUZZ_LINK) -o $@ $< $(call fuzz_shim_objs,host-shim/hooks.c) $(GRPC_LIBS) $(CRYPTO_LIBS) $(MNL_LIBS)
$(FUZZ_DIR)/fuzz_claim: test/fuzz/fuzz_claim.c host-shim/pool_claim.c $(call fuzz_shim_objs,host-shim/pool_claim.c)
	$(FUZZ_CC) $(FUZZ_OBJ_CFLAGS) $(FUZZ_LINK) -o $@ $< $(call fuzz_shim_objs,host-shim/pool_claim.c) $(GRPC_LIBS) $(CRYPTO_LIBS) $(MNL_LIBS)
$(FUZZ_DIR)/fuzz_cmdline: test/fuzz/fuzz_cmdline.c lib/core/cmdline.c lib/core/error.c lib/core/cmdline.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LINK) -o $@ test/fuzz/fuzz_cmdline.c lib/core/cmdline.c lib/core/error.c
fuzz-replies: $(FUZZ_DIR)/fuzz_guest_replies
	rm -rf $(FUZZ_DIR)/corpus_replies && mkdir -p $(FUZZ_DIR)/corpus_replies
	FUZZ_WRITE_SEEDS=$(FUZZ_DIR)/corpus_replies $<
	$< $(FUZZ_OPTS) -max_len=65536 $(FUZZ_DIR)/corpus_replies
fuzz-hookreq: $(FUZZ_DIR)/fuzz_hookreq
	rm -rf $(FUZZ_DIR)/corpus_hookreq && mkdir -p $(FUZZ_DIR)/corpus_hookreq
	FUZZ_WRITE_SEEDS=$(FUZZ_DIR)/corpus_hookreq $<
	$< $(FUZZ_OPTS) -max_len=8192 $(FUZZ_DIR)/corpus_hookreq
fuzz-claim: $(FUZZ_DIR)/fuzz_claim
	rm -rf $(FUZZ_DIR)/corpus_claim && mkdir -p $(FUZZ_DIR)/corpus_claim
	printf '%s\000' runm-test c1 /run/containerd/containerd.sock /usr/bin/containerd \
	  /run/containerd/containerd.sock.ttrpc /run/containerd/b/c1 1 >$(FUZZ_DIR)/corpus_claim/a
	printf '%s\000' ns id '' '' '' /b 0 >$(FUZZ_DIR)/corpus_claim/b
	printf 'ns\000id\000' >$(FUZZ_DIR)/corpus_claim/c
	$< $(FUZZ_OPTS) -max_len=16384 $(FUZZ_DIR)/corpus_claim
fuzz-cmdline: $(FUZZ_DIR)/fuzz_cmdline
	rm -rf $(FUZZ_DIR)/corpus_cmdline && mkdir -p $(FUZZ_DIR)/corpus_cmdline
	printf '\003console=hvc0 runm.transport=serial "runm.id=a b" root="x y" -- init=1' \
	  >$(FUZZ_DIR)/corpus_cmdline/a
	printf '\001a=1 a="2" "a=3 4" a\t--' >$(FUZZ_DIR)/corpus_cmdline/b
	$< $(FUZZ_OPTS) -max_len=4200 $(FUZZ_DIR)/corpus_cmdline
# `make fuzz-netconfig`: the namespace mode's NetworkConfig as the guest
# checks it (host-sent, but the guest's parser all the same).
FUZZ_NETCONFIG_SRCS := test/fuzz/fuzz_netconfig.c guest/init/net_tap_check.c lib/core/error.c \
                       build/gen/runm/v1/guest.pb-c.c
$(FUZZ_DIR)/fuzz_netconfig: $(FUZZ_NETCONFIG_SRCS) guest/init/net_tap.h build/gen/runm/v1/guest.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iguest/init $(FUZZ_LINK) -o $@ $(FUZZ_NETCONFIG_SRCS) $$($(PKG_CONFIG) --libs libprotobuf-c)
fuzz-netconfig: $(FUZZ_DIR)/fuzz_netconfig
	rm -rf $(FUZZ_DIR)/corpus_netconfig && mkdir -p $(FUZZ_DIR)/corpus_netconfig
	printf '\012\006\002\000\000\167\000\002\020\334\013\032\007\012\004\012\115\000\002\020\030"\016\012\004\000\000\000\000\032\004\012\115\000\001' \
	  >$(FUZZ_DIR)/corpus_netconfig/a
	$< $(FUZZ_OPTS) -max_len=4096 $(FUZZ_DIR)/corpus_netconfig
fuzz-guest: fuzz-replies fuzz-hookreq fuzz-claim fuzz-cmdline fuzz-netconfig

# ---- tests ----
test: deps
	@bash test/run.sh

# The host binaries and unit tests only (normal and SANITIZE=1): no guest
# kernel, no image. integration and e2e build everything they boot.
unit: host
	@bash test/run.sh --unit-only

integration:
	@bash test/run.sh --integration-only

e2e:
	@bash test/run.sh --e2e-only

# deps may install the very headers and .pc files this Makefile reads when
# it starts (pkg-config flags, the well-known .proto files): the build after
# it runs in a fresh make, which sees them.
demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bash tools/bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/runm
	install -m 0755 build/bin/runmctl build/bin/containerd-shim-runm-v1 build/bin/runm-bindfs $(DESTDIR)$(PREFIX)/bin/
	ln -sf runm-bindfs $(DESTDIR)$(PREFIX)/bin/fuse3.runm-bindfs
	install -m 0644 $(KERNEL) $(INITRD) $(MBIN) $(DESTDIR)$(PREFIX)/share/runm/

# No format-check: the tree is formatted by hand (2-space indent, ~100-110
# columns, wraps chosen for reading). clang-format 14 cannot reproduce it:
# the closest configuration (LLVM base, ColumnLimit 100) still differs in
# 828 places over 145 files, and passing would take a whole-tree reformat.

clean:
	rm -rf build build-san

# The kernel cache lives outside the tree; distclean drops it too.
distclean: clean
	rm -rf $${RUNM_CACHE_DIR:-$$HOME/.cache/runm}
