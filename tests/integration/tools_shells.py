"""Everyday tools and shells, natively and preloaded (compare.py runs these).

Two families of tests, registered in compare.py's TESTS and meson.build:

tools-*: a battery of real programs (coreutils, sed, awk, grep, gzip, tar,
    cp, dd) on generated files of 0 B, 1 B, 4095 B, 4096 B, 4097 B and
    1 MiB+3, each as text with lines and as random bytes. Every command runs
    natively and preloaded, each run in a fresh working directory holding
    the same input copies; exit status, stdout, stderr (report lines taken
    out) and every file left in the directory must be identical. Preloaded
    runs use MMAPREAD_MAP_AFTER=3, so that small readers get mapped; where a
    tool is known to read in small pieces (dd, awk, tar), the report must
    also show that mmapread served it, or the comparison proved nothing.

share-*: processes sharing one file offset (DESIGN-NOTES §2): bash and dash
    reading a file with their read builtin and handing the same open file
    description to head, cat, dd, subshells, loops spawning commands, make
    and xargs; and share_offsets.c, which hands a mapped description to
    fork, posix_spawnp, vfork, popen, system, fexecve and execveat. An fd
    inherited across exec is not tracked by mmapread (only fds opened or
    dup'ed in the process are), so what matters is the process that opened
    the file: its report (MMAPREAD_STATS=1) must show files mapped and
    reads served, or the test proves nothing.

MMAPREAD_INTEG_PRELOAD_ENV (see compare.py) applies here too and wins over
the MMAPREAD_MAP_AFTER=3 these tests set: MMAPREAD_DISABLE=1 or
MMAPREAD_MAP_AFTER=1000000 there must make the "served" checks fail.
"""

import base64
import os
import random
import re
import shutil
import subprocess

import compare as C

KIB = C.KIB
MIB = C.MIB
SIZES = [0, 1, 4095, 4096, 4097, MIB + 3]
# Copies made for a run get this mtime, so that gzip and tar, which record
# it, write the same bytes in both runs.
FIXED_MTIME = 1_000_000_000
# Preloaded runs map a file after this many small reads (MMAPREAD_MAP_AFTER).
MAP_AFTER = "3"
READ_ROWS = ("read() served from mappings", "pread() served from mappings",
             "readv()/preadv() served")
REPORT_HEAD = re.compile(rb"^mmapread: report for (.*) \(pid (\d+)\)$")
# The report's rows that REPORT_ROW does not parse (no plain number).
REPORT_DETAIL = re.compile(
    rb"^mmapread:(\s+\(mmap \d+, |\s+bytes served\s| files? )")
CHECK_LINE = re.compile(rb"^MMAPREAD-CHECK (.*) (ok|FAIL)( \(.*\))?$")


# ---- reports --------------------------------------------------------------

def report_blocks(stderr):
    """Each process image's report as {name, pid, rows}, in order."""
    blocks = []
    for line in stderr.splitlines():
        m = REPORT_HEAD.match(line)
        if m:
            blocks.append({"name": m.group(1).decode(),
                           "pid": int(m.group(2)), "rows": {}})
            continue
        m = C.REPORT_ROW.match(line.decode("utf-8", "replace"))
        if m and blocks:
            blocks[-1]["rows"][m.group(1)] = int(m.group(2))
    return blocks


def served(rows):
    return sum(rows.get(r, 0) for r in READ_ROWS)


def stray_library_lines(stderr):
    """Lines of mmapread's that are not its report (warnings...)."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith(b"mmapread:") or REPORT_HEAD.match(line) or \
                REPORT_DETAIL.match(line) or \
                C.REPORT_ROW.match(line.decode("utf-8", "replace")):
            continue
        out.append(line.decode("utf-8", "replace"))
    return out


def strip_noise(stderr):
    """stderr without the report and the program's own check lines."""
    return b"".join(line for line in C.strip_report(stderr)
                    .splitlines(keepends=True)
                    if not line.startswith(b"MMAPREAD-CHECK "))


def dd_noise(stderr):
    return C.dd_stderr_filter(strip_noise(stderr))


