#!/bin/bash
# runm-mkimage: reproducible mbin (squashfs) and initramfs (cpio) images,
# the mbin layout of docs/guest-boot.md, and clear errors for bad inputs.
# TAP output; exits non-zero when any check fails. Env: BUILD (default build).
set -u

BUILD=${BUILD:-build}
MKIMAGE=${MKIMAGE:-$BUILD/bin/runm-mkimage}
[ -x "$MKIMAGE" ] || MKIMAGE=build/bin/runm-mkimage
MOUNTER=build/guest/runm-linux-mounter
[ -x "$MOUNTER" ] || MOUNTER=/bin/busybox

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check "name" command...
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}

if [ ! -x "$MKIMAGE" ]; then
  echo "not ok 1 - runm-mkimage not built ($MKIMAGE)"
  echo "1..1"
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

RUNC=$(command -v runc || true)
BUSYBOX=/bin/busybox

# ---- mbin reproducibility ----
if [ -n "$RUNC" ] && [ -x "$BUSYBOX" ]; then
  mbin() { "$MKIMAGE" mbin --out "$1" --elf "$RUNC:bin/runc" --elf "$BUSYBOX:bin/busybox" \
    --symlink busybox:bin/sh; }
  check "mbin build 1" mbin "$tmp/m1.sqfs"
  check "mbin build 2" mbin "$tmp/m2.sqfs"
  check "two mbin builds are byte-identical" cmp -s "$tmp/m1.sqfs" "$tmp/m2.sqfs"
  "$MKIMAGE" mbin --out "$tmp/m3.sqfs" --symlink busybox:bin/sh --elf "$BUSYBOX:bin/busybox" \
    --elf "$RUNC:bin/runc"
  check "argument order does not change the mbin" cmp -s "$tmp/m1.sqfs" "$tmp/m3.sqfs"
  check "mbin size is a multiple of 4096" test $(($(stat -c %s "$tmp/m1.sqfs") % 4096)) -eq 0
  # Superblock modification time (bytes 8..11) is 0.
  check "superblock time is 0" test "$(od -An -tu4 -j8 -N4 "$tmp/m1.sqfs" | tr -d ' ')" = 0

  if command -v unsquashfs >/dev/null; then
    unsquashfs -lln "$tmp/m1.sqfs" >"$tmp/list" 2>&1
    has() { grep -q -- "$1" "$tmp/list"; }
    check "layout: bin/runc 0755" has '^-rwxr-xr-x 0/0 .* squashfs-root/bin/runc$'
    check "layout: bin/busybox" has ' squashfs-root/bin/busybox$'
    check "layout: bin/sh -> busybox" has ' squashfs-root/bin/sh -> busybox$'
    check "layout: lib64/ld-linux-x86-64.so.2" has ' squashfs-root/lib64/ld-linux-x86-64.so.2$'
    check "layout: lib/x86_64-linux-gnu/libseccomp.so.2" \
      has ' squashfs-root/lib/x86_64-linux-gnu/libseccomp.so.2$'
    check "layout: lib/x86_64-linux-gnu/libc.so.6" has ' squashfs-root/lib/x86_64-linux-gnu/libc.so.6$'
    check "interpreter not duplicated under lib/" \
      bash -c "! grep -q 'x86_64-linux-gnu/ld-linux' '$tmp/list'"
    check "every entry is 0/0 at the epoch" \
      bash -c "! grep -v ' 0/0 .* 1970-01-01 00:00 ' '$tmp/list' | grep -q squashfs-root"
    unsquashfs -q -d "$tmp/x" "$tmp/m1.sqfs" >/dev/null 2>&1
    check "bin/runc content matches the source" cmp -s "$tmp/x/bin/runc" "$RUNC"
    check "libseccomp stored as the real file, not a symlink" \
      test -f "$tmp/x/lib/x86_64-linux-gnu/libseccomp.so.2" -a ! -L "$tmp/x/lib/x86_64-linux-gnu/libseccomp.so.2"
    check "runc runs with the image's own loader and libraries" \
      bash -c "'$tmp/x/lib64/ld-linux-x86-64.so.2' --library-path '$tmp/x/lib/x86_64-linux-gnu' '$tmp/x/bin/runc' --version | grep -q '^runc version'"
    # --raw-data (the Makefile's mbin): file data stored as it is, so the
    # guest reads it without decompressing under emulation.
    check "--raw-data mbin builds" "$MKIMAGE" mbin --out "$tmp/r1.sqfs" --compressor zstd --raw-data \
      --elf "$RUNC:bin/runc" --elf "$BUSYBOX:bin/busybox" --symlink busybox:bin/sh
    "$MKIMAGE" mbin --out "$tmp/r2.sqfs" --compressor zstd --raw-data \
      --elf "$RUNC:bin/runc" --elf "$BUSYBOX:bin/busybox" --symlink busybox:bin/sh
    check "two --raw-data builds are byte-identical" cmp -s "$tmp/r1.sqfs" "$tmp/r2.sqfs"
    check "--raw-data stores runc uncompressed (image larger than runc)" \
      test "$(stat -c %s "$tmp/r1.sqfs")" -gt "$(stat -c %s "$RUNC")"
    unsquashfs -q -d "$tmp/xr" "$tmp/r1.sqfs" >/dev/null 2>&1
    check "--raw-data: bin/runc content matches the source" cmp -s "$tmp/xr/bin/runc" "$RUNC"
  else
    skip "mbin layout" "unsquashfs not installed"
  fi
