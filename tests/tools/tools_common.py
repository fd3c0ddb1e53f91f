"""What the tools tests share: where the launcher is, how to run it against
the built library, and how a test reports.

The launcher under test is scripts/mmapread of the source tree (the one a
checkout runs; MMAPREAD_TOOLS_LAUNCHER names another, e.g. an installed
one), always with --lib, so that it never starts a build of its own.
MMAPREAD_LIB comes from meson (tests/meson.build's preload_env): the
library, or in a sanitized build "shim:runtime:library"; everything before
the library goes first in LD_PRELOAD, where the launcher keeps it.
MMAPREAD_TOOLS_KEEP=1 keeps the temporary directory.
"""

import os
import subprocess
import sys
import tempfile
import time

SKIP = 77
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# MMAPREAD_TOOLS_LAUNCHER: test another launcher (an installed one).
LAUNCHER = os.environ.get("MMAPREAD_TOOLS_LAUNCHER") or os.path.join(
    SOURCE_ROOT, "scripts", "mmapread")
README = os.path.join(SOURCE_ROOT, "README.md")
MAN_PAGE = os.path.join(SOURCE_ROOT, "doc", "mmapread.1")


class Skip(Exception):
    pass


class Failed(Exception):
    pass


def preload_paths():
    """(LD_PRELOAD prefix or "", the library's absolute path)."""
    preload = os.environ.get("MMAPREAD_LIB", "")
    if not preload:
        raise SystemExit("MMAPREAD_LIB is not set")
    paths = [os.path.abspath(p) for p in preload.split(":")]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        # A wrong path must fail loudly, never look like a pass.
        raise SystemExit(f"MMAPREAD_LIB: {missing[0]} does not exist")
    return ":".join(paths[:-1]), paths[-1]


def base_env(for_launcher=True):
    """The environment without any MMAPREAD_* or LD_PRELOAD of the caller;
    for the launcher, with the sanitizer runtime (if any) in LD_PRELOAD,
    where the launcher appends the library; for a native run, without."""
    prefix, _ = preload_paths()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MMAPREAD_") and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    if prefix and for_launcher:
        env["LD_PRELOAD"] = prefix
    return env


def launcher(*args, env=None, cwd=None, lib=True, timeout=120):
    """scripts/mmapread [--lib LIB] ARGS: a CompletedProcess with text."""
    _, library = preload_paths()
    argv = [LAUNCHER] + (["--lib", library] if lib else []) + list(args)
    return subprocess.run(argv, env=env if env is not None else base_env(),
                          cwd=cwd, capture_output=True, text=True,
                          errors="replace", timeout=timeout)


def one_line(text):
    lines = text.splitlines()
    return lines[0] if len(lines) == 1 else None


def add(total, counts):
    for key, n in counts.items():
        total[key] = total.get(key, 0) + n


def sums(docs):
    """The totals every merged report must show, computed here apart."""
    s = {"documents": len(docs), "served": {}, "syscalls_added": {},
         "page_faults": {}, "fallbacks": {}}
    for key in ("syscalls_avoided", "syscalls_saved", "bytes_served",
                "files_mapped", "bytes_mapped"):
        s[key] = sum(d[key] for d in docs)
    for d in docs:
        for key in ("served", "syscalls_added", "page_faults",
                    "fallbacks"):
            add(s[key], d[key])
    return s


def file_sums(docs, path):
    f = {"processes": 0, "opens": 0, "syscalls_avoided": 0,
         "bytes_served": 0, "served": {}, "sizes": {}}
    for d in docs:
        for entry in d["files"]:
            if entry["path"] != path:
                continue
            f["processes"] += 1
            for key in ("opens", "syscalls_avoided", "bytes_served"):
                f[key] += entry[key]
            add(f["served"], entry["served"])
            add(f["sizes"], entry["sizes"])
    return f


def text_section(lines, title_start):
    """The indented lines under the header line starting title_start."""
    out, inside = [], False
    for line in lines:
        if line.startswith("mmapread: " + title_start):
            inside = True
        elif inside and line.startswith("mmapread:   "):
            out.append(line[len("mmapread:   "):])
        elif inside:
            break
    return out


class Checks:
    """Collects failures so one run shows all of them."""

    def __init__(self):
        self.failures = []
        self.passes = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passes += 1
            print(f"ok    {what}")
        else:
            self.failures.append(what)
            print(f"FAIL  {what}")
            for line in str(detail).splitlines():
                print(f"      {line}")
        return ok


def main(name, body):
    """Run body(checks, tmpdir); exit 0, 1 (a check failed) or 77."""
    checks = Checks()
    start = time.monotonic()
    keep = os.environ.get("MMAPREAD_TOOLS_KEEP") == "1"
    tmp = tempfile.mkdtemp(prefix=f"mmapread-tools-{name}-")
    try:
        body(checks, tmp)
        status = 1 if checks.failures else 0
        print(f"{name}: {checks.passes} passed, "
              f"{len(checks.failures)} failed")
    except Skip as e:
        print(f"SKIP: {e}")
        status = SKIP
    except Failed as e:
        print(f"FAIL: {e}")
        status = 1
    finally:
        if keep:
            print(f"(kept {tmp})")
        else:
            subprocess.run(["rm", "-rf", tmp])
    print(f"({time.monotonic() - start:.1f} s)")
    sys.exit(status)
