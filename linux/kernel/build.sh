#!/usr/bin/env bash
# Build runm's guest kernel: Debian's linux-source-6.1, `make tinyconfig`,
# plus the runm.config fragment. Everything built in, no modules.
#
#   linux/kernel/build.sh OUTDIR      -> OUTDIR/vmlinux (PVH-bootable ELF), OUTDIR/bzImage
#
# Results are cached under ${RUNM_CACHE_DIR:-$HOME/.cache/runm}/kernel/<key>/,
# key = sha256(runm.config + build.sh + linux-source-6.1 package version); a
# cache hit only copies files. The source tree and the object tree live next to
# the cache entries (src-<version>/, obj-<version>/), never in the git tree.
# Environment: RUNM_CACHE_DIR, RUNM_KERNEL_VERBOSE=1 (stream the make output),
# RUNM_KERNEL_JOBS (default: nproc).
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
log() { echo "$prog: $*" >&2; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $prog OUTDIR"
outdir=$1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/runm.config
self=$here/$(basename "${BASH_SOURCE[0]}")
[ -r "$fragment" ] || die "missing config fragment $fragment"

pkg=linux-source-6.1
tarball=/usr/src/linux-source-6.1.tar.xz
srcname=linux-source-6.1          # top directory inside the tarball
arch=x86_64

pkgver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || pkgver=
[ -n "$pkgver" ] || die "package $pkg is not installed (apt-get install $pkg)"
[ -r "$tarball" ] || die "$tarball not found (reinstall $pkg)"

key=$( { cat "$fragment" "$self"; printf '%s' "$pkgver"; } | sha256sum | cut -d' ' -f1)
cache=${RUNM_CACHE_DIR:-$HOME/.cache/runm}/kernel
entry=$cache/$key

tmp_paths=()
cleanup() {
    local p
    for p in "${tmp_paths[@]}"; do rm -rf -- "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Copy the cache entry to OUTDIR, each file through a temporary name + rename.
install_outputs() {
    mkdir -p -- "$outdir" || die "cannot create $outdir"
    local f t
    for f in vmlinux bzImage; do
        t=$outdir/.$f.tmp.$$
        tmp_paths+=("$t")
        cp -- "$entry/$f" "$t" || die "cannot copy $f to $outdir"
        mv -f -- "$t" "$outdir/$f" || die "cannot rename $t to $outdir/$f"
    done
}

if [ -f "$entry/vmlinux" ] && [ -f "$entry/bzImage" ]; then
    install_outputs
    log "cached kernel $key ($pkg $pkgver) -> $outdir/{vmlinux,bzImage}"
    exit 0
fi

for t in make gcc flex bison bc xz lz4 tar flock sha256sum; do
    command -v "$t" >/dev/null || die "'$t' is needed to build the kernel (apt-get install build-essential flex bison bc xz-utils lz4 libelf-dev libssl-dev)"
done

mkdir -p -- "$cache" || die "cannot create $cache"
# One build at a time per cache directory (the object tree is shared).
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"
# Another build may have finished the same key while we waited.
if [ -f "$entry/vmlinux" ] && [ -f "$entry/bzImage" ]; then
    install_outputs
    log "cached kernel $key -> $outdir/{vmlinux,bzImage}"
    exit 0
fi

start=$SECONDS

# 1. Extract the source once per package version (into a temp dir, then rename).
srcdir=$cache/src-$pkgver/$srcname
if [ ! -f "$srcdir/Makefile" ]; then
    log "extracting $tarball ..."
    rm -rf -- "$cache/src-$pkgver"
    xtmp=$(mktemp -d "$cache/.src.XXXXXX")
    tmp_paths+=("$xtmp")
    tar -xJf "$tarball" -C "$xtmp" || die "cannot extract $tarball"
    [ -f "$xtmp/$srcname/Makefile" ] || die "$tarball has no $srcname/Makefile"
    mv -T -- "$xtmp" "$cache/src-$pkgver" || die "cannot rename extracted source"
fi

# 2. Configure (out of tree; the object tree is reused between builds).
objdir=$cache/obj-$pkgver
mkdir -p -- "$objdir"
buildlog=$cache/build-$key.log   # kept on failure, moved into the entry on success
: >"$buildlog"

mk() {
    if [ "${RUNM_KERNEL_VERBOSE:-0}" = 1 ]; then
        make -C "$srcdir" O="$objdir" ARCH="$arch" "$@" 2>&1 | tee -a "$buildlog"
    else
        make -C "$srcdir" O="$objdir" ARCH="$arch" "$@" >>"$buildlog" 2>&1
    fi
}
fail_with_log() {
    echo "---- last lines of the build log ----" >&2
    tail -n 40 "$buildlog" >&2 || true
    die "$1 (full log: $buildlog)"
}

export KBUILD_BUILD_USER=runm KBUILD_BUILD_HOST=runm KBUILD_BUILD_VERSION=1
export KBUILD_BUILD_TIMESTAMP="$pkg $pkgver"

log "configuring (tinyconfig + $(basename "$fragment")) in $objdir"
mk tinyconfig || fail_with_log "make tinyconfig failed"
(cd "$srcdir" && scripts/kconfig/merge_config.sh -m -O "$objdir" "$objdir/.config" "$fragment") \
    >>"$buildlog" 2>&1 || fail_with_log "merge_config.sh failed"
mk olddefconfig || fail_with_log "make olddefconfig failed"

# 3. Check that every line of the fragment survived (merge_config silently drops
#    options whose dependencies are not met).
missing=()
while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        grep -qxF -- "$line" "$objdir/.config" || {
            got=$(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" "$objdir/.config" || true)
            missing+=("$line   (got: ${got:-absent})")
        }
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        if got=$(grep -E "^${BASH_REMATCH[1]}=" "$objdir/.config"); then
            missing+=("$line   (got: $got)")
        fi
    fi
done <"$fragment"
if [ ${#missing[@]} -gt 0 ]; then
    echo "$prog: error: these settings of $fragment did not survive olddefconfig" >&2
    echo "  (an unmet dependency, or a symbol that does not exist in $pkg $pkgver):" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
fi
grep -q '^CONFIG_PVH=y' "$objdir/.config" || die "CONFIG_PVH is off: vmlinux would not be PVH-bootable"

# 4. Build.
jobs=${RUNM_KERNEL_JOBS:-$(nproc)}
log "building with make -j$jobs (log: $buildlog) ..."
mk -j"$jobs" vmlinux bzImage || fail_with_log "kernel build failed"
[ -f "$objdir/vmlinux" ] || fail_with_log "build produced no vmlinux"
[ -f "$objdir/arch/x86/boot/bzImage" ] || fail_with_log "build produced no bzImage"

# 5. Store the cache entry atomically (temp dir + rename), then copy it out.
etmp=$(mktemp -d "$cache/.entry.XXXXXX")
tmp_paths+=("$etmp")
cp -- "$objdir/vmlinux" "$etmp/vmlinux"
cp -- "$objdir/arch/x86/boot/bzImage" "$etmp/bzImage"
cp -- "$objdir/.config" "$etmp/config"
printf '%s %s\n' "$pkg" "$pkgver" >"$etmp/source-version"
chmod 755 "$etmp"
rm -rf -- "$entry"
mv -T -- "$etmp" "$entry" || die "cannot rename $etmp to $entry"
mv -f -- "$buildlog" "$entry/build.log" || true

install_outputs
elapsed=$((SECONDS - start))
log "built kernel $key in $((elapsed / 60)) min $((elapsed % 60)) s: $outdir/vmlinux ($(stat -c %s "$outdir/vmlinux") bytes), $outdir/bzImage ($(stat -c %s "$outdir/bzImage") bytes)"
