#!/usr/bin/python3
"""File-system operations for test_bindfs.sh, run the same way in a plain
directory and through a runm-bindfs mount so that the two outputs can be
diffed.

  bindfs_fsops.py ops ROOT        the operation sequence; one line per
                                  operation: its result or errno name
  bindfs_fsops.py list ROOT       canonical listing: per path, type, mode,
                                  owner, size, links, symlink target,
                                  content hash, xattrs (mtime of t_*: the
                                  others are "now", and reads move atime)
  bindfs_fsops.py stat ROOT       raw lstat of every path (all fields but
                                  st_dev, atime and ctime): mount vs source
  bindfs_fsops.py rofail ROOT     every write op on ROOT's existing tree;
                                  prints errno names (a ro mount: EROFS)
"""
import ctypes
import errno
import hashlib
import os
import random
import stat
import subprocess
import sys

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100
MiB = 1 << 20

libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]


def renameat2(a, b, flags):
    if libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)


def data(seed, n):
    return random.Random(seed).randbytes(n)


def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]


class Runner:
    def __init__(self, root):
        self.root = root

    def p(self, rel):
        return os.path.join(self.root, rel)

    def op(self, name, fn, *args, **kw):
        """Runs fn; prints `name: result` or `name: ERRNO`."""
        try:
            r = fn(*args, **kw)
            print(f"{name}: {'ok' if r is None else r}")
        except OSError as e:
            print(f"{name}: {errno.errorcode.get(e.errno, e.errno)}")


def write_file(path, content, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode=0o644):
    fd = os.open(path, flags, mode)
    try:
        view = memoryview(content)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)