else
  skip "mbin reproducibility" "runc or busybox not installed"
fi

# ---- initramfs reproducibility ----
check "initramfs build 1" "$MKIMAGE" initramfs --out "$tmp/i1.cpio" --file "$MOUNTER:init"
check "initramfs build 2" "$MKIMAGE" initramfs --out "$tmp/i2.cpio" --file "$MOUNTER:init"
check "two initramfs builds are byte-identical" cmp -s "$tmp/i1.cpio" "$tmp/i2.cpio"
check "initramfs starts with a newc header" test "$(head -c 6 "$tmp/i1.cpio")" = 070701
check "initramfs ends with TRAILER!!!" grep -q 'TRAILER!!!' "$tmp/i1.cpio"
if command -v cpio >/dev/null; then
  (cd "$tmp" && cpio -it <i1.cpio 2>/dev/null) >"$tmp/ilist"
  check "initramfs lists dev, dev/console, init in order" \
    test "$(tr '\n' ' ' <"$tmp/ilist")" = "dev dev/console init "
  mkdir "$tmp/ix"
  (cd "$tmp/ix" && cpio -id --quiet --no-absolute-filenames <../i1.cpio 2>/dev/null)
  check "initramfs /init content matches" cmp -s "$tmp/ix/init" "$MOUNTER"
  check "initramfs /init is 0755" test "$(stat -c %a "$tmp/ix/init")" = 755
else
  skip "initramfs listing" "cpio not installed"
fi
printf '%s\n' "$BUSYBOX" >"$tmp/mods.list"
check "initramfs with --modules-list" \
  "$MKIMAGE" initramfs --out "$tmp/im.cpio" --file "$MOUNTER:init" --modules-list "$tmp/mods.list"
if command -v cpio >/dev/null; then
  mkdir "$tmp/imx"
  (cd "$tmp/imx" && cpio -id --quiet --no-absolute-filenames <../im.cpio 2>/dev/null)
  check "modules/load.list names the module" test "$(cat "$tmp/imx/modules/load.list")" = busybox
  check "module stored as modules/NAME" cmp -s "$tmp/imx/modules/busybox" "$BUSYBOX"
fi

# ---- errors name the input; nothing is left behind on failure ----
mkdir "$tmp/out"
err_case() { # err_case "name" "expected text" args...
  local name=$1 want=$2
  shift 2
  if "$MKIMAGE" "$@" 2>"$tmp/err"; then
    not_ok "$name (succeeded)"
  elif ! grep -qF -- "$want" "$tmp/err"; then
    not_ok "$name (message: $(cat "$tmp/err"))"
  elif [ -n "$(ls -A "$tmp/out")" ]; then
    not_ok "$name (left files: $(ls -A "$tmp/out"))"
  else
    ok "$name"
  fi
}
err_case "missing --file input is named" "$tmp/nonexistent" \
  mbin --out "$tmp/out/x.sqfs" --file "$tmp/nonexistent:bin/x"
err_case "missing --elf input is named" "$tmp/nonexistent" \
  mbin --out "$tmp/out/x.sqfs" --elf "$tmp/nonexistent:bin/x"
err_case "non-ELF --elf is rejected" "is not an ELF file" \
  mbin --out "$tmp/out/x.sqfs" --elf "$tmp/mods.list:bin/x"
err_case "path escaping the image is rejected" "../x" \
  mbin --out "$tmp/out/x.sqfs" --file "$BUSYBOX:../x"
err_case "conflicting destinations are rejected" "given twice" \
  mbin --out "$tmp/out/x.sqfs" --file "$BUSYBOX:bin/x" --file "$tmp/mods.list:bin/x"
err_case "initramfs missing input is named" "$tmp/nope" \
  initramfs --out "$tmp/out/i.cpio" --file "$tmp/nope:init"

if command -v gcc >/dev/null; then
  mkdir -p "$tmp/app/lib"
  echo 'int foo(void) { return 42; }' >"$tmp/foo.c"
  echo 'int foo(void); int main(void) { return foo() == 42 ? 0 : 1; }' >"$tmp/main.c"
  gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o "$tmp/app/lib/libfoo.so.1" "$tmp/foo.c" &&
    gcc -o "$tmp/app/prog" "$tmp/main.c" "$tmp/app/lib/libfoo.so.1" -Wl,-rpath,'$ORIGIN/lib' &&
    gcc -o "$tmp/app/prog_missing" "$tmp/main.c" "$tmp/app/lib/libfoo.so.1"
  check "\$ORIGIN RUNPATH library resolved" \
    "$MKIMAGE" mbin --out "$tmp/rp.sqfs" --elf "$tmp/app/prog:bin/prog"
  if command -v unsquashfs >/dev/null; then
    check "RUNPATH library stored by soname" \
      bash -c "unsquashfs -ll '$tmp/rp.sqfs' | grep -q 'lib/x86_64-linux-gnu/libfoo.so.1$'"
  fi
  err_case "unresolved library is named" "libfoo.so.1" \
    mbin --out "$tmp/out/x.sqfs" --elf "$tmp/app/prog_missing:bin/prog"
else
  skip "RUNPATH and unresolved library" "gcc not installed"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
