#!/usr/bin/python3
"""tools-report-make: `mmapread report` on the documents of a real make -j2.

What it checks, and why: `mmapread --stats-dir D -- make -j2` must leave one
JSON document per process image of the whole tree (make, the children it
forks or spawns, the shells, the programs they run, the subshells of a
pipeline), and `mmapread report D` must add them up without losing or
double-counting any. The Makefile's recipes run small readers in parallel:
dd bs=64 of generated files (one into a pipe to cat), awk, a shell
`while read` loop, cmp, and env failing to execute a missing program (an
image whose exec fails goes on, and ends by exit); make and sh run them
through vfork, posix_spawn and fork in ways no hand-written document
would imitate.

- Which process images there were is learned independently, from
  strace -ff (every execve with the library in LD_PRELOAD starts an image
  named after argv[0]; a fork child continues its parent's image until it
  execs; a vfork/CLONE_VM child has none until it execs). Each must have
  exactly one document with its pid, program, ppid and "exec" or
  "exit"/"_exit" ending, and no document may be left over.
- Every document must keep the contract's arithmetic (syscalls_avoided is
  the sum of "served", syscalls_saved is avoided minus added).
- The merged totals (report --json) must equal the sums over the
  documents, field by field; the per-program table (text) must list every
  program; the top files must show the generated files mmapread served,
  with their counts and size histograms summed over processes.
- The build's outputs must equal those of a native make -j2.

Skips (77) when the library does not write JSON reports, when strace
cannot trace here, or when make, dd, awk, cat, cmp or env is missing.
"""

import json
import os
import random
import re
import shutil
import subprocess

import tools_common as T

STRACE = "/usr/bin/strace"
MAKEFILE = """\
all: out1 out2 out3 out4 out5 out6

out1: data1
\tdd if=data1 of=$@ bs=64 2>/dev/null
out2: data2
\tdd if=data2 bs=64 2>/dev/null | cat > $@
out3: data3
\tawk '{ n += length($$0) } END { print NR, n }' data3 > $@
out4: data4
\tn=0; while read -r line; do n=$$((n + 1)); done < data4; echo $$n > $@
out5: out1 out2
\tcmp -s out1 data1 && cmp -s out2 data2 && echo same > $@
out6:
\tenv no-such-tool-mmapread 2>/dev/null; echo $$? > $@
"""
OUTPUTS = ("out1", "out2", "out3", "out4", "out5", "out6")
# Programs the Makefile makes sure to run under the library.
EXPECTED_PROGRAMS = {"make", "sh", "dd", "cat", "awk", "cmp", "env"}
# Files read in small pieces long enough to be mapped at the default
# MMAPREAD_MAP_AFTER: dd bs=64 and the shell's byte-at-a-time `read`.
MUST_SERVE = ("data1", "data2", "data4")

EXECVE = re.compile(r'^execve\("(?:[^"\\]|\\.)*", \["((?:[^"\\]|\\.)*)"')
RESULT = re.compile(r"\) += (-?\d+)(?: .*)?$")
PRELOAD_VAR = re.compile(r'"LD_PRELOAD=((?:[^"\\]|\\.)*)"')


def make_data(work):
    rnd = random.Random(5)
    with open(os.path.join(work, "Makefile"), "w") as f:
        f.write(MAKEFILE)
    for name, size in (("data1", 256 * 1024), ("data2", 200 * 1024)):
        with open(os.path.join(work, name), "wb") as f:
            f.write(rnd.randbytes(size))
    for name, lines in (("data3", 6000), ("data4", 600)):
        with open(os.path.join(work, name), "w") as f:
            for i in range(lines):
                f.write(f"{i} {'x' * rnd.randrange(0, 60)}\n")