def with_fd(path, flags, fn):
    fd = os.open(path, flags)
    try:
        return fn(fd)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def ops(root):
    r = Runner(root)
    p = r.p
    op = r.op
    os.umask(0o022)

    # Content: small, large (odd-sized chunks), O_TRUNC, append, sparse.
    op("write small", write_file, p("small"), b"hello\n")
    op("read small", lambda: read_file(p("small")).decode().strip())
    big = data(1, 8 * MiB + 12345)

    def write_chunks(path, content, chunk):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for off in range(0, len(content), chunk):
            os.write(fd, content[off:off + chunk])
        os.close(fd)
        return len(content)

    op("write large (1 MiB + 7 chunks)", write_chunks, p("large"), big, MiB + 7)
    op("read large", lambda: sha(read_file(p("large"))))
    op("write large2 (4 KiB chunks)", write_chunks, p("large2"), big[:3 * MiB], 4096)

    def pread_at(path, off, n):
        fd = os.open(path, os.O_RDONLY)
        try:
            return sha(os.pread(fd, n, off))
        finally:
            os.close(fd)

    op("pread large 2 MiB at 3 MiB+1", pread_at, p("large"), 3 * MiB + 1, 2 * MiB)
    op("pread past EOF", with_fd, p("small"), os.O_RDONLY, lambda fd: len(os.pread(fd, 10, 100)))

    def overwrite_middle(path):
        fd = os.open(path, os.O_WRONLY)
        os.pwrite(fd, b"X" * 100000, 5 * MiB - 50000)
        os.close(fd)
        return sha(read_file(path))

    op("overwrite middle of large", overwrite_middle, p("large"))
    op("O_TRUNC rewrite", write_file, p("small"), b"x")
    op("read after O_TRUNC", lambda: read_file(p("small")))

    def append(path, chunks):
        for c in chunks:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, c)
            os.close(fd)
        return read_file(path)

    op("append", append, p("appended"), [b"a1", b"a2", b"a3\n"])
    op("append to existing", append, p("small"), [b"yz"])

    def sparse(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(fd, b"head", 0)
        os.pwrite(fd, b"tail" * 1024, 5 * MiB)
        os.ftruncate(fd, 12 * MiB)
        holes = [os.lseek(fd, 0, os.SEEK_HOLE), os.lseek(fd, 5 * MiB, os.SEEK_DATA),
                 os.lseek(fd, 5 * MiB, os.SEEK_HOLE)]
        os.close(fd)
        return f"size={os.stat(path).st_size} hole/data/hole={holes}"

    op("sparse file", sparse, p("sparse"))
    op("SEEK_DATA past last data", with_fd, p("sparse"), os.O_RDONLY, lambda fd: os.lseek(fd, 6 * MiB, os.SEEK_DATA))
    op("truncate grow", os.truncate, p("appended"), 100)
    op("truncate shrink", os.truncate, p("appended"), 3)
    op("read after truncate", lambda: read_file(p("appended")))

    def falloc(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        os.posix_fallocate(fd, 0, MiB)
        os.close(fd)
        return os.stat(path).st_size

    op("posix_fallocate", falloc, p("falloc"))

    def cfr(src, dst):
        a = os.open(src, os.O_RDONLY)
        b = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        n = 0
        while True:
            k = os.copy_file_range(a, b, MiB)
            if k == 0:
                break
            n += k
        os.close(a)
        os.close(b)
        return f"{n} {sha(read_file(dst))}"

    op("copy_file_range", cfr, p("large2"), p("copied"))

    def mmap_rw(path):
        import mmap
        write_file(path, b"\0" * 8192)
        with open(path, "r+b") as f:
            m = mmap.mmap(f.fileno(), 8192)
            m[100:105] = b"mmap!"
            m.flush()
            m.close()
        return read_file(path)[98:107]

    op("shared mmap write", mmap_rw, p("mapped"))
    op("fsync", with_fd, p("large"), os.O_RDWR, os.fsync)
    op("fdatasync", with_fd, p("large"), os.O_RDWR, os.fdatasync)
    op("fsync dir", with_fd, root, os.O_RDONLY | os.O_DIRECTORY, os.fsync)

    # Executables: a script and a binary (exec maps the file).
    op("write script", write_file, p("script.sh"), b"#!/bin/sh\necho ran \"$@\"\n", mode=0o755)
    op("exec script", lambda: subprocess.run([p("script.sh"), "arg"], capture_output=True).stdout.decode().strip())
    op("copy /bin/echo", write_file, p("echo-bin"), read_file("/bin/echo"), mode=0o755)
    op("exec binary", lambda: subprocess.run([p("echo-bin"), "from", "mount"], capture_output=True).stdout.decode().strip())

    # Modes and owners.
    op("chmod 0640", os.chmod, p("small"), 0o640)
    op("chmod 04755 (setuid)", os.chmod, p("script.sh"), 0o4755)
    op("chown 1234:5678", os.chown, p("small"), 1234, 5678)
    op("chown gid only", os.chown, p("appended"), -1, 4321)
    op("stat owner", lambda: f"{os.stat(p('small')).st_uid}:{os.stat(p('small')).st_gid}")
    op("create with mode 0600", write_file, p("private"), b"p", mode=0o600)
    op("create with mode 0777 (umask 022)", write_file, p("umasked"), b"u", mode=0o777)
    os.umask(0)
    op("create with mode 0777 (umask 0)", write_file, p("unmasked"), b"u", mode=0o777)
    os.umask(0o022)

    # Directories.
    op("mkdir d", os.mkdir, p("d"))
    op("mkdir d/sub", os.mkdir, p("d/sub"), 0o700)
    op("mkdir d/sub/deep", os.mkdir, p("d/sub/deep"))
    op("mkdir sticky 01777", lambda: (os.mkdir(p("sticky")), os.chmod(p("sticky"), 0o1777))[0])
    op("mkdir setgid 02775", lambda: (os.mkdir(p("sgid")), os.chown(p("sgid"), -1, 777), os.chmod(p("sgid"), 0o2775))[0])
    op("mkdir in setgid dir", os.mkdir, p("sgid/child"))
    op("file in setgid dir", write_file, p("sgid/file"), b"g")
    op("setgid dir child group", lambda: f"{os.stat(p('sgid/child')).st_gid} {oct(os.stat(p('sgid/child')).st_mode)}")
    op("write d/sub/f", write_file, p("d/sub/f"), b"f")
    op("many files", lambda: [write_file(p(f"d/m{i:03d}"), str(i).encode()) for i in range(300)] and None)
    op("readdir d", lambda: f"{len(os.listdir(p('d')))} {sorted(os.listdir(p('d')))[:3]}")
    op("unlink some", lambda: [os.unlink(p(f"d/m{i:03d}")) for i in range(0, 300, 3)] and None)
    op("readdir d after unlink", lambda: len(os.listdir(p("d"))))
    op("scandir d types", lambda: sorted({(e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False)) for e in os.scandir(p("d"))}))

    # Errors.
    op("mkdir existing: EEXIST", os.mkdir, p("d"))
    op("rmdir non-empty: ENOTEMPTY", os.rmdir, p("d"))
    op("rmdir file: ENOTDIR", os.rmdir, p("small"))
    op("unlink dir: EISDIR", os.unlink, p("d"))
    op("open dir for write: EISDIR", os.open, p("d"), os.O_WRONLY)
    op("open under a file: ENOTDIR", os.open, p("small/x"), os.O_RDONLY)
    op("O_DIRECTORY on a file: ENOTDIR", os.open, p("small"), os.O_RDONLY | os.O_DIRECTORY)
    op("stat missing: ENOENT", os.stat, p("missing"))
    op("unlink missing: ENOENT", os.unlink, p("missing"))
    op("mkdir under missing: ENOENT", os.mkdir, p("missing/x"))
    op("chmod missing: ENOENT", os.chmod, p("missing"), 0o644)
    op("O_EXCL on existing: EEXIST", os.open, p("small"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    op("name too long: ENAMETOOLONG", os.open, p("n" * 256), os.O_WRONLY | os.O_CREAT)
    op("rename dir into itself: EINVAL", os.rename, p("d"), p("d/sub/inside"))
    op("rename file over dir: EISDIR", os.rename, p("small"), p("d"))
    op("rename dir over file: ENOTDIR", os.rename, p("d/sub"), p("small"))
    op("mkdir e with file", lambda: (os.mkdir(p("e")), write_file(p("e/x"), b"x"))[0])
    op("rename dir over non-empty dir: ENOTEMPTY", os.rename, p("sgid"), p("e"))
    op("link a dir: EPERM", os.link, p("d"), p("dlink"))
    op("rmdir dot: EINVAL", os.rmdir, p("d/."))

    # Symlinks and hard links.
    op("symlink", os.symlink, "small", p("lnk"))
    op("readlink", os.readlink, p("lnk"))
    op("read through symlink", lambda: read_file(p("lnk")))
    op("dangling symlink", os.symlink, "nowhere", p("dangling"))
    op("stat dangling: ENOENT", os.stat, p("dangling"))
    op("symlink to dir", os.symlink, "d/sub", p("dirlnk"))
    op("list through dir symlink", lambda: sorted(os.listdir(p("dirlnk"))))
    op("long symlink target", os.symlink, "t" * 1000, p("longlnk"))
    op("readlink long", lambda: len(os.readlink(p("longlnk"))))
    op("symlink existing: EEXIST", os.symlink, "x", p("lnk"))
    op("hard link", os.link, p("small"), p("hl1"))
    op("hard link 2", os.link, p("small"), p("d/hl2"))
    op("link count", lambda: os.stat(p("small")).st_nlink)
    op("same inode", lambda: os.stat(p("small")).st_ino == os.stat(p("d/hl2")).st_ino)
    op("unlink one link", os.unlink, p("hl1"))
    op("link count after unlink", lambda: os.stat(p("d/hl2")).st_nlink)
    op("hard link to a symlink", os.link, p("lnk"), p("lnk-hl"), follow_symlinks=False)
    op("symlink link count", lambda: os.lstat(p("lnk")).st_nlink)
    op("link existing: EEXIST", os.link, p("small"), p("lnk"))
    op("dir link count", lambda: os.stat(p("d")).st_nlink)

    # Renames, with flags.
    op("write r1", write_file, p("r1"), b"one")
    op("write r2", write_file, p("r2"), b"two")
    op("rename", os.rename, p("r1"), p("r1b"))
    op("rename over existing", os.rename, p("r1b"), p("r2"))
    op("read renamed", lambda: read_file(p("r2")))
    op("rename across dirs", os.rename, p("r2"), p("d/sub/r2"))
    op("write r3", write_file, p("r3"), b"three")
    op("RENAME_NOREPLACE onto existing: EEXIST", renameat2, p("r3"), p("small"), RENAME_NOREPLACE)
    op("RENAME_NOREPLACE to new name", renameat2, p("r3"), p("r3b"), RENAME_NOREPLACE)
    op("RENAME_EXCHANGE file and dir", renameat2, p("r3b"), p("e"), RENAME_EXCHANGE)
    op("after exchange", lambda: f"{stat.S_ISDIR(os.lstat(p('r3b')).st_mode)} {read_file(p('e'))}")
    op("RENAME_EXCHANGE with missing: ENOENT", renameat2, p("r3b"), p("missing"), RENAME_EXCHANGE)
    op("RENAME_EXCHANGE|NOREPLACE: EINVAL", renameat2, p("r3b"), p("e"), RENAME_EXCHANGE | RENAME_NOREPLACE)
    op("rename dir", os.rename, p("e"), p("e-file"))

    # Special files.
    op("mkfifo", os.mkfifo, p("fifo"), 0o620)

    def fifo_roundtrip(path):
        fd = os.open(path, os.O_RDWR)
        os.write(fd, b"through the fifo")
        out = os.read(fd, 100)
        os.close(fd)
        return out

    op("fifo read/write", fifo_roundtrip, p("fifo"))
    op("mknod char device", os.mknod, p("null"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    op("mknod socket node", os.mknod, p("sock"), stat.S_IFSOCK | 0o600)
    op("mknod regular", os.mknod, p("regnode"), stat.S_IFREG | 0o640)

    # Extended attributes.
    op("setxattr user.a", os.setxattr, p("small"), "user.a", b"1")
    op("setxattr user.b binary", os.setxattr, p("small"), "user.b", b"\x00\xffbin")
    op("setxattr large value", os.setxattr, p("large"), "user.big", b"v" * 3000)
    op("getxattr large value", lambda: len(os.getxattr(p("large"), "user.big")))
    op("XATTR_CREATE existing: EEXIST", os.setxattr, p("small"), "user.a", b"2", os.XATTR_CREATE)
    op("XATTR_REPLACE missing: ENODATA", os.setxattr, p("small"), "user.zz", b"2", os.XATTR_REPLACE)
    op("XATTR_REPLACE existing", os.setxattr, p("small"), "user.a", b"3", os.XATTR_REPLACE)
    op("getxattr", os.getxattr, p("small"), "user.a")
    op("listxattr", lambda: sorted(x for x in os.listxattr(p("small")) if x.startswith("user.")))
    op("removexattr", os.removexattr, p("small"), "user.b")
    op("getxattr removed: ENODATA", os.getxattr, p("small"), "user.b")
    op("removexattr missing: ENODATA", os.removexattr, p("small"), "user.b")
    op("setxattr on dir", os.setxattr, p("d"), "user.dir", b"yes")
    op("trusted xattr", os.setxattr, p("small"), "trusted.t", b"root-only")
    op("user xattr on symlink: EPERM", os.setxattr, p("lnk"), "user.l", b"x", follow_symlinks=False)
    op("get user xattr on symlink: ENODATA", os.getxattr, p("lnk"), "user.l", follow_symlinks=False)
    op("trusted xattr on symlink", os.setxattr, p("lnk"), "trusted.l", b"x", follow_symlinks=False)
    op("list symlink xattrs", lambda: sorted(os.listxattr(p("lnk"), follow_symlinks=False)))
    op("user xattr on fifo: EPERM", os.setxattr, p("fifo"), "user.f", b"x", follow_symlinks=False)
    op("xattr through symlink (follows)", lambda: os.getxattr(p("lnk"), "user.a"))

    # Times, to the nanosecond (last: nothing may touch them after).
    op("write t_file", write_file, p("t_file"), b"timed")
    op("utime file ns", os.utime, p("t_file"), ns=(1_000_000_001, 2_000_000_002))
    op("mkdir t_dir", os.mkdir, p("t_dir"))
    op("utime dir ns", os.utime, p("t_dir"), ns=(3_000_000_003, 4_000_000_004))
    op("symlink t_link", os.symlink, "t_file", p("t_link"))
    op("utime symlink itself", os.utime, p("t_link"), ns=(5_000_000_005, 6_000_000_999), follow_symlinks=False)
    op("write t_file2", write_file, p("t_file2"), b"2")
    op("utime via fd (futimens)", with_fd, p("t_file2"), os.O_RDONLY, lambda fd: os.utime(fd, ns=(7, 8_999_999_999)))
    op("stat times", lambda: (os.stat(p("t_file")).st_mtime_ns, os.stat(p("t_file")).st_atime_ns, os.lstat(p("t_link")).st_mtime_ns))

    # statfs: the source file system's figures.
    op("statvfs", lambda: (lambda s: (s.f_bsize, s.f_blocks, s.f_namemax))(os.statvfs(root)))


def walk(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs + files):
            out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


def xattrs(path):
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError as e:
        return f"listxattr:{errno.errorcode[e.errno]}"
    parts = []
    for n in names:
        if n.startswith("security."):
            continue  # selinux/ima labels differ by mount
        try:
            parts.append(f"{n}={os.getxattr(path, n, follow_symlinks=False).hex()}")
        except OSError as e:
            parts.append(f"{n}:{errno.errorcode[e.errno]}")
    return ",".join(parts)


def listing(root):
    for rel in walk(root):
        path = os.path.join(root, rel)
        st = os.lstat(path)
        kind = stat.filemode(st.st_mode)[0]
        line = f"{rel} {kind} {oct(stat.S_IMODE(st.st_mode))} {st.st_uid}:{st.st_gid} links={st.st_nlink}"
        if not stat.S_ISDIR(st.st_mode):
            line += f" size={st.st_size}"
        if os.path.basename(rel).startswith("t_"):
            line += f" mtime={st.st_mtime_ns}"
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            line += f" rdev={os.major(st.st_rdev)},{os.minor(st.st_rdev)}"
        if stat.S_ISLNK(st.st_mode):
            line += f" -> {os.readlink(path)}"
        line += f" xattrs[{xattrs(path)}]"
        if stat.S_ISREG(st.st_mode):
            line += f" sha={sha(read_file(path))}"
        print(line)


def raw_stat(root):
    for rel in walk(root):
        st = os.lstat(os.path.join(root, rel))
        print(f"{rel} ino={st.st_ino} mode={oct(st.st_mode)} nlink={st.st_nlink} uid={st.st_uid} gid={st.st_gid} "
              f"rdev={st.st_rdev} size={st.st_size} blocks={st.st_blocks} mtime={st.st_mtime_ns}")


def rofail(root):
    r = Runner(root)
    p = r.p
    op = r.op
    op("create", os.open, p("new"), os.O_WRONLY | os.O_CREAT, 0o644)
    op("open O_WRONLY", os.open, p("small"), os.O_WRONLY)
    op("open O_RDWR", os.open, p("small"), os.O_RDWR)
    op("open O_TRUNC", os.open, p("small"), os.O_RDONLY | os.O_TRUNC)
    op("truncate", os.truncate, p("small"), 0)
    op("chmod", os.chmod, p("small"), 0o600)
    op("chown", os.chown, p("small"), 1, 1)
    op("utime", os.utime, p("small"), ns=(1, 1))
    op("mkdir", os.mkdir, p("newdir"))
    op("rmdir", os.rmdir, p("t_dir"))
    op("unlink", os.unlink, p("small"))
    op("rename", os.rename, p("small"), p("small2"))
    op("RENAME_EXCHANGE", renameat2, p("small"), p("large"), RENAME_EXCHANGE)
    op("link", os.link, p("small"), p("small-hl"))
    op("symlink", os.symlink, "x", p("newlnk"))
    op("mkfifo", os.mkfifo, p("newfifo"))
    op("mknod", os.mknod, p("newnode"), stat.S_IFREG | 0o600)
    op("setxattr", os.setxattr, p("small"), "user.ro", b"1")
    op("removexattr", os.removexattr, p("small"), "user.a")
    op("read still works", lambda: len(read_file(p("large"))))
    op("getxattr still works", os.getxattr, p("small"), "user.a")


if __name__ == "__main__":
    cmd, root = sys.argv[1], sys.argv[2]
    {"ops": ops, "list": listing, "stat": raw_stat, "rofail": rofail}[cmd](root)
