#!/usr/bin/python3
"""stdio-syscalls: programs that read through stdio make almost no read
syscalls on their file under mmapread (issue 7), and print the same bytes.

glibc fills a FILE's buffer with a read() no preload can see, so md5sum,
sed, sort, od and every fgets/getline loop used to read each buffer through
the kernel under mmapread too. With MMAPREAD_STDIO=1 (the default) those
streams are served from the mapping. On one 16 MiB text file (fixed seed: lines of
0 to a few hundred bytes, empty lines, lines of 5-20 KiB that fgets's 4 KiB
buffer splits, no newline at the end), each of md5sum, sha256sum,
sed -n '$p', sort, od -An -tx1, awk and demo/getlines (getline, fgets) runs
natively and preloaded, both under

    strace -f -qq -e trace=read,pread64,readv,preadv,preadv2 -P FILE

and must give the same exit status, the same stdout (written to a file,
compared by size and md5), the same stderr once the report and getlines's
timing line are taken out, and a preloaded count of read-family syscalls on
FILE under 1% of the native count (sort excepted: it freads the file whole,
one read() natively, which the policy leaves to the kernel; it must make no
more calls than natively). Both counts are printed for every program, with
the report's stdio rows when the library has them.

The issue's 1% is for a 256 MiB file, where the 48 reads mmapread watches
before mapping a file (MMAPREAD_MAP_AFTER) are 0.07% of a 4 KiB reader's
calls; on 16 MiB they would be 1.2%, so the preloaded runs use
MMAPREAD_MAP_AFTER=3, as tools_shells.py does, to keep the proportion.

    MMAPREAD_LIB=build/preload/libmmapread.so stdio_syscalls.py GETLINES

GETLINES is build/demo/getlines. MMAPREAD_INTEG_PRELOAD_ENV and
MMAPREAD_INTEG_KEEP work as in compare.py (MMAPREAD_STDIO=0 there must make
the syscall checks fail). Exit status: 0 pass, 1 fail, 77 skip (strace or a
tool is missing).
"""

import hashlib
import os
import random
import re
import subprocess
import sys
import time

import compare as C

SIZE = 16 * C.MIB
MAP_AFTER = "3"
# A syscall's first line in strace's log ("PID name(" under -f); the second
# half of a call another thread interrupted ("<... read resumed>") is not.
SYSCALL_LINE = re.compile(r"^(?:\d+\s+)?(\w+)\(")
GETLINES_TIMING = re.compile(rb"^getlines: [0-9.]+ ms, [0-9.]+ MB/s\n",
                             re.MULTILINE)
STDIO_ROWS = ("stdio reads served", "stdio refills served")
RUN_TIMEOUT = 120