class Holder:
    """A process that must have mapped and served under the preload.

    name: the program name in its report; top: only the process the test
    started (pid known), else any process of that name; min_mapped: files
    mapped, summed over the matching reports; images: when given, exactly
    this many reports (one per program image of that pid), each of which
    must have mapped and served on its own."""

    def __init__(self, what, name, top=False, min_mapped=1, images=None):
        self.what = what
        self.name = name
        self.top = top
        self.min_mapped = min_mapped
        self.images = images


# ---- running --------------------------------------------------------------

class Case:
    def __init__(self, label, argv, stdin=None, setup=None,
                 stderr_filter=strip_noise, served=False, holders=(),
                 checks=0):
        self.label = label
        self.argv = argv
        self.stdin = stdin          # a file to read as stdin, else /dev/null
        self.setup = setup or {}    # {name in the run's directory: source}
        self.stderr_filter = stderr_filter
        self.served = served        # the report must show reads served
        self.holders = holders
        self.checks = checks        # MMAPREAD-CHECK ... ok lines expected


class Run:
    pass


def snapshot(top):
    """{relative path: what it is} for every entry under top."""
    out = {}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, top)
            st = os.lstat(path)
            if os.path.islink(path):
                out[rel] = ("symlink", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir", oct(st.st_mode & 0o7777))
            else:
                out[rel] = ("file", oct(st.st_mode & 0o7777), st.st_size,
                            C.md5_file(path))
    return out


def run_one(h, case, preload, workdir):
    os.makedirs(workdir)
    for name, src in case.setup.items():
        dst = os.path.join(workdir, name)
        shutil.copyfile(src, dst)
        os.utime(dst, (FIXED_MTIME, FIXED_MTIME))
    extra = {}
    if preload and "MMAPREAD_MAP_AFTER" not in h.preload_extra:
        extra["MMAPREAD_MAP_AFTER"] = MAP_AFTER
    env = h.env(preload, extra)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "GZIP", "TAR_OPTIONS"):
        env.pop(var, None)
    stdin = open(case.stdin, "rb") if case.stdin else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(case.argv, cwd=workdir, env=env, stdin=stdin,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if case.stdin:
            stdin.close()
    run = Run()
    run.rc, run.stdout, run.stderr, run.pid = (proc.returncode, stdout,
                                               stderr, proc.pid)
    run.tree = snapshot(workdir)
    run.dir = workdir
    run.blocks = report_blocks(stderr)
    return run


def tree_problems(native, pre):
    problems = []
    for rel in sorted(set(native.tree) | set(pre.tree)):
        a, b = native.tree.get(rel), pre.tree.get(rel)
        if a == b:
            continue
        if a is None or b is None:
            problems.append(f"    file {rel}: only in the "
                            f"{'preloaded' if a is None else 'native'} run")
        else:
            problems.append(f"    file {rel} differs: native {a}, preload "
                            f"{b}\n" + C.describe_file_difference(
                                os.path.join(native.dir, rel),
                                os.path.join(pre.dir, rel)))
        if len(problems) >= 5:
            problems.append("    ...")
            break
    return problems


def holder_problems(case, pre):
    problems, notes = [], []
    for hold in case.holders:
        blocks = [b for b in pre.blocks if b["name"] == hold.name and
                  (not hold.top or b["pid"] == pre.pid)]
        mapped = sum(b["rows"].get("files mapped", 0) for b in blocks)
        reads = sum(served(b["rows"]) for b in blocks)
        bad = []
        if hold.images is not None:
            if len(blocks) != hold.images:
                bad.append(f"{len(blocks)} reports, expected one per "
                           f"program image ({hold.images})")
            for i, b in enumerate(blocks):
                if not b["rows"].get("files mapped") or not served(b["rows"]):
                    bad.append(f"image {i + 1}: files mapped "
                               f"{b['rows'].get('files mapped')}, reads "
                               f"served {served(b['rows'])}")
        if not blocks:
            bad.append(f"no report from {hold.name}"
                       f"{' (pid %d)' % pre.pid if hold.top else ''}")
        elif mapped < hold.min_mapped or reads < 1:
            bad.append(f"files mapped {mapped} (at least "
                       f"{hold.min_mapped} expected), reads served {reads}")
        if bad:
            problems.append(f"    {hold.what} ({hold.name}): " +
                            "; ".join(bad) + ": the run proves nothing "
                            "about mmapread unless it mapped and served "
                            "there")
        else:
            notes.append(f"{hold.what}: mapped {mapped}, served {reads}")
    if case.served:
        reads = sum(served(b["rows"]) for b in pre.blocks)
        if reads < 1:
            problems.append("    the report shows no read served: this "
                            "tool reads in small pieces and should have "
                            "been mapped after 3 reads")
        else:
            notes.append(f"served {reads}")
    elif not case.holders:
        reads = sum(served(b["rows"]) for b in pre.blocks)
        if reads:
            notes.append(f"served {reads}")
    return problems, notes


def check_lines(case, native, pre):
    """The program's own MMAPREAD-CHECK lines: all ok, as many as expected."""
    problems, oks = [], 0
    for line in pre.stderr.splitlines():
        if not line.startswith(b"MMAPREAD-CHECK "):
            continue
        m = CHECK_LINE.match(line)
        if m and m.group(2) == b"ok":
            oks += 1
        else:
            problems.append("    " + line.decode("utf-8", "replace"))
    if oks != case.checks:
        problems.append(f"    {oks} MMAPREAD-CHECK ok lines, expected "
                        f"{case.checks}")
    if b"MMAPREAD-CHECK" in native.stderr:
        problems.append("    the native run saw mmapread (LD_PRELOAD "
                        "leaked?)")
    return problems


def compare_case(h, case, number):
    base = os.path.join(h.tmp, f"run{number}")
    native = run_one(h, case, False, base + "-native")
    pre = run_one(h, case, True, base + "-preload")
    problems = []
    if native.rc != pre.rc:
        problems.append(f"    exit status differs: native {native.rc}, "
                        f"preload {pre.rc}")
    if native.stdout != pre.stdout:
        problems.append(C.describe_difference("stdout", native.stdout,
                                              pre.stdout))
    ea, eb = case.stderr_filter(native.stderr), case.stderr_filter(pre.stderr)
    if ea != eb:
        problems.append(C.describe_difference("stderr (report lines "
                                              "removed)", ea, eb))
    stray = stray_library_lines(pre.stderr)
    if stray:
        problems.append("    mmapread printed more than its report:\n" +
                        "\n".join("      " + l for l in stray[:10]))
    if b"mmapread: report" in native.stderr:
        problems.append("    the native run printed a report (LD_PRELOAD "
                        "leaked?)")
    problems += tree_problems(native, pre)
    held, notes = holder_problems(case, pre)
    problems += held
    if case.checks:
        problems += check_lines(case, native, pre)
    if problems:
        detail = "\n".join(problems) + "\n    command: " + \
            C.show_argv(case.argv)
        if case.stdin:
            detail += f" < {case.stdin}"
        report = [l.decode("utf-8", "replace") for l in
                  pre.stderr.splitlines() if l.startswith(b"mmapread:")]
        if report:
            detail += "\n    preload report:\n" + "\n".join(
                "      " + l for l in report[:40])
            if len(report) > 40:
                detail += f"\n      ... {len(report) - 40} more lines"
        h.fail(case.label, detail)
    else:
        files = sum(1 for v in native.tree.values() if v[0] == "file")
        h.ok(case.label, ", ".join(
            [f"exit {native.rc}", f"stdout {C.human(len(native.stdout))}",
             f"{files} files"] + notes + ["identical"]))
    if not problems or os.environ.get("MMAPREAD_INTEG_KEEP") != "1":
        shutil.rmtree(native.dir, ignore_errors=True)
        shutil.rmtree(pre.dir, ignore_errors=True)
    return native, pre


def run_cases(h, cases):
    for number, case in enumerate(cases):
        compare_case(h, case, number)


# ---- data -----------------------------------------------------------------

WORDS = ["alpha", "beta", "gamma", "delta", "Echo", "fox", "golf", "hotel",
         "india", "juliet", "x", "STOPS", "7", "ab"]


def text_bytes(size, seed):
    """Lines with fields (tab and space separated) and repeated lines, cut
    at size (so the last line may have no newline)."""
    rnd = random.Random(f"mmapread-tools-{seed}")
    lines, total, prev, i = [], 0, None, 0
    while total < size:
        i += 1
        if prev is not None and rnd.random() < 0.15:
            line = prev
        else:
            words = " ".join(rnd.choice(WORDS)
                             for _ in range(rnd.randrange(0, 6)))
            line = (f"{i:06d} {rnd.choice(WORDS)}\t"
                    f"{rnd.randrange(10 ** rnd.randrange(1, 8))} {words}\n")
        lines.append(line)
        total += len(line)
        prev = line
    return "".join(lines).encode()[:size]


class Data:
    """The inputs, generated once per test in a directory of their own."""

    def __init__(self, h):
        self.h = h
        self.dir = os.path.join(h.tmp, "data")
        os.makedirs(self.dir)

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(content)
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
        return path

    def native(self, argv, out=None):
        """Make an input with a native tool (never the preload)."""
        with open(out, "wb") if out else open(os.devnull, "wb") as f:
            subprocess.run(argv, stdout=f, check=True, cwd=self.dir,
                           env=self.h.env(False))
        if out:
            os.utime(out, (FIXED_MTIME, FIXED_MTIME))

    def inputs(self, sizes=SIZES):
        """One dict per input file: its path, size, kind, and a variant
        of it (another file that differs a little) for cmp and diff."""
        out = []
        for size in sizes:
            for kind in ("bin", "text"):
                if kind == "text" and size == 0:
                    continue    # the same as the empty binary file
                name = f"{kind}-{C.size_name(size)}"
                if kind == "bin":
                    content = bytes(self.h.content(size))
                    variant = bytearray(content)
                    if size:
                        variant[-1] ^= 0xFF
                else:
                    content = text_bytes(size, size)
                    variant = bytearray(content)
                    if size:
                        mid = size // 2
                        variant[mid] = ord("#") if variant[mid] != \
                            ord("#") else ord("%")
                        nl = content.find(b"\n", size // 4)
                        if nl >= 0:
                            variant[nl + 1:nl + 1] = b"an inserted line\n"
                path = self.write(name, content)
                out.append({"path": path, "name": name, "size": size,
                            "kind": kind, "big": size > 64 * KIB,
                            "copy": self.write(name + ".copy", content),
                            "variant": self.write(name + ".variant",
                                                  bytes(variant))})
        return out


def extra_input(d, size):
    """One more random input, for a single tool."""
    name = f"bin-{C.size_name(size)}"
    return {"path": d.write(name, bytes(d.h.content(size))), "name": name,
            "size": size}


def label(f, d, argv, stdin=None):
    """The command line with the input file called F, and its name."""
    def short(word):
        if word == f["name"]:
            return "F"
        return word.replace(os.path.join(d.dir, f["name"]), "F").replace(
            d.dir, "DATA")
    words = [short(a) for a in argv]
    if stdin:
        words += ["<", short(stdin)]
    return " ".join(words) + f" [{f['name']}]"


# ---- the tools battery ----------------------------------------------------

def coreutils_cases(d):
    cases = []
    for f in d.inputs():
        p = f["path"]
        with open(p, "rb") as src:
            b64 = d.write(f["name"] + ".b64", base64.encodebytes(src.read()))
        for argv, stdin in (
                (["cat", p], None),
                (["tac", p], None),
                (["tac"], p),
                (["head", "-n", "7", p], None),
                (["head", "-c", "5000", p], None),
                (["head", "-c", "-100", p], None),
                (["tail", "-n", "7", p], None),
                (["tail", "-c", "5000", p], None),
                (["tail", "-n", "+3", p], None),
                (["cut", "-d", " ", "-f", "2,4", p], None),
                (["cut", "-c", "3-10", p], None),
                (["sort", p], None),
                (["sort", "-r", "-k", "2,2", "-k", "1n", p], None),
                (["uniq", "-c", p], None),
                (["uniq", "-d", p], None),
                (["split", "-b", "1000", p, "b-"], None),
                (["split", "-l", "100", "-d", p, "l-"], None),
                (["split", "-n", "3", p, "n-"], None),
                (["od", "-An", "-tx1", p], None),
                (["od", "-c", "-j", "100", "-N", "300", p], None),
                (["base64", p], None),
                (["base64", "-d", b64], None),
                (["tr", "a-z", "A-Z"], p),
                (["tr", "-d", "\\n"], p),
                (["cmp", p, f["copy"]], None),
                (["cmp", p, f["variant"]], None),
                (["cmp", "-l", p, f["variant"]], None),
                (["diff", p, f["copy"]], None),
                (["diff", "-u", p, f["variant"]], None)):
            cases.append(Case(label(f, d, argv, stdin), argv, stdin=stdin))
    return cases


AWK_SUMS = "{ n += NF; c += length($0) } END { print NR, n, c }"
AWK_FIELD = "BEGIN { FS = \"\\t\" } NR % 50 == 1 { print NR \": \" $2 }"
AWK_LONG = "length($0) > 40 { k++; print k, $1 }"


def text_tool_cases(d):
    cases = []
    for f in d.inputs():
        p = f["path"]
        text_big = f["big"] and f["kind"] == "text"
        for argv, setup, small_reads in (
                (["sed", "-n", "2,6p;$=", p], None, False),
                (["sed", "s/[0-9]/#/g", p], None, False),
                (["sed", "1~3d", p], None, False),
                (["sed", "-i", "s/a/A/", "in"], {"in": p}, False),
                (["awk", AWK_SUMS, p], None, text_big),
                (["awk", AWK_FIELD, p], None, text_big),
                (["awk", AWK_LONG, p], None, text_big),
                (["grep", "-c", "7", p], None, False),
                (["grep", "-n", "alpha", p], None, False),
                (["grep", "-a", "-o", "[0-9][0-9][0-9]", p], None, False)):
            what = label(f, d, argv)
            if argv[0] == "awk":
                what = "awk (" + os.path.realpath(shutil.which("awk")) + \
                    ") " + what[4:]
            cases.append(Case(what, argv, setup=setup, served=small_reads))
    return cases


# dd runs: (arguments, output file made beforehand). dd with conv=notrunc
# writes into an existing file, which keeps what dd does not overwrite.
DD_RUNS = [
    (["bs=1", "skip=3", "count=5000", "of=out"], False),
    (["bs=512", "skip=2", "count=300", "of=out"], False),
    (["bs=4096", "skip=1", "of=out"], False),
    (["bs=512", "skip=1", "count=10"], False),
    (["ibs=1", "obs=512", "count=4000", "of=out"], False),
    (["bs=512", "skip=1", "seek=4", "count=50", "conv=notrunc", "of=out"],
     True),
    (["bs=1", "skip=10", "seek=20", "count=3000", "conv=notrunc", "of=out"],
     True),
    (["bs=4096", "skip=2", "seek=1", "count=100", "conv=notrunc", "of=out"],
     True),
    (["bs=1", "skip=4090", "seek=4000", "count=20", "conv=notrunc",
      "of=out"], True),
]


def dd_reads_small(args, size):
    """Whether this dd makes enough small reads of a file of this size to
    get it mapped after 3 (the policy also wants 32 more to remain)."""
    opts = dict(a.split("=", 1) for a in args)
    block = int(opts.get("bs", opts.get("ibs", "512")))
    start = int(opts.get("skip", "0")) * block
    count = int(opts.get("count", "1000000000"))
    reads = min(count, max(0, size - start) // block)
    # Requests above 16 KiB do not count towards a mapping (mr_policy.h).
    return size > 64 * KIB and reads >= 40 and block <= 16 * KIB


def archive_cases(d):
    cases = []
    # What dd writes into with conv=notrunc: an existing, different file.
    existing = d.write("existing", text_bytes(9000, "existing"))
    for f in d.inputs():
        p, name = f["path"], f["name"]
        gz = os.path.join(d.dir, name + ".gz")
        d.native(["gzip", "-c", p], out=gz)
        tar = os.path.join(d.dir, name + ".tar")
        d.native(["tar", "-cf", tar, "-C", d.dir, name])
        tar_small = f["big"]
        for argv, setup, stdin, small_reads in (
                (["gzip", "-c", p], None, None, False),
                (["gzip", "-9", "-n", "-c", p], None, None, False),
                (["gzip", "-dc", gz], None, None, False),
                (["gzip", "-k", "in"], {"in": p}, None, False),
                (["gzip", "-d", "in.gz"], {"in.gz": gz}, None, False),
                (["gzip", "-l", gz], None, None, False),
                (["gzip", "-c"], None, p, False),
                (["tar", "-cf", "out.tar", "-C", d.dir, name], None, None,
                 f["big"]),
                (["tar", "-tvf", tar], None, None, False),
                (["tar", "-xf", tar], None, None, f["big"]),
                (["tar", "-xOf", tar], None, None, f["big"]),
                (["tar", "-xf", "-"], None, tar, False),
                (["cp", p, "out"], None, None, False),
                (["cp", "--sparse=always", p, "out"], None, None, False)):
            cases.append(Case(label(f, d, argv, stdin), argv, setup=setup,
                              stdin=stdin, served=small_reads))
        for args, into_existing in DD_RUNS:
            setup = {"out": existing} if into_existing else None
            argv = ["dd", f"if={p}"] + args
            cases.append(Case(label(f, d, argv), argv, setup=setup,
                              served=dd_reads_small(args, f["size"]),
                              stderr_filter=dd_noise))
        argv = ["dd", "bs=512", "skip=1", "count=20", "of=out"]
        cases.append(Case(label(f, d, argv, p), argv, stdin=p,
                          stderr_filter=dd_noise))
    # gzip compresses in 32 KiB reads and decompresses in 256 KiB ones:
    # both above the 16 KiB up to which requests count towards a mapping
    # (a mapping does not pay at that size), so neither is mapped; the
    # outputs must still be the native ones.
    big = extra_input(d, 4 * MIB + 3)
    gz = os.path.join(d.dir, big["name"] + ".gz")
    d.native(["gzip", "-c", big["path"]], out=gz)
    for argv, small_reads in ((["gzip", "-c", big["path"]], False),
                              (["gzip", "-dc", gz], False)):
        cases.append(Case(label(big, d, argv), argv, served=small_reads))
    return cases


def test_tools_coreutils(h):
    C.need("cat", "tac", "head", "tail", "cut", "sort", "uniq", "split",
           "od", "base64", "tr", "cmp", "diff")
    run_cases(h, coreutils_cases(Data(h)))


def test_tools_text(h):
    C.need("sed", "awk", "grep")
    run_cases(h, text_tool_cases(Data(h)))


def test_tools_archive(h):
    C.need("gzip", "tar", "cp", "dd")
    run_cases(h, archive_cases(Data(h)))


# ---- shells sharing an offset -------------------------------------------

# Each script gets the data file as $1 and an auxiliary file as $2. Every
# reader of the shared description comes after enough read builtins for the
# shell to have the file mapped (bash reads 4 KiB and seeks back per line,
# dash one byte at a time).
SH_GROUP = r"""
{
	read -r a; read -r b; read -r c; read -r d; read -r e; read -r f
	printf 'group read: %s | %s\n' "$a" "$f"
	head -c 100; echo
	read -r g; printf 'after head -c 100: %s\n' "$g"
	cat | cksum
} < "$1"
{ read -r a; read -r b; cat | cksum; } < "$1"
{ read -r a; read -r b; read -r c; read -r d; read -r e; cat | tail -c 300; } \
	< "$1"
"""

SH_SUBSHELL = r"""
(read -r a; read -r b; read -r c; read -r d; read -r e; read -r f
 printf 'subshell read: %s | %s\n' "$a" "$f"
 head -n 1; read -r g; printf 'after head -n 1: %s\n' "$g"; cat) < "$1" |
	tail -c 200
(head -n 1; cat) < "$1" | cksum
exec 0< "$1"
read -r a; read -r b; read -r c; read -r d; read -r e
(head -n 1; head -c 50; echo)
read -r f; printf 'top after the subshell: %s\n' "$f"
cat | cksum
"""

SH_FD3 = r"""
exec 3< "$1"
read -r x <&3; read -r y <&3; read -r z <&3; read -r w <&3; read -r v <&3
printf 'fd 3: %s | %s\n' "$x" "$v"
head -n 2 <&3
read -r u <&3; printf 'after head -n 2: %s\n' "$u"
dd bs=7 count=3 status=none <&3; echo
read -r t <&3; printf 'after dd: %s\n' "$t"
cat <&3 | cksum
exec 3<&-
"""

# Each loop opens the file anew (a fresh description) and spawns its first
# command only after a few lines, when the shell has mapped the file.
SH_LOOPS = r"""
n=0
while read -r line; do
	n=$((n + 1))
	if [ $((n % 8)) -eq 0 ]; then
		printf 'head -c 5 at %d: ' "$n"; head -c 5; echo
	elif [ "$n" -gt 8 ] && [ $((n % 8)) -eq 4 ]; then
		/bin/true
	fi
	printf '%d %s\n' "$n" "$line"
	[ "$n" -lt 200 ] || break
done < "$1"
n=0
while read -r line; do
	n=$((n + 1))
	if [ $((n % 10)) -eq 0 ]; then
		dd bs=3 count=1 status=none; echo " <- dd at $n"
	fi
	printf '%d %s\n' "$n" "$line"
	[ "$n" -lt 150 ] || break
done < "$1"
n=0
while read -r line; do
	n=$((n + 1))
	if [ $((n % 12)) -eq 0 ]; then
		printf 'head -n 1 at %d: ' "$n"; head -n 1
	fi
	printf '%d %s\n' "$n" "$line"
	[ "$n" -lt 120 ] || break
done < "$1"
n=0
while read -r line; do
	n=$((n + 1))
	case $n in *000) /bin/true; echo "true at $n: $line" ;; esac
done < "$1"
echo "whole file: $n lines"
"""

# xargs reads its input through stdio (which mmapread does not see), so the
# description is mapped in the shell that read the first lines; xargs and
# the commands it spawns go on from the shared offset. The dd readers it
# spawns read in one-byte pieces and are mapped in their own processes.
SH_XARGS = r"""
{
	read -r a; read -r b; read -r c; read -r d; read -r e; read -r f
	printf 'before xargs: %s | %s\n' "$a" "$f"
	xargs -E STOP -n 4 printf '<%s %s %s %s>\n'
	read -r g; printf 'after xargs -E STOP: %s\n' "$g"
	head -n 3
	xargs -a "$2" -n 1 sh -c 'read -r l; printf "%s: %s\n" "$1" "$l"' sh
	read -r h; printf 'after xargs -a: %s\n' "$h"
	cat | cksum
} < "$1"
xargs -a "$2" -I{} dd if="$1" bs=1 skip={} count=40 status=none | od -c
"""

# make reads makefiles through stdio, so the offsets are held by the shell
# around it (make's recipes read its stdin) and by the recipe shells, which
# redirect the file themselves. A recipe line ends with "exec true": dash
# leaves with _exit, which skips the report, but exec flushes it.
MAKEFILE = r"""
all: group loop readers stdin

group:
	@{ read -r a; read -r b; read -r c; read -r d; read -r e; read -r f; \
	  echo "group: $$a | $$f"; head -c 20; echo; \
	  read -r g; echo "after head -c 20: $$g"; } < $(F); exec true

loop:
	@n=0; while read -r l; do n=$$((n + 1)); \
	  if [ $$((n % 9)) -eq 0 ]; then head -c 4; echo; fi; \
	  echo "$$n $$l"; [ $$n -lt 60 ] || break; done < $(F); exec true

readers:
	@dd if=$(F) bs=1 skip=100 count=60 status=none; echo
	@dd if=$(F) bs=512 skip=3 count=30 status=none | cksum

stdin:
	@read -r x; echo "make's stdin: $$x"; head -n 2
"""

SH_MAKE = r"""
{
	read -r a; read -r b; read -r c; read -r d; read -r e; read -r f
	printf 'before make: %s | %s\n' "$a" "$f"
	make -s -f "$2" F="$1"
	read -r g; printf 'after make: %s\n' "$g"
	cat | cksum
} < "$1"
"""

SHELLS = ("bash", "dash")


def share_data(d):
    """Numbered lines, about 300 KiB (bash maps a file it reads 4 KiB at a
    time only when over 128 KiB remain), with a STOP line for xargs -E."""
    rnd = random.Random("mmapread-share")
    lines = []
    for i in range(1, 12001):
        if i == 45:
            lines.append("STOP\n")
        else:
            lines.append(f"line {i:05d} {rnd.choice(WORDS)} "
                         f"{rnd.randrange(100000)}\n")
    return d.write("share.txt", "".join(lines).encode())


def shell_case(shell, what, script, data, aux, holders):
    # The closing exec makes dash, which leaves with _exit, print its
    # report; under bash it changes nothing.
    return Case(f"{shell}: {what}",
                [shell, "-c", script + "exec true\n", shell, data, aux],
                holders=holders)


def test_share_sh(h):
    C.need(*SHELLS, "head", "cat", "cksum", "dd", "tail")
    d = Data(h)
    data = share_data(d)
    cases = []
    for shell in SHELLS:
        top = Holder("the shell", shell, top=True)
        cases += [
            shell_case(shell, "{ read; read; head -c; read; cat; } < F",
                       SH_GROUP, data, data,
                       [Holder("the shell", shell, top=True, min_mapped=2)]),
            shell_case(shell, "(read...; head -n 1; read; cat) < F, "
                       "(head -n 1; cat) < F, exec 0< F", SH_SUBSHELL,
                       data, data,
                       [Holder("the subshell and the shell", shell,
                               min_mapped=2), top]),
            shell_case(shell, "exec 3< F; read <&3; head, dd, cat <&3",
                       SH_FD3, data, data, [top]),
            shell_case(shell, "while read loops spawning head, dd, true",
                       SH_LOOPS, data, data,
                       [Holder("the shell", shell, top=True,
                               min_mapped=4)]),
        ]
    run_cases(h, cases)


def test_share_make_xargs(h):
    C.need(*SHELLS, "make", "xargs", "head", "cat", "cksum", "dd", "od")
    d = Data(h)
    data = share_data(d)
    numbers = d.write("numbers", b"".join(
        b"%d\n" % n for n in (0, 7, 100, 4095, 4096, 4097, 65536, 100000,
                              200000, 300000, 310000, 20, 21, 22)))
    makefile = d.write("Makefile", MAKEFILE.lstrip().encode())
    cases = []
    for shell in SHELLS:
        cases += [
            shell_case(shell, "{ read...; xargs -E STOP; read; "
                       "xargs -a LIST sh -c read; cat; } < F; "
                       "xargs spawning dd bs=1 readers", SH_XARGS,
                       data, numbers,
                       [Holder("the shell", shell, top=True),
                        Holder("dd spawned by xargs", "dd",
                               min_mapped=10)]),
            shell_case(shell, "{ read...; make; read; cat; } < F, "
                       "recipes reading F", SH_MAKE, data, makefile,
                       [Holder("the shell", shell, top=True),
                        Holder("make's recipe shells", "sh", min_mapped=2),
                        Holder("dd spawned by make", "dd",
                               min_mapped=2)]),
        ]
    run_cases(h, cases)


# ---- share_offsets.c ------------------------------------------------------

def test_share_c(h, program):
    program = os.path.abspath(program)
    d = Data(h)
    # The program's stdin is another file: the vfork case checks it.
    stdin = d.write("stdin.txt", text_bytes(4097, "stdin"))
    data = h.data(MIB + 3)
    run_cases(h, [Case(
        "share_offsets: fork turns, posix_spawnp, vfork, popen, system, "
        "fexecve, execveat", [program, data], stdin=stdin, checks=12,
        holders=[Holder("each image of the program", "share_offsets",
                        top=True, min_mapped=12, images=4)])])


def test_share_c_vfork_dup2(h, program):
    program = os.path.abspath(program)
    d = Data(h)
    stdin = d.write("stdin.txt", text_bytes(4097, "stdin"))
    data = h.data(MIB + 3)
    run_cases(h, [Case(
        "share_offsets --vfork-dup2: the parent's fd 0 after a vfork "
        "child's dup2", [program, "--vfork-dup2", data], stdin=stdin,
        checks=1, holders=[Holder("the program", "share_offsets", top=True,
                                  images=1)])])