def strace_usable(tmp):
    if not os.access(STRACE, os.X_OK):
        raise T.Skip(f"{STRACE} is missing (scripts/bootstrap installs it)")
    probe = subprocess.run([STRACE, "-f", "-qq", "-e", "trace=execve",
                            "-o", os.path.join(tmp, "probe"), "/bin/true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise T.Skip(f"strace cannot trace here: {probe.stderr.strip()}")
    seccomp = subprocess.run([STRACE, "-f", "--seccomp-bpf", "-qq", "-e",
                              "trace=execve", "-o",
                              os.path.join(tmp, "probe"), "/bin/true"],
                             capture_output=True)
    # Without it every syscall of the traced tree stops for strace.
    return ["--seccomp-bpf"] if seccomp.returncode == 0 else []


def json_supported(tmp):
    run = T.launcher("--json", "--", "/bin/true", cwd=tmp)
    try:
        doc = json.loads(run.stderr)
        return doc.get("schema") == "mmapread-report"
    except json.JSONDecodeError:
        return False


def expected_images(log_prefix, library):
    """From strace -ff -o PREFIX: [(pid, ppid or None, program, ended)],
    ended "exec" or "exit", for every image that ran with the library."""
    events, children = {}, {}
    directory, base = os.path.split(log_prefix)
    for name in os.listdir(directory):
        if not name.startswith(base + "."):
            continue
        pid = int(name[len(base) + 1:])
        events[pid] = []
        with open(os.path.join(directory, name), errors="replace") as f:
            for line in f:
                result = RESULT.search(line)
                if not result:
                    continue
                ret = int(result.group(1))
                if line.startswith("execve("):
                    if ret != 0:
                        continue
                    argv0 = EXECVE.match(line).group(1)
                    preload = PRELOAD_VAR.search(line)
                    preloaded = bool(preload) and library in \
                        preload.group(1).split(":")
                    events[pid].append(("exec", os.path.basename(argv0),
                                        preloaded))
                elif re.match(r"(clone3?|fork|vfork)\(", line) and ret > 0:
                    shares_vm = (line.startswith("vfork(") or
                                 "CLONE_VM" in line)
                    thread = "CLONE_THREAD" in line
                    if not thread:
                        events[pid].append(("child", ret, shares_vm))
                        children[ret] = pid
    roots = [pid for pid in events if pid not in children]
    if len(roots) != 1:
        raise T.Failed(f"strace logs: expected one root process, "
                       f"found {roots}")

    images = []

    def walk(pid, image):
        # image: the program name of a preloaded image, or None.
        for event in events.get(pid, []):
            if event[0] == "child":
                _, child, shares_vm = event
                walk(child, None if shares_vm else image)
            else:
                _, program, preloaded = event
                if image is not None:
                    images.append((pid, children.get(pid), image, "exec"))
                image = program if preloaded else None
        if image is not None:
            images.append((pid, children.get(pid), image, "exit"))

    walk(roots[0], None)
    return images


def read_documents(directory):
    docs = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            raw = f.read()
        try:
            docs[name] = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise T.Failed(f"{name} is not a JSON document ({e}): "
                           f"{raw[:200]!r}")
    return docs


def body(c, tmp):
    _, library = T.preload_paths()
    for tool in ("make", "dd", "awk", "cat", "cmp", "env"):
        if not shutil.which(tool):
            raise T.Skip(f"{tool} is not installed")
    if not json_supported(tmp):
        raise T.Skip("the library writes no JSON report "
                     "(MMAPREAD_STATS_FORMAT=json) yet")
    strace_opts = strace_usable(tmp)

    native, preloaded = (os.path.join(tmp, n) for n in ("native", "pre"))
    os.mkdir(native)
    make_data(native)
    shutil.copytree(native, preloaded)
    run = subprocess.run(["make", "-s", "-j2"], cwd=native,
                         env=T.base_env(for_launcher=False),
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        raise T.Failed(f"native make -j2 failed: {run.stderr}")

    stats = os.path.join(tmp, "stats")
    log = os.path.join(tmp, "trace", "log")
    os.mkdir(os.path.dirname(log))
    run = subprocess.run(
        [STRACE, "-ff", "-qq", "-v", "-s", "4096", *strace_opts,
         "-e", "trace=execve,clone,clone3,fork,vfork", "-e", "signal=none",
         "-o", log, T.LAUNCHER, "--lib", library, "--stats-dir", stats, "--",
         "make", "-s", "-j2"],
        cwd=preloaded, env=T.base_env(), capture_output=True, text=True,
        timeout=300)
    c.check(run.returncode == 0, "make -j2 under mmapread --stats-dir "
            "succeeds", run.stderr)
    for name in OUTPUTS:
        with open(os.path.join(native, name), "rb") as f:
            want = f.read()
        path = os.path.join(preloaded, name)
        got = open(path, "rb").read() if os.path.exists(path) else None
        c.check(got == want, f"{name} is the same as natively")

    # ---- one document per process image ----------------------------
    images = expected_images(log, library)
    docs = read_documents(stats)
    print(f"({len(images)} process images ran with the library, "
          f"{len(docs)} documents in {stats})")
    by_key = {}
    for name, d in docs.items():
        ended = "exec" if d.get("ended_by") == "exec" else "exit"
        by_key.setdefault((d.get("pid"), d.get("program"), ended),
                          []).append((name, d))
    for pid, ppid, program, ended in images:
        found = by_key.pop((pid, program, ended), [])
        c.check(len(found) == 1,
                f"image {program} (pid {pid}, ended by {ended}) has one "
                f"document", f"found {[n for n, _ in found]}")
        if len(found) == 1 and ppid is not None:
            c.check(found[0][1].get("ppid") == ppid,
                    f"{found[0][0]}: ppid is {ppid}",
                    f"ppid {found[0][1].get('ppid')}")
    c.check(not by_key, "no document without a process image",
            "\n".join(f"{n}: pid {d.get('pid')}, {d.get('program')}, "
                      f"ended_by {d.get('ended_by')}"
                      for found in by_key.values() for n, d in found))
    wanted = ", ".join(sorted(EXPECTED_PROGRAMS))
    c.check(EXPECTED_PROGRAMS <= {d["program"] for d in docs.values()},
            f"documents from every program ({wanted})",
            f"programs: {sorted({d['program'] for d in docs.values()})}")

    for name, d in docs.items():
        c.check(d["syscalls_avoided"] == sum(d["served"].values()) and
                d["syscalls_saved"] == d["syscalls_avoided"] -
                d["syscalls_added"]["total"],
                f"{name}: avoided = sum of served, saved = avoided - added",
                json.dumps({k: d[k] for k in ("served", "syscalls_avoided",
                                              "syscalls_added",
                                              "syscalls_saved")}))

    # ---- the merged report -----------------------------------------
    run = T.launcher("report", stats, "--json", lib=False)
    c.check(run.returncode == 0 and not run.stderr,
            "mmapread report --json: exit 0, nothing on stderr",
            f"exit {run.returncode}\n{run.stderr}")
    merged = json.loads(run.stdout)
    want = T.sums(list(docs.values()))
    for key, value in want.items():
        got = merged.get(key)
        if isinstance(value, dict):
            # Zeros the merger lists (the contract's names) are no
            # difference.
            got = {k: n for k, n in (got or {}).items() if n}
            value = {k: n for k, n in value.items() if n}
        c.check(got == value, f"merged {key} is the sum over the "
                f"documents", f"merged {got}\nsum    {value}")
    by_program = {}
    for d in docs.values():
        by_program[d["program"]] = by_program.get(d["program"], 0) + 1
    c.check({p["program"]: p["processes"] for p in merged["programs"]} ==
            by_program, "merged per-program process counts",
            f"{merged['programs']}\nwant {by_program}")

    run = T.launcher("report", stats, lib=False)
    lines = run.stdout.splitlines()
    c.check(run.returncode == 0 and lines and
            all(line.startswith("mmapread: ") for line in lines),
            "mmapread report: exit 0, every line starts 'mmapread: '",
            run.stdout + run.stderr)
    programs = [row.split()[0] for row in T.text_section(lines,
                                                       "per program")[1:]]
    c.check(sorted(programs) == sorted(by_program),
            "the per-program table lists every program once",
            f"table: {programs}\ndocuments: {sorted(by_program)}")

    top = T.text_section(lines, "top ")
    served = {}
    for d in docs.values():
        for entry in d["files"]:
            if entry["syscalls_avoided"]:
                served.setdefault(entry["path"], 0)
                served[entry["path"]] += entry["syscalls_avoided"]
    for name in MUST_SERVE:
        path = os.path.join(os.path.realpath(preloaded), name)
        c.check(path in served, f"some document shows {name} served "
                f"(else this test proves nothing)", sorted(served))
    for path in sorted(served)[:10]:
        if not path.startswith(os.path.realpath(preloaded) + "/"):
            continue
        c.check(any(row.endswith("  " + path) for row in top),
                f"top files list {os.path.basename(path)}",
                "\n".join(top))
        entry = [f for f in merged["files"] if f["path"] == path]
        want = T.file_sums(list(docs.values()), path)
        got = {k: entry[0][k] for k in want} if entry else None
        if got:
            for key in ("served", "sizes"):
                got[key] = {k: n for k, n in got[key].items() if n}
                want[key] = {k: n for k, n in want[key].items() if n}
        c.check(got == want, f"merged entry of {os.path.basename(path)} "
                f"sums its documents' entries",
                f"merged {got}\nsum    {want}")


if __name__ == "__main__":
    T.main("report-make", body)
