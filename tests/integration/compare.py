#!/usr/bin/python3
"""Integration tests for mmapread: real programs, natively and preloaded.

Each test runs programs twice on the same generated data, once natively and
once with LD_PRELOAD=$MMAPREAD_LIB (and MMAPREAD_STATS=1), and requires the
same exit status, byte-identical stdout, identical stderr once the
"mmapread:" report lines are taken out (dd's timing line aside), and
identical output files. Some tests also read the report, or strace's
syscall table, to prove that mmapread served what it should.

    MMAPREAD_LIB=build/preload/libmmapread.so compare.py TEST [ARGS...]
    (TESTS at the bottom lists them; meson.build registers each as integ-TEST)

The data (0 B, 1 B, 4095 B, 4096 B, 4097 B, 1 MiB+3 and 64 MiB of random
bytes from fixed seeds) is generated in a temporary directory per run.
MMAPREAD_* and LD_PRELOAD are removed from the inherited environment, so
both runs see only what a test sets.

Environment:
    MMAPREAD_LIB                the library to preload (required); a
                                sanitized build puts its runtime (and a
                                shim) first, as in LD_PRELOAD: ...:LIBRARY
                                (tests/meson.build)
    MMAPREAD_INTEG_PRELOAD_ENV  extra VAR=VALUE words for every preloaded run
                                (debugging; e.g. MMAPREAD_DISABLE=1 shows
                                the "served" checks failing)
    MMAPREAD_INTEG_KEEP=1       keep the temporary directory

Exit status: 0 pass, 1 fail, 77 skip (a tool is missing).
"""

import difflib
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
PYTHON = "/usr/bin/python3"
SQLITE = "/usr/bin/sqlite3"
STRACE = "/usr/bin/strace"

KIB = 1024
MIB = 1024 * 1024
SIZES = [0, 1, 4095, 4096, 4097, MIB + 3, 64 * MIB]
SMALL_SIZES = [s for s in SIZES if s <= MIB + 3]
BIG = 64 * MIB

# The report's rows (stats.c): "mmapread:   <label>   <number>".
REPORT_ROW = re.compile(r"^mmapread:\s+(\S.*?)\s+(-?\d+)(?:\s+\(.*\))?$")
READ_SYSCALLS = ("read", "pread64", "readv", "preadv", "preadv2")


class Skip(Exception):
    pass


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def size_name(size):
    names = {MIB + 3: "1MiB+3", BIG: "64MiB"}
    return names.get(size, f"{size}B")


def md5(data):
    return hashlib.md5(data).hexdigest()