def write_text(path, size):
    """Printable lines of random lengths (3 in 256 bytes end a line, so
    about 85 bytes on average, empty lines included), a long line of 5-20
    KiB every MiB, and no newline at the very end."""
    rnd = random.Random("mmapread-stdio-syscalls")
    table = (b"\n" * 3 + bytes(range(32, 127)) * 3)[:256]
    data = bytearray(rnd.randbytes(size)).translate(table)
    for start in range(C.MIB // 3, size, C.MIB):
        end = min(size, start + rnd.randint(5 * C.KIB, 20 * C.KIB))
        data[start:end] = data[start:end].replace(b"\n", b"~")
    data[-1:] = b"."
    with open(path, "wb") as f:
        f.write(data)
    return bytes(data)


def preload_env(h):
    env = {"LD_PRELOAD": h.preload, "MMAPREAD_STDIO": "1",
           "MMAPREAD_STATS": "1", "MMAPREAD_MAP_AFTER": MAP_AFTER}
    env.update(h.preload_extra)
    return env


class Traced:
    """One run of argv under strace: its exit status, stdout's size and
    md5, stderr, the report's rows, and the read syscalls on path."""

    def __init__(self, h, argv, path, preload, tag):
        log = os.path.join(h.tmp, f"strace-{tag}.log")
        self.out = os.path.join(h.tmp, f"stdout-{tag}")
        cmd = [C.STRACE, "-f", "-qq", "-e",
               "trace=" + ",".join(C.READ_SYSCALLS), "-P", path, "-o", log]
        if preload:
            # -E: the preload reaches the traced program, not strace.
            for k, v in preload_env(h).items():
                cmd += ["-E", f"{k}={v}"]
        start = time.monotonic()
        with open(self.out, "wb") as out:
            proc = subprocess.run(cmd + argv, env=h.env(False), stdout=out,
                                  stderr=subprocess.PIPE, cwd=h.tmp,
                                  timeout=RUN_TIMEOUT)
        self.elapsed = time.monotonic() - start
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.report = C.parse_report(proc.stderr)
        self.size = os.path.getsize(self.out)
        self.md5 = C.md5_file(self.out)
        self.calls = 0
        self.first_calls = []  # what a failure shows
        with open(log, errors="replace") as f:
            for line in f:
                m = SYSCALL_LINE.match(line)
                if m and m.group(1) in C.READ_SYSCALLS:
                    self.calls += 1
                    if len(self.first_calls) < 4:
                        self.first_calls.append(line.rstrip())
        os.unlink(log)

    def stdout(self):
        with open(self.out, "rb") as f:
            return f.read()


def other_stderr(stderr):
    return GETLINES_TIMING.sub(b"", C.strip_report(stderr))


def check_program(h, label, argv, path, sanity=None, whole_read=False):
    native = Traced(h, argv, path, False, "native")
    pre = Traced(h, argv, path, True, "preload")
    problems = []
    if native.rc != pre.rc:
        problems.append(f"    exit status differs: native {native.rc}, "
                        f"preload {pre.rc}")
    if (native.size, native.md5) != (pre.size, pre.md5):
        problems.append(f"    stdout differs: native {native.size} B md5 "
                        f"{native.md5}, preload {pre.size} B md5 "
                        f"{pre.md5}\n" +
                        C.describe_file_difference(native.out, pre.out))
    ea, eb = other_stderr(native.stderr), other_stderr(pre.stderr)
    if ea != eb:
        problems.append(C.describe_difference(
            "stderr (report and timing lines removed)", ea, eb))
    if sanity:
        why = sanity(native)
        if why:
            problems.append(f"    native run is wrong ({why}): harness or "
                            "tool problem")
    if problems:
        h.fail(f"{label}: same output", "\n".join(problems) +
               f"\n    command: {C.show_argv(argv)}")
    else:
        h.ok(f"{label}: same output",
             f"exit {native.rc}, stdout {C.human(native.size)} md5 "
             f"{native.md5[:12]}, identical")

    rows = ", ".join(f"{row} {pre.report[row]}" for row in STDIO_ROWS
                     if row in pre.report) or \
        "no stdio rows in the report (none served)"
    share = 100.0 * pre.calls / max(native.calls, 1)
    counts = (f"read syscalls on the file: native {native.calls}, "
              f"preload {pre.calls} ({share:.2f}%); {rows} "
              f"[{native.elapsed:.1f} s + {pre.elapsed:.1f} s]")
    if not native.calls:
        why = " (strace saw no native read: harness problem)"
    else:
        why = "".join("\n      preload: " + line
                      for line in pre.first_calls)
    if whole_read:
        # sort freads the whole file at once: one read() natively, which
        # the policy leaves to the kernel (a mapping costs more than a
        # read that finishes the file: README, policy); it must not make
        # more calls than natively.
        h.check(f"{label}: reads the file whole, as many read syscalls as "
                "natively at most",
                0 < native.calls <= 3 and pre.calls <= native.calls,
                counts, counts + why)
    else:
        h.check(f"{label}: preload under 1% of native read syscalls",
                native.calls > 0 and pre.calls * 100 < native.calls,
                counts, counts + why)
    for res in (native, pre):
        os.unlink(res.out)


def run(h, getlines):
    C.need(C.STRACE, "md5sum", "sha256sum", "sed", "sort", "od", "awk")
    if not os.access(getlines, os.X_OK):
        raise SystemExit(f"{getlines} is not an executable")
    C.strace_works(h)
    path = os.path.realpath(os.path.join(h.tmp, "lines.txt"))
    data = write_text(path, SIZE)
    h.warm_cache(path)
    lines = data.count(b"\n") + 1  # the last line has no newline

    def digest_of(algo):
        want = hashlib.new(algo, data).hexdigest()
        return lambda res: None if res.stdout().split()[0].decode() == \
            want else f"{algo} {res.stdout()!r}, hashlib {want}"

    def getlines_count(res):
        got = res.stdout().split()[0]
        return None if got == str(lines).encode() else \
            f"{got.decode()} lines, the file has {lines}"

    programs = [
        ("md5sum", ["md5sum", path], digest_of("md5")),
        ("sha256sum", ["sha256sum", path], digest_of("sha256")),
        ("sed -n '$p'", ["sed", "-n", "$p", path], None),
        ("sort", ["sort", path], None, True),
        ("od -An -tx1", ["od", "-An", "-tx1", path], None),
        ("awk", ["awk", "{n += length($0)} END {print n}", path], None),
        ("getlines getline", [getlines, path, "getline"], getlines_count),
        ("getlines fgets", [getlines, path, "fgets"], getlines_count),
    ]
    print(f"data: {path}, {C.human(SIZE)}, {lines} lines; preloaded runs: "
          + " ".join(f"{k}={v}" for k, v in preload_env(h).items()
                     if k != "LD_PRELOAD"))
    for label, argv, sanity, *whole in programs:
        check_program(h, label, argv, path, sanity, bool(whole))


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} GETLINES", file=sys.stderr)
        return 2
    getlines = os.path.abspath(argv[1])
    return C.run_harness("stdio-syscalls", "native vs",
                         lambda h: run(h, getlines))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