def md5_file(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def parse_report(stderr):
    """The report's numeric rows as {label: value}, summed over every
    process that printed one (a program that forks or execs prints one
    report per process image)."""
    rows = {}
    for line in stderr.decode("utf-8", "replace").splitlines():
        m = REPORT_ROW.match(line)
        if m:
            rows[m.group(1)] = rows.get(m.group(1), 0) + int(m.group(2))
    return rows


def strip_report(stderr):
    return b"".join(line for line in stderr.splitlines(keepends=True)
                    if not line.startswith(b"mmapread:"))


def dd_stderr_filter(stderr):
    """dd's record counts stay; its timing line does not."""
    return b"".join(line for line in strip_report(stderr)
                    .splitlines(keepends=True) if b" copied, " not in line)


class Result:
    def __init__(self, argv, proc, elapsed, outputs):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed
        self.outputs = outputs  # {placeholder: md5 of the file written}
        self.output_paths = {}  # {placeholder: path}, removed by compare()
        self.report = parse_report(proc.stderr)

    def served(self, what="read() served from mappings"):
        return self.report.get(what)


def describe_difference(what, a, b):
    """A short human explanation of how two byte strings differ."""
    lines = [f"    {what} differs: native {len(a)} B md5 {md5(a)}, "
             f"preload {len(b)} B md5 {md5(b)}"]
    try:
        ta, tb = a.decode(), b.decode()
        textual = len(a) < 64 * KIB and len(b) < 64 * KIB and \
            "\0" not in ta + tb
    except UnicodeDecodeError:
        textual = False
    if textual:
        diff = list(difflib.unified_diff(
            ta.splitlines(), tb.splitlines(), "native", "preload",
            lineterm="", n=2))
        lines += ["      " + line for line in diff[:40]]
        if len(diff) > 40:
            lines.append(f"      ... {len(diff) - 40} more diff lines")
    else:
        first = next((i for i in range(min(len(a), len(b)))
                      if a[i] != b[i]), min(len(a), len(b)))
        na = a[first:first + 16].hex(" ") or "<end>"
        nb = b[first:first + 16].hex(" ") or "<end>"
        lines.append(f"      first difference at byte {first}:")
        lines.append(f"      native : {na}")
        lines.append(f"      preload: {nb}")
    return "\n".join(lines)


def describe_file_difference(a, b):
    """Sizes and the first differing byte of two output files."""
    if not a or not os.path.exists(a) or not b or not os.path.exists(b):
        return "      (one of the runs wrote no file)"
    lines = [f"      sizes: native {os.path.getsize(a)} B, preload "
             f"{os.path.getsize(b)} B"]
    with open(a, "rb") as fa, open(b, "rb") as fb:
        offset = 0
        while True:
            ca, cb = fa.read(MIB), fb.read(MIB)
            if ca != cb:
                i = next((i for i in range(min(len(ca), len(cb)))
                          if ca[i] != cb[i]), min(len(ca), len(cb)))
                lines.append(f"      first difference at byte {offset + i}:")
                lines.append("      native : " +
                             (ca[i:i + 16].hex(" ") or "<end>"))
                lines.append("      preload: " +
                             (cb[i:i + 16].hex(" ") or "<end>"))
                break
            if not ca:
                break
            offset += len(ca)
    return "\n".join(lines)


def show_argv(argv):
    """A command line for messages, long words (scripts) shortened."""
    return " ".join(w if len(w) <= 80 else
                    repr(w[:60].strip() + "...") for w in argv)


class Harness:
    def __init__(self, name):
        self.name = name
        self.preload = os.environ.get("MMAPREAD_LIB", "")
        if not self.preload:
            raise SystemExit("MMAPREAD_LIB is not set")
        paths = self.preload.split(":")
        self.lib = paths[-1]
        if not all(os.path.exists(path) for path in paths):
            # A wrong path must fail loudly, never look like a pass.
            raise SystemExit(f"MMAPREAD_LIB={self.preload} does not exist")
        self.preload = ":".join(os.path.abspath(path) for path in paths)
        self.lib = os.path.abspath(self.lib)
        self.tmp = tempfile.mkdtemp(prefix=f"mmapread-integ-{name}-")
        self.files = {}
        self.failures = []
        self.passes = 0
        self.base_env = {k: v for k, v in os.environ.items()
                         if not k.startswith("MMAPREAD_") and
                         k not in ("LD_PRELOAD", "MALLOC_PERTURB_")}
        self.base_env["LC_ALL"] = "C"
        self.base_env["HOME"] = self.tmp
        self.preload_extra = dict(
            word.split("=", 1) for word in
            os.environ.get("MMAPREAD_INTEG_PRELOAD_ENV", "").split()
            if "=" in word)

    def cleanup(self):
        if os.environ.get("MMAPREAD_INTEG_KEEP") == "1":
            print(f"(kept {self.tmp})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- data ------------------------------------------------------------

    def data(self, size, variant=""):
        """A file of size random bytes from a fixed seed (cached)."""
        key = (size, variant)
        if key not in self.files:
            path = os.path.join(self.tmp, f"data-{size_name(size)}{variant}")
            rnd = random.Random(f"mmapread-integ-{size}")
            content = bytearray(rnd.randbytes(size))
            if variant == "-lastbyte" and size:
                content[-1] ^= 0xFF
            with open(path, "wb") as f:
                f.write(content)
            self.files[key] = path
        return self.files[key]

    def content(self, size):
        with open(self.data(size), "rb") as f:
            return f.read()

    def warm_cache(self, path):
        with open(path, "rb") as f:
            while f.read(4 * MIB):
                pass

    # ---- running ---------------------------------------------------------

    def env(self, preload, extra=None, stats=True):
        env = dict(self.base_env)
        if preload:
            env["LD_PRELOAD"] = self.preload
            if stats:
                env["MMAPREAD_STATS"] = "1"
            env.update(self.preload_extra)
        if extra:
            env.update(extra)
        return env

    def run(self, argv, preload, extra_env=None, stats=True, outputs=(),
            timeout=600):
        """Run argv; "{NAME}" words in argv become per-run output files."""
        tag = "preload" if preload else "native"
        paths = {}
        real_argv = []
        for word in argv:
            for ph in outputs:
                if "{" + ph + "}" in word:
                    path = paths.setdefault(
                        ph, os.path.join(self.tmp, f"out-{ph}.{tag}"))
                    if os.path.exists(path):
                        os.unlink(path)
                    word = word.replace("{" + ph + "}", path)
            real_argv.append(word)
        start = time.monotonic()
        proc = subprocess.run(real_argv, env=self.env(preload, extra_env,
                                                      stats),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=self.tmp, timeout=timeout)
        elapsed = time.monotonic() - start
        digests = {}
        for ph, path in paths.items():
            digests[ph] = md5_file(path) if os.path.exists(path) else None
        result = Result(real_argv, proc, elapsed, digests)
        result.output_paths = paths
        return result

    # ---- verdicts --------------------------------------------------------

    def ok(self, label, detail):
        self.passes += 1
        print(f"ok    {label}: {detail}")

    def fail(self, label, detail):
        self.failures.append(label)
        print(f"FAIL  {label}:\n{detail}")

    def check(self, label, condition, success, failure):
        if condition:
            self.ok(label, success)
        else:
            self.fail(label, "    " + failure)
        return condition

    def compare(self, label, argv, outputs=(), stderr_filter=strip_report,
                expect_stdout_md5=None, expect_output_md5=None,
                preload_env=None, timeout=600):
        """Run argv natively and preloaded; identical or a failure."""
        native = self.run(argv, False, outputs=outputs, timeout=timeout)
        pre = self.run(argv, True, extra_env=preload_env, outputs=outputs,
                       timeout=timeout)
        problems = []
        if native.rc != pre.rc:
            problems.append(f"    exit status differs: native {native.rc}, "
                            f"preload {pre.rc}")
        if native.stdout != pre.stdout:
            problems.append(describe_difference("stdout", native.stdout,
                                                pre.stdout))
        if stderr_filter is not None:
            ea, eb = stderr_filter(native.stderr), stderr_filter(pre.stderr)
            if ea != eb:
                problems.append(describe_difference(
                    "stderr (report lines removed)", ea, eb))
        for ph in outputs:
            a, b = native.outputs.get(ph), pre.outputs.get(ph)
            if a != b:
                problems.append(f"    output file {{{ph}}} differs: native "
                                f"md5 {a}, preload md5 {b}\n" +
                                describe_file_difference(
                                    native.output_paths.get(ph),
                                    pre.output_paths.get(ph)))
        for res in (native, pre):
            for path in res.output_paths.values():
                if os.path.exists(path):
                    os.unlink(path)
        if expect_stdout_md5 and md5(native.stdout) != expect_stdout_md5:
            problems.append(f"    native stdout md5 {md5(native.stdout)} is "
                            f"not the expected {expect_stdout_md5} (harness "
                            f"or tool problem)")
        if expect_output_md5:
            for ph, want in expect_output_md5.items():
                if native.outputs.get(ph) != want:
                    problems.append(
                        f"    native output {{{ph}}} md5 "
                        f"{native.outputs.get(ph)} is not the expected "
                        f"{want} (harness or tool problem)")
        if pre.rc != 0 and b"mmapread" in strip_report(pre.stderr):
            problems.append("    the preload run printed: " +
                            strip_report(pre.stderr).decode(
                                "utf-8", "replace")[:500])
        if problems:
            detail = "\n".join(problems)
            detail += f"\n    command: {show_argv(argv)}"
            rep = strip_report(pre.stderr) != pre.stderr
            if rep:
                report = ["      " + l for l in pre.stderr.decode(
                    "utf-8", "replace").splitlines()
                    if l.startswith("mmapread:")]
                if len(report) > 30:
                    report = report[:30] + [f"      ... {len(report) - 30} "
                                            "more report lines"]
                detail += "\n    preload report:\n" + "\n".join(report)
            self.fail(label, detail)
        else:
            parts = [f"exit {native.rc}",
                     f"stdout {human(len(native.stdout))} "
                     f"md5 {md5(native.stdout)[:12]}"]
            for ph in outputs:
                digest = native.outputs[ph] or "-"
                parts.append(f"{{{ph}}} md5 {digest[:12]}")
            served = pre.served()
            if served is not None:
                preads = pre.served("pread() served from mappings")
                parts.append(f"served read={served} pread={preads}")
            parts.append("identical")
            self.ok(label, ", ".join(parts))
        return native, pre

    def finish(self):
        total = self.passes + len(self.failures)
        if self.failures:
            print(f"\n{self.name}: {len(self.failures)} of {total} checks "
                  f"FAILED:")
            for label in self.failures:
                print(f"  - {label}")
            return 1
        print(f"\n{self.name}: all {total} checks passed")
        return 0


def need(*tools):
    for tool in tools:
        if not (os.path.exists(tool) if os.path.isabs(tool)
                else shutil.which(tool)):
            raise Skip(f"{tool} is not installed")


# ---- coreutils ------------------------------------------------------------

def test_cat(h):
    need("cat")
    for size in SIZES:
        expect = md5(h.content(size))
        h.compare(f"cat {size_name(size)}", ["cat", h.data(size)],
                  expect_stdout_md5=expect)
    h.compare("cat 4097B 1MiB+3 4096B",
              ["cat", h.data(4097), h.data(MIB + 3), h.data(4096)])


DD_CASES = [
    ("bs=1", ["bs=1"]),
    ("bs=512", ["bs=512"]),
    ("bs=4096", ["bs=4096"]),
    ("bs=1M", ["bs=1M"]),
    ("bs=512 skip=3 count=100", ["bs=512", "skip=3", "count=100"]),
    ("bs=4096 skip=1 count=7", ["bs=4096", "skip=1", "count=7"]),
    ("bs=512 iflag=skip_bytes skip=4097",
     ["bs=512", "iflag=skip_bytes", "skip=4097"]),
    ("bs=1 skip=4090 count=20", ["bs=1", "skip=4090", "count=20"]),
    ("bs=700 skip=5 count=3000", ["bs=700", "skip=5", "count=3000"]),
    ("ibs=100 obs=4096 count=5000", ["ibs=100", "obs=4096", "count=5000"]),
]


def dd_expected(data, args):
    """What dd should copy, for the harness's own sanity check."""
    opts = dict(a.split("=", 1) for a in args)
    unit = {"": 1, "K": KIB, "M": MIB}
    def num(v):
        return int(v[:-1]) * unit[v[-1]] if v[-1] in unit else int(v)
    ibs = num(opts.get("bs", opts.get("ibs", "512")))
    skip = num(opts.get("skip", "0"))
    start = skip if "skip_bytes" in opts.get("iflag", "") else skip * ibs
    end = len(data)
    if "count" in opts:
        end = min(end, start + num(opts["count"]) * ibs)
    return md5(data[start:end]) if start < len(data) else md5(b"")


def test_dd(h):
    need("dd")
    for size in SIZES:
        data = h.content(size)
        for name, args in DD_CASES:
            if size == BIG and args[0] in ("bs=1", "ibs=100"):
                # 64 MiB one byte at a time is too slow natively: bound it.
                args = args + ["count=300000"] if not any(
                    a.startswith("count=") for a in args) else args
                name = name if "count=" in name else name + " count=300000"
            h.compare(f"dd {name} {size_name(size)}",
                      ["dd", f"if={h.data(size)}", "of={OUT}"] + args,
                      outputs=("OUT",), stderr_filter=dd_stderr_filter,
                      expect_output_md5={"OUT": dd_expected(data, args)})
    # dd writing to stdout (a pipe), as in "dd if=F | ...".
    for size in (4097, MIB + 3, BIG):
        h.compare(f"dd bs=512 to stdout {size_name(size)}",
                  ["dd", f"if={h.data(size)}", "bs=512"],
                  stderr_filter=dd_stderr_filter,
                  expect_stdout_md5=md5(h.content(size)))


def test_md5sum(h):
    need("md5sum")
    for size in SIZES:
        native, _ = h.compare(f"md5sum {size_name(size)}",
                              ["md5sum", h.data(size)])
        h.check(f"md5sum {size_name(size)} is right",
                native.stdout.split()[0].decode() == md5(h.content(size)),
                "native md5sum agrees with hashlib",
                f"md5sum said {native.stdout!r}")
    h.compare("md5sum of all sizes", ["md5sum"] + [h.data(s) for s in SIZES])


def test_wc(h):
    need("wc")
    for size in SIZES:
        for opts in ([], ["-l"], ["-c"], ["-w"], ["-m"]):
            h.compare(f"wc {' '.join(opts)} {size_name(size)}".replace(
                "  ", " "), ["wc"] + opts + [h.data(size)])


def head_tail_counts(size):
    counts = {0, 1, 100, 4095, 4096, 4097, 65536, 100000, size // 2,
              size - 1, size, size + 1, 10 ** 9}
    return sorted(c for c in counts if c >= 0)


def test_head(h):
    need("head")
    for size in SIZES:
        data = h.content(size)
        for n in head_tail_counts(size):
            h.compare(f"head -c {n} {size_name(size)}",
                      ["head", "-c", str(n), h.data(size)],
                      expect_stdout_md5=md5(data[:n]))
        for n in (1, 4096, 100000):
            h.compare(f"head -c -{n} {size_name(size)}",
                      ["head", "-c", f"-{n}", h.data(size)],
                      expect_stdout_md5=md5(data[:max(0, size - n)]))
        h.compare(f"head -n 20 {size_name(size)}",
                  ["head", "-n", "20", h.data(size)])


def test_tail(h):
    need("tail")
    for size in SIZES:
        data = h.content(size)
        for n in head_tail_counts(size):
            h.compare(f"tail -c {n} {size_name(size)}",
                      ["tail", "-c", str(n), h.data(size)],
                      expect_stdout_md5=md5(data[max(0, size - n):]
                                            if n else b""))
        for n in (1, 4097, 100000):
            h.compare(f"tail -c +{n} {size_name(size)}",
                      ["tail", "-c", f"+{n}", h.data(size)],
                      expect_stdout_md5=md5(data[n - 1:]))
        h.compare(f"tail -n 20 {size_name(size)}",
                  ["tail", "-n", "20", h.data(size)])


def test_cmp(h):
    need("cmp")
    for size in SIZES:
        a = h.data(size)
        copy = os.path.join(h.tmp, f"copy-{size_name(size)}")
        if not os.path.exists(copy):
            shutil.copyfile(a, copy)
        native, _ = h.compare(f"cmp identical {size_name(size)}",
                              ["cmp", a, copy])
        h.check(f"cmp identical {size_name(size)} exits 0", native.rc == 0,
                "native exit 0", f"native exit {native.rc}")
        if size == 0:
            continue
        b = h.data(size, "-lastbyte")
        native, _ = h.compare(f"cmp last byte differs {size_name(size)}",
                              ["cmp", a, b])
        h.check(f"cmp last byte differs {size_name(size)} exits 1",
                native.rc == 1, f"native exit 1: {native.stdout.strip()!r}",
                f"native exit {native.rc}")
        h.compare(f"cmp -l last byte differs {size_name(size)}",
                  ["cmp", "-l", a, b])
    # One file a prefix of the other: "EOF on ..." on stderr, exit 1.
    h.compare("cmp 4096B against 4097B", ["cmp", h.data(4096), h.data(4097)])
    h.compare("cmp -i 1000:1000 1MiB+3 itself",
              ["cmp", "-i", "1000:1000", h.data(MIB + 3), h.data(MIB + 3)])


# ---- python -------------------------------------------------------------

PY_ONE_BYTE = r"""
import hashlib, sys
path, limit = sys.argv[1], int(sys.argv[2])
h = hashlib.md5()
n = 0
with open(path, 'rb', buffering=0) as f:
    while n < limit:
        b = f.read(1)
        if not b:
            break
        h.update(b)
        n += 1
    print('read', n, 'bytes one at a time, md5', h.hexdigest(),
          'tell', f.tell())
    print('next read', f.read(1).hex(), 'tell', f.tell())
"""

PY_SEEKS = r"""
import hashlib, os, random, sys
path = sys.argv[1]
CH = 8192
f = open(path, 'rb', buffering=0)
size = os.fstat(f.fileno()).st_size

def step(label, fn):
    try:
        print(label, fn())
    except OSError as e:
        print(label, 'error', e.errno, 'tell', f.tell())

def chunks(n):
    h = hashlib.md5()
    got = 0
    for _ in range(n):
        b = f.read(CH)
        if not b:
            break
        h.update(b)
        got += len(b)
    return got, h.hexdigest(), f.tell()

step('size', lambda: size)
step('whole file in 8 KiB reads', lambda: chunks(1 << 40))
step('seek to a third', lambda: f.seek(size // 3))
step('64 reads from a third', lambda: chunks(64))
step('seek -5000 from here', lambda: f.seek(-5000, 1))
step('one read', lambda: chunks(1))
step('seek +12345 from here', lambda: f.seek(12345, 1))
step('three reads', lambda: chunks(3))
step('seek -10000 from the end', lambda: f.seek(-10000, 2))
step('read to the end', lambda: chunks(1 << 40))
step('seek -1 from the end', lambda: f.seek(-1, 2))
step('read the last byte', lambda: chunks(1))
step('seek past the end', lambda: f.seek(size + 100))
step('read past the end', lambda: chunks(2))
step('tell', lambda: f.tell())
step('seek to 0', lambda: f.seek(0))
step('readinto 3 bytes', lambda: (f.readinto(bytearray(3)), f.tell()))
rnd = random.Random(7)
def scattered():
    h = hashlib.md5()
    for _ in range(300):
        f.seek(rnd.randrange(size + 1))
        h.update(f.read(CH))
        h.update(str(f.tell()).encode())
    return h.hexdigest(), f.tell()
step('300 scattered reads', scattered)
step('readall from 1000', lambda: (f.seek(min(1000, size)),
                                   hashlib.md5(f.readall()).hexdigest(),
                                   f.tell()))
f.close()
"""


# A mapped file's offset handed to other processes: a subprocess, a
# posix_spawn, a fork, system(), fork+exec and finally exec all continue
# from the offset the parent's served reads left, as they do natively.
# Each hand-over uses a fresh description (mmapread stops serving one
# that another process shares).
PY_INHERIT = r"""
import hashlib, os, subprocess, sys
path = sys.argv[1]
def say(*a):
    print(*a, flush=True)
def fresh(at):
    # A new description, mapped by its one-byte reads under the preload.
    f = open(path, 'rb', buffering=0)
    f.seek(at)
    got = b''.join(f.read(1) for _ in range(100))
    say(f'100 one-byte reads at {at}:', hashlib.md5(got).hexdigest()[:16],
        'tell', f.tell())
    return f
def drain(rp):
    out = b''
    while chunk := os.read(rp, 65536):
        out += chunk
    os.close(rp)
    return out

f = fresh(0)
r = subprocess.run(['head', '-c', '5000'], stdin=f, stdout=subprocess.PIPE)
say('subprocess head -c 5000:', hashlib.md5(r.stdout).hexdigest())
say('parent tell', f.tell(), 'next 4 bytes', f.read(4).hex())

f = fresh(1000)
rp, wp = os.pipe()
pid = os.posix_spawn('/usr/bin/head', ['head', '-c', '1000'], os.environ,
                     file_actions=[(os.POSIX_SPAWN_DUP2, f.fileno(), 0),
                                   (os.POSIX_SPAWN_DUP2, wp, 1)])
os.close(wp)
out = drain(rp)
os.waitpid(pid, 0)
say('posix_spawn head -c 1000:', hashlib.md5(out).hexdigest())
say('parent tell', f.tell(), 'next 4 bytes', f.read(4).hex())

f = fresh(50)
rp, wp = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(wp, os.read(f.fileno(), 7))
    os._exit(0)
os.close(wp)
child = drain(rp)
os.waitpid(pid, 0)
say('forked child read:', child.hex())
say('parent tell', f.tell(), 'next 4 bytes', f.read(4).hex())

f = fresh(3000)
os.set_inheritable(f.fileno(), True)
os.system(f'head -c 12 <&{f.fileno()} | od -An -tx1')
say('system(): parent tell', f.tell(), 'next 4 bytes', f.read(4).hex())

f = fresh(7000)
rp, wp = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(f.fileno(), 0)
    os.dup2(wp, 1)
    os.execv('/usr/bin/head', ['head', '-c', '16'])
os.close(wp)
say('fork and exec head -c 16:', drain(rp).hex())
os.waitpid(pid, 0)
say('parent tell', f.tell(), 'next 4 bytes', f.read(4).hex())

f = fresh(9000)
os.dup2(f.fileno(), 0)
say('exec od -N 16 in place of this process:')
os.execv('/usr/bin/od', ['od', '-An', '-tx1', '-N', '16'])
"""


def test_python_bytes(h):
    need(PYTHON)
    limit = 64 * KIB + 7
    for size in SIZES:
        n = size if size <= 4097 else limit
        h.compare(f"python 1-byte reads {size_name(size)} "
                  f"({'whole' if n == size else f'first {n} B'})",
                  [PYTHON, "-c", PY_ONE_BYTE, h.data(size), str(n)])


def test_python_seeks(h):
    need(PYTHON)
    for size in SIZES:
        h.compare(f"python 8 KiB reads and seeks {size_name(size)}",
                  [PYTHON, "-c", PY_SEEKS, h.data(size)])


def test_python_inherit(h):
    need(PYTHON, "/usr/bin/head", "od", "sh")
    for size in (4097, MIB + 3, BIG):
        _, pre = h.compare(f"python offsets shared with children "
                           f"{size_name(size)}",
                           [PYTHON, "-c", PY_INHERIT, h.data(size)])
        h.check(f"python offsets shared with children {size_name(size)}: "
                "the parent was served", (pre.served() or 0) > 0,
                f"read() served {pre.served()}",
                f"read() served {pre.served()}: the test proves nothing "
                "unless the parent's reads came from a mapping")


# ---- sqlite3 --------------------------------------------------------------

SQL_QUERIES = [
    ("count", "SELECT count(*) FROM items;"),
    ("sum", "SELECT sum(k), total(length(payload)), sum(id) FROM items;"),
    ("point lookup by index",
     "SELECT id, k, name, substr(payload, 1, 24) FROM items WHERE k = {k};"),
    ("range scan by index",
     "SELECT id, k, name FROM items WHERE k BETWEEN 100000 AND 130000 "
     "ORDER BY k, id;"),
    ("rowid range", "SELECT id, name, substr(payload, 300, 16) FROM items "
     "WHERE id BETWEEN 2000 AND 2100;"),
    ("order by text", "SELECT id, name, k FROM items ORDER BY name DESC "
     "LIMIT 40;"),
    ("order by unindexed payload",
     "SELECT id, substr(payload, 1, 20) FROM items ORDER BY payload "
     "LIMIT 25;"),
    ("full scan with LIKE",
     "SELECT count(*), min(id), max(id) FROM items "
     "WHERE payload LIKE '%beef%';"),
    ("group by", "SELECT k % 7, count(*), sum(length(name)) FROM items "
     "GROUP BY k % 7 ORDER BY 1;"),
    ("integrity_check", "PRAGMA integrity_check;"),
]
SQL_ROWS = 6000


def make_database(h):
    """A database of a few MiB with an index, created natively."""
    db = os.path.join(h.tmp, "test.db")
    if os.path.exists(db):
        return db, h.sql_k
    rnd = random.Random("mmapread-integ-sqlite")
    lines = ["PRAGMA page_size=4096;",
             "CREATE TABLE items(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, "
             "name TEXT NOT NULL, payload TEXT NOT NULL);",
             "BEGIN;"]
    ks = []
    for i in range(1, SQL_ROWS + 1):
        k = rnd.randrange(1_000_000)
        ks.append(k)
        lines.append(f"INSERT INTO items VALUES({i}, {k}, 'item-{i:05d}', "
                     f"'{rnd.randbytes(300).hex()}');")
    lines += ["COMMIT;", "CREATE INDEX items_k ON items(k);"]
    script = "\n".join(lines) + "\n"
    proc = subprocess.run([SQLITE, "-batch", db], input=script.encode(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=h.env(False))
    if proc.returncode != 0:
        raise SystemExit(f"creating the database failed: {proc.stderr!r}")
    h.sql_k = ks[SQL_ROWS // 2]
    print(f"(database {human(os.path.getsize(db))}, {SQL_ROWS} rows, "
          f"index on k)")
    return db, h.sql_k


def test_sqlite(h):
    need(SQLITE)
    db, k = make_database(h)
    h.warm_cache(db)
    for name, sql in SQL_QUERIES:
        h.compare(f"sqlite3 -readonly {name}",
                  [SQLITE, "-batch", "-readonly", db, sql.format(k=k)])
    everything = " ".join(sql.format(k=k) for _, sql in SQL_QUERIES)
    h.compare("sqlite3 -readonly all queries in one process",
              [SQLITE, "-batch", "-readonly", db, everything])
    h.compare("sqlite3 -readonly -csv -header range scan",
              [SQLITE, "-batch", "-readonly", "-csv", "-header", db,
               SQL_QUERIES[3][1]])


# ---- proof that mmapread served -----------------------------------------

def require_served(h, label, result, what, failure_hint):
    got = result.served(what)
    h.check(label, got is not None and got > 0,
            f'report says "{what}" = {got}',
            f'report says "{what}" = {got}; expected > 0. {failure_hint}\n'
            "    report:\n" + "\n".join(
                "      " + l for l in result.stderr.decode(
                    "utf-8", "replace").splitlines()
                if l.startswith("mmapread:")))


def test_served(h):
    need("dd", PYTHON, SQLITE)
    big = h.data(BIG)
    expect = md5(h.content(BIG))
    _, pre = h.compare("dd bs=512 64MiB", ["dd", f"if={big}", "of={OUT}",
                                          "bs=512"],
                       outputs=("OUT",), stderr_filter=dd_stderr_filter,
                       expect_output_md5={"OUT": expect})
    require_served(h, "dd bs=512 64MiB served from the mapping", pre,
                   "read() served from mappings",
                   "dd's 512-byte reads should be mapped after 3 reads.")

    _, pre = h.compare("python 8 KiB reads and seeks 64MiB",
                       [PYTHON, "-c", PY_SEEKS, big])
    require_served(h, "python 8 KiB reader 64MiB served from the mapping",
                   pre, "read() served from mappings",
                   "FileIO.read(8192) goes straight to read(2).")

    db, _ = make_database(h)
    h.warm_cache(db)
    _, pre = h.compare("sqlite3 -readonly full scan",
                       [SQLITE, "-batch", "-readonly", db,
                        SQL_QUERIES[7][1]])
    require_served(h, "sqlite3 -readonly preads served from the mapping", pre,
                   "pread() served from mappings",
                   "sqlite reads its pages with pread64 on an O_RDONLY fd.")


# ---- strace acceptance --------------------------------------------------

def strace_table(path):
    """strace -c's table as ({syscall: calls}, total calls)."""
    calls, total = {}, None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 5:
                continue
            try:
                float(parts[0])
                n = int(parts[3])
            except ValueError:
                continue
            if parts[-1] == "total":
                total = n
            else:
                calls[parts[-1]] = n
    if total is None:
        raise SystemExit(f"no total line in strace output {path}:\n" +
                         open(path).read())
    return calls, total


def run_strace(h, argv, preload, out_name):
    """strace -f -c argv; the preload reaches only the traced program."""
    table = os.path.join(h.tmp, out_name)
    cmd = [STRACE, "-f", "-c", "-o", table]
    if preload:
        cmd += ["-E", f"LD_PRELOAD={h.preload}", "-E", "MMAPREAD_STATS=1"]
        for k, v in h.preload_extra.items():
            cmd += ["-E", f"{k}={v}"]
    res = h.run(cmd + argv, False)
    if res.rc != 0:
        raise SystemExit(f"{' '.join(cmd + argv)} failed ({res.rc}):\n" +
                         res.stderr.decode("utf-8", "replace"))
    calls, total = strace_table(table)
    return res, calls, total


def strace_works(h):
    need(STRACE)
    probe = h.run([STRACE, "-f", "-c", "-o", os.devnull, "true"], False)
    if probe.rc != 0:
        raise SystemExit("strace cannot trace here: " +
                         probe.stderr.decode("utf-8", "replace"))


def net_saved_check(h, label, ntotal, pres, ptotal):
    """The report's net syscalls saved against strace's totals."""
    net = pres.report.get("net syscalls saved")
    measured = ntotal - ptotal
    if net is None:
        h.fail(label, "    no \"net syscalls saved\" row in the preload "
               "run's stderr:\n" + pres.stderr.decode("utf-8", "replace"))
        return
    tolerance = abs(measured) / 100
    h.check(label, measured > 0 and abs(net - measured) <= tolerance,
            f"report {net}, strace {ntotal} - {ptotal} = {measured} "
            f"(off by {net - measured}, tolerance {tolerance:.0f})",
            f"report says net syscalls saved {net}, strace says native "
            f"{ntotal} - preload {ptotal} = {measured}; off by "
            f"{net - measured}, more than 1% ({tolerance:.0f})")


def test_strace(h):
    """The acceptance checks, from one pair of strace -f -c runs each.

    (a) dd bs=512 on 64 MiB makes under 1% of native's read syscalls, and
        its output is identical;
    (b) the report's "net syscalls saved" is native's total syscalls minus
        the preloaded run's, within 1% (dd, and python's 8 KiB reader).
    """
    need("dd", PYTHON)
    strace_works(h)
    big = h.data(BIG)
    h.warm_cache(big)
    argv = ["dd", f"if={big}", "of=/dev/null", "bs=512"]
    _, ncalls, ntotal = run_strace(h, argv, False, "strace-native.txt")
    pres, pcalls, ptotal = run_strace(h, argv, True, "strace-preload.txt")
    nreads = sum(ncalls.get(s, 0) for s in READ_SYSCALLS)
    preads = sum(pcalls.get(s, 0) for s in READ_SYSCALLS)
    detail = ", ".join(f"{s} {ncalls.get(s, 0)}->{pcalls.get(s, 0)}"
                       for s in READ_SYSCALLS
                       if ncalls.get(s) or pcalls.get(s))
    h.check("(a) strace: dd bs=512 64MiB read syscalls under 1% of native",
            nreads > 0 and preads * 100 < nreads,
            f"native {nreads} read syscalls, preload {preads} "
            f"({100.0 * preads / nreads:.3f}%; {detail})",
            f"native {nreads} read syscalls, preload {preads} "
            f"({100.0 * preads / max(nreads, 1):.2f}%, limit 1%; {detail})")
    h.compare("(a) dd bs=512 64MiB to stdout", ["dd", f"if={big}", "bs=512"],
              stderr_filter=dd_stderr_filter,
              expect_stdout_md5=md5(h.content(BIG)))
    net_saved_check(h, "(b) strace: dd bs=512 64MiB net syscalls saved",
                    ntotal, pres, ptotal)

    argv = [PYTHON, "-c", PY_SEEKS, big]
    native, _, ntotal = run_strace(h, argv, False, "strace-native-py.txt")
    pres, _, ptotal = run_strace(h, argv, True, "strace-preload-py.txt")
    h.check("(b) python 8 KiB reader 64MiB under strace: same stdout",
            native.stdout == pres.stdout, "identical",
            describe_difference("stdout", native.stdout, pres.stdout))
    net_saved_check(h, "(b) strace: python 8 KiB reader 64MiB net syscalls "
                    "saved", ntotal, pres, ptotal)


# ---- symbols --------------------------------------------------------------

REQUIRED_SYMBOLS = """
open open64 openat openat64 __open_2 __open64_2 __openat_2 __openat64_2
creat creat64 read __read_chk pread pread64 __pread_chk __pread64_chk readv
preadv preadv64 preadv2 preadv64v2 lseek lseek64 close close_range closefrom
dup dup2 dup3 fcntl fcntl64
""".split()


def dynamic_symbols(path, which="--defined-only"):
    proc = subprocess.run(["nm", "-D", which, path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"nm -D {path} failed: {proc.stderr}")
    names = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts:
            names.add(parts[-1].split("@")[0])
    return names


def libc_path(h):
    proc = subprocess.run(["ldd", h.lib], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*libc\.so\.6 => (\S+)", line)
        if m:
            return m.group(1)
    return "/lib/x86_64-linux-gnu/libc.so.6"


def test_symbols(h):
    need("nm", "ldd")
    exported = dynamic_symbols(h.lib)
    missing = [s for s in REQUIRED_SYMBOLS if s not in exported]
    h.check("nm -D: every required name is exported", not missing,
            f"all {len(REQUIRED_SYMBOLS)} present",
            f"missing: {' '.join(missing)}")
    libc = libc_path(h)
    libc_names = dynamic_symbols(libc)
    stray = sorted(s for s in exported
                   if s not in libc_names and not s.startswith("mmapread_"))
    h.check("nm -D: nothing exported but libc names and mmapread_*",
            not stray,
            f"{len(exported)} exported, all libc names ({libc}) or "
            f"mmapread_*: {' '.join(sorted(exported - set(REQUIRED_SYMBOLS)))}"
            " beyond the required list",
            f"not a libc name and not mmapread_*: {' '.join(stray)}")
    not_libc = [s for s in REQUIRED_SYMBOLS if s not in libc_names]
    h.check("every required name is a name of this libc", not not_libc,
            f"all in {libc}", f"not in {libc}: {' '.join(not_libc)}")


# ---- every name, called ---------------------------------------------------

# What a "reach NAME ..." line must show under the preload.
REACH = {}
for _n in ("open", "open64", "openat", "openat64", "__open_2", "__open64_2",
           "__openat_2", "__openat64_2"):
    REACH[_n] = ("mapped>=1", "reads>=1")
for _n in ("read", "__read_chk"):
    REACH[_n] = ("reads>=1",)
for _n in ("pread", "pread64", "__pread_chk", "__pread64_chk"):
    REACH[_n] = ("preads>=1",)
for _n in ("readv", "preadv", "preadv64", "preadv2", "preadv64v2"):
    REACH[_n] = ("readvs>=1",)
for _n in ("lseek", "lseek64"):
    REACH[_n] = ("lseeks>=1",)
for _n in ("dup", "dup2", "dup3", "fcntl", "fcntl64"):
    REACH[_n] = ("reads>=1",)
for _n in ("close", "close_range", "closefrom"):
    # The number was reused behind mmapread's back: serving it would have
    # given the old file's bytes.
    REACH[_n] = ("reads==0",)
for _n in ("creat", "creat64"):
    REACH[_n] = ("access_fb>=1",)
REACH["natural"] = ("reads>=1", "preads>=1")


def parse_reach(stderr):
    out = {}
    for line in stderr.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0] == "reach":
            out[parts[1]] = {k: int(v) for k, v in
                             (p.split("=") for p in parts[2:])}
    return out


def test_call_every_name(h, program):
    need("nm")
    program = os.path.abspath(program)
    imported = dynamic_symbols(program, "--undefined-only")
    missing = [s for s in REQUIRED_SYMBOLS if s not in imported]
    h.check("call_every_name imports every required name", not missing,
            f"all {len(REQUIRED_SYMBOLS)} are undefined references "
            "(called through the PLT)", f"not imported: {' '.join(missing)}")
    for tag in ("native", "preload"):
        d = os.path.join(h.tmp, tag)
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(h.data(MIB + 3), os.path.join(d, "a"))
        shutil.copyfile(h.data(128 * KIB), os.path.join(d, "b"))
    # Same argv for both runs: the directory is reached by a symlink that
    # is switched between the runs.
    link = os.path.join(h.tmp, "dir")
    os.symlink("native", link)
    native = h.run([program, link], False)
    os.unlink(link)
    os.symlink("preload", link)
    # The program maps each file within a few reads on purpose: every name
    # must be shown reaching a mapped file, which the default policy
    # (MMAPREAD_MAP_AFTER=48) would not do that early.
    pre = h.run([program, link], True, {"MMAPREAD_MAP_AFTER": "3"})
    problems = []
    if native.rc != pre.rc:
        problems.append(f"    exit status: native {native.rc}, preload "
                        f"{pre.rc}")
    if native.stdout != pre.stdout:
        problems.append(describe_difference("stdout", native.stdout,
                                            pre.stdout))
    lines = native.stdout.decode().count("\n")
    if problems:
        h.fail("call_every_name: every result as native", "\n".join(problems)
               + "\n    preload stderr:\n" + pre.stderr.decode(
                   "utf-8", "replace"))
    else:
        h.ok("call_every_name: every result as native",
             f"exit {native.rc}, {lines} result lines identical")
    for tag in ("creat1", "creat2"):
        a = md5_file(os.path.join(h.tmp, "native", tag))
        b = md5_file(os.path.join(h.tmp, "preload", tag))
        h.check(f"call_every_name: file made by creat ({tag})", a == b,
                f"md5 {a[:12]} identical", f"native {a}, preload {b}")
    if parse_reach(native.stderr):
        h.fail("call_every_name native run", "    the native run found "
               "mmapread_get_stats: is the library preloaded globally?")
    reach = parse_reach(pre.stderr)
    for name, conds in REACH.items():
        got = reach.get(name)
        if got is None:
            h.fail(f"reached: {name}", f"    no 'reach {name}' line from "
                   "the preloaded run (mmapread_get_stats not found?)")
            continue
        bad = []
        for cond in conds:
            key, op, val = re.match(r"(\w+)(>=|==)(\d+)", cond).groups()
            ok = got[key] >= int(val) if op == ">=" else got[key] == int(val)
            if not ok:
                bad.append(f"{cond} but {key}={got[key]}")
        h.check(f"reached: {name}", not bad,
                " ".join(f"{k}={v}" for k, v in got.items() if v),
                "; ".join(bad) + f" (counters moved: {got})")


# ---- configuration ------------------------------------------------------

def test_disable(h):
    need("dd")
    big = h.data(BIG)
    _, pre = h.compare("dd bs=512 64MiB with MMAPREAD_DISABLE=1",
                       ["dd", f"if={big}", "of={OUT}", "bs=512"],
                       outputs=("OUT",), stderr_filter=dd_stderr_filter,
                       expect_output_md5={"OUT": md5(h.content(BIG))},
                       preload_env={"MMAPREAD_DISABLE": "1"})
    rows = pre.report
    h.check("MMAPREAD_DISABLE=1: the report is printed",
            "read() served from mappings" in rows,
            "report present",
            "no report on stderr: " + pre.stderr.decode("utf-8", "replace"))
    served = {k: rows.get(k) for k in (
        "read() served from mappings", "pread() served from mappings",
        "readv()/preadv() served", "lseek() answered in user space",
        "files mapped")}
    h.check("MMAPREAD_DISABLE=1: nothing served, nothing mapped",
            all(v == 0 for v in served.values()),
            ", ".join(f"{k} {v}" for k, v in served.items()),
            "expected all zero: " + ", ".join(f"{k} {v}"
                                              for k, v in served.items()))
    for value in ("yes", "on", "TRUE"):
        _, pre = h.compare(f"cat 1MiB+3 with MMAPREAD_DISABLE={value}",
                           ["cat", h.data(MIB + 3)],
                           preload_env={"MMAPREAD_DISABLE": value})
        h.check(f"MMAPREAD_DISABLE={value}: nothing mapped",
                pre.report.get("files mapped") == 0,
                "files mapped 0",
                f"files mapped {pre.report.get('files mapped')}")


def test_bad_env(h):
    need("cat", "dd")
    small = h.data(4097)
    cases = [("MMAPREAD_STATS", "maybe", ["cat", small]),
             ("MMAPREAD_DISABLE", "2", ["cat", small]),
             ("MMAPREAD_STATS", "", ["cat", small])]
    for var, value, argv in cases:
        native = h.run(argv, False)
        pre = h.run(argv, True, extra_env={var: value}, stats=False)
        lines = pre.stderr.decode("utf-8", "replace").splitlines()
        label = f"{var}={value!r} for {argv[0]}"
        h.check(f"{label}: same stdout and exit status",
                native.stdout == pre.stdout and native.rc == pre.rc == 0,
                f"exit 0, stdout {human(len(pre.stdout))} identical",
                f"native exit {native.rc}, preload exit {pre.rc}\n" +
                describe_difference("stdout", native.stdout, pre.stdout))
        if value == "":
            # Empty means unset: the default, silently.
            h.check(f"{label}: silent", lines == [], "stderr empty",
                    f"stderr: {lines}")
            continue
        h.check(f"{label}: exactly one line naming {var}",
                len(lines) == 1 and var in lines[0],
                f"stderr: {lines[0] if lines else ''}",
                f"stderr has {len(lines)} lines: {lines}")
    # A bad value next to a good one: the good one still works.
    pre = h.run(["dd", f"if={h.data(MIB + 3)}", "of=/dev/null", "bs=512"],
                True, extra_env={"MMAPREAD_DISABLE": "perhaps"})
    lines = [l for l in pre.stderr.decode().splitlines()
             if "MMAPREAD_DISABLE" in l]
    h.check("MMAPREAD_DISABLE=perhaps: warned once, default kept (serving)",
            pre.rc == 0 and len(lines) == 1 and
            (pre.served() or 0) > 0,
            f"one warning, read() served {pre.served()}",
            f"exit {pre.rc}, warnings {lines}, served {pre.served()}")


def in_tools_shells(name):
    """A test kept in tools_shells.py, which imports this module."""
    def run(h, *args):
        sys.modules.setdefault("compare", sys.modules[__name__])
        import tools_shells
        return getattr(tools_shells, name)(h, *args)
    return run


TESTS = {
    "cat": test_cat,
    "dd": test_dd,
    "md5sum": test_md5sum,
    "wc": test_wc,
    "head": test_head,
    "tail": test_tail,
    "cmp": test_cmp,
    "python-bytes": test_python_bytes,
    "python-seeks": test_python_seeks,
    "python-inherit": test_python_inherit,
    "sqlite": test_sqlite,
    "served": test_served,
    "strace": test_strace,
    "symbols": test_symbols,
    "call-every-name": test_call_every_name,
    "disable": test_disable,
    "bad-env": test_bad_env,
    "tools-coreutils": in_tools_shells("test_tools_coreutils"),
    "tools-sed-awk-grep": in_tools_shells("test_tools_text"),
    "tools-gzip-tar-cp-dd": in_tools_shells("test_tools_archive"),
    "share-sh": in_tools_shells("test_share_sh"),
    "share-make-xargs": in_tools_shells("test_share_make_xargs"),
    "share-c": in_tools_shells("test_share_c"),
    "share-c-vfork-dup2": in_tools_shells("test_share_c_vfork_dup2"),
}


def run_harness(name, what, body):
    """Run body(harness) as test `name`; its exit status (SKIP on Skip)."""
    h = Harness(name)
    start = time.monotonic()
    try:
        print(f"{name}: {what}{' ' if what else ''}LD_PRELOAD={h.preload}")
        body(h)
        status = h.finish()
    except Skip as e:
        print(f"SKIP: {e}")
        status = SKIP
    finally:
        h.cleanup()
    print(f"({time.monotonic() - start:.1f} s)")
    return status


def main(argv):
    if len(argv) < 2 or argv[1] not in TESTS:
        print(f"usage: {argv[0]} {{{','.join(TESTS)}}} [ARGS]",
              file=sys.stderr)
        return 2
    name = argv[1]
    return run_harness(name, "native vs", lambda h: TESTS[name](h, *argv[2:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
