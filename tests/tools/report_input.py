#!/usr/bin/python3
"""tools-report-input: `mmapread report` on documents made to order.

What it checks, and why: a real run (tools-report-make) gives documents of
one shape; the merger must also be right on the shapes a real run rarely
gives, and must not let one bad file spoil a directory of good ones.
Documents are generated at random (fixed seed) in the JSON form of
report-format.md, schema version 1, with overlapping paths across
processes, several processes per program, a pid that ran two programs
(NAME.PID.json and a taken name's NAME.PID.json.1), traces, verify counts,
negative net savings, and path bytes escaped as the library writes them
(\\u00XX per byte: a control character, invalid UTF-8, valid UTF-8). The
expected totals are added up here, apart from the merger.

- Bad documents (not JSON, empty, not UTF-8, another schema, version 2,
  a missing field, a negative count, a string for a number) are each
  named in exactly one line on stderr; files not named *.json[.N] are
  ignored; the good ones are merged and the exit status is 0.
- The merged document (--json): every total, fallback, per-program row,
  the top N files (ordered by syscalls avoided, each the sum of its
  entries), other_files (the documents' own plus the entries past the
  top N), verify, and one "processes" row per document.
- The text: every line starts "mmapread: ", every program has its row,
  --top N lists N files, no control character reaches the terminal and
  escaped path bytes show as the characters (or \\xNN) they are.
- A directory of bad documents only: one line each, then exit 1.
"""

import json
import os
import random

import tools_common as T

SERVED = ("read", "pread", "readv", "lseek")
ADDED = ("mmap", "munmap", "fstat", "lseek", "signal", "readlink",
         "madvise")
SIZES = ("1-63", "64-511", "512-4095", "4096-65535", "65536+")
FALLBACKS = ("access_mode", "not_regular", "read_at_once", "wont_pay",
             "past_mapping", "shared")
PROGRAMS = ("make", "sh", "dd", "awk", "cc1")
# As the library writes paths: a byte that is not printable ASCII is
# \u00XX. ESC, an invalid byte (0xff) and "é" (UTF-8 c3 a9).
PATHS = ["/src/a.c", "/src/b.h", "/src/c.dat", "/usr/include/stdio.h",
         "/tmp/esc\u001b[31mred", "/tmp/bad\u00ffbyte",
         "/tmp/caf\u00c3\u00a9", "/src/d.txt"]


def counts(rnd, names, top, keep_zeros=True):
    out = {n: rnd.randrange(0, top) for n in names}
    return out if keep_zeros else {n: v for n, v in out.items() if v}


def document(rnd, program, pid, ended_by, top_n=4):
    served = counts(rnd, SERVED, 5000)
    added = counts(rnd, ADDED, 9)
    added = {"total": sum(added.values()), **added}
    avoided = sum(served.values())
    if rnd.random() < 0.3:
        # A process that paid more than it saved.
        served = dict.fromkeys(SERVED, 0)
        avoided = 0
    files = []
    for path in rnd.sample(PATHS, rnd.randrange(0, top_n + 1)):
        s = counts(rnd, SERVED, 3000)
        files.append({"path": path, "opens": rnd.randrange(1, 4),
                      "served": s, "syscalls_avoided": sum(s.values()),
                      "bytes_served": rnd.randrange(0, 1 << 30),
                      "sizes": counts(rnd, SIZES, 2000)})
    files.sort(key=lambda f: -f["syscalls_avoided"])
    doc = {
        "schema": "mmapread-report", "version": 1, "program": program,
        "pid": pid, "ppid": pid - 1, "ended_by": ended_by,
        "served": served, "syscalls_avoided": avoided,
        "syscalls_added": added,
        "syscalls_saved": avoided - added["total"],
        "bytes_served": rnd.randrange(0, 1 << 32),
        "files_mapped": rnd.randrange(0, 20),
        "bytes_mapped": rnd.randrange(0, 1 << 34),
        "page_faults": {"minor": rnd.randrange(0, 9999),
                        "major": rnd.randrange(0, 3)},
        "fallbacks": counts(rnd, FALLBACKS, 4, keep_zeros=False),
        "files": files,
        "other_files": {"files": rnd.randrange(0, 5),
                        "syscalls_avoided": rnd.randrange(0, 100),
                        "bytes_served": rnd.randrange(0, 9999)},
    }
    if rnd.random() < 0.5:
        # The same two call sites at other addresses in every process:
        # one in a named function, one known only by its object.
        doc["traces"] = [
            {"event": "map", "count": rnd.randrange(1, 5),
             "frames": [{"ip": hex(rnd.randrange(1 << 40)),
                         "function": "read_records", "offset": 42,
                         "object": "/bin/x"}]},
            {"event": "fallback:wont_pay", "count": rnd.randrange(1, 5),
             "frames": [{"ip": hex(rnd.randrange(1 << 40)),
                         "function": None, "offset": 4242,
                         "object": "/bin/x"}]}]
    if rnd.random() < 0.5:
        doc["verify"] = {"checked": rnd.randrange(0, 999),
                         "mismatches": 0}
    return doc


def write(directory, name, content):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(content if isinstance(content, bytes)
                else content.encode())


def bad_documents(rnd):
    """{name: bytes} of documents the merger must leave out."""
    good = document(rnd, "dd", 9000, "exit")
    missing = dict(good)
    del missing["served"]
    negative = json.loads(json.dumps(good))
    negative["files_mapped"] = -1
    as_text = json.loads(json.dumps(good))
    as_text["bytes_served"] = "12"
    return {
        "broken.1.json": b'{"schema": "mmapread-report", "version": 1,',
        "empty.2.json": b"",
        "latin1.3.json": json.dumps(good).replace(
            '"dd"', '"d\u00e9"').encode("latin-1"),
        "other.4.json": json.dumps({**good, "schema": "x"}).encode(),
        "future.5.json": json.dumps({**good, "version": 2}).encode(),
        "missing.6.json": json.dumps(missing).encode(),
        "negative.7.json": json.dumps(negative).encode(),
        "string.8.json.1": json.dumps(as_text).encode(),
    }


def expected_files(docs, top):
    merged = {}
    for d in docs:
        for f in d["files"]:
            merged.setdefault(f["path"], []).append(f)
    rows = []
    for path in merged:
        row = T.file_sums(docs, path)
        row["path"] = path
        rows.append(row)
    rows.sort(key=lambda r: (-r["syscalls_avoided"], -r["bytes_served"],
                             r["path"]))
    other = {"files": 0, "syscalls_avoided": 0, "bytes_served": 0}
    for d in docs:
        T.add(other, d["other_files"])
    for r in rows[top:]:
        T.add(other, {"files": r["processes"],
                      "syscalls_avoided": r["syscalls_avoided"],
                      "bytes_served": r["bytes_served"]})
    return rows[:top], other


def nonzero(d):
    return {k: v for k, v in d.items() if v}


def body(c, tmp):
    rnd = random.Random(55)
    directory = os.path.join(tmp, "stats")
    os.mkdir(directory)
    docs, pid = {}, 1000
    for i in range(24):
        program = PROGRAMS[i % len(PROGRAMS)]
        pid += rnd.randrange(1, 40)
        docs[f"{program}.{pid}.json"] = document(rnd, program, pid, "exit")
    # One pid, three images: a forked make that ran sh, which ran sh.
    docs[f"make.{pid + 1}.json"] = document(rnd, "make", pid + 1, "exec")
    docs[f"sh.{pid + 1}.json"] = document(rnd, "sh", pid + 1, "exec")
    docs[f"sh.{pid + 1}.json.1"] = document(rnd, "sh", pid + 1, "_exit")
    for name, doc in docs.items():
        write(directory, name, json.dumps(doc, indent=rnd.choice([None, 1])))
    bad = bad_documents(rnd)
    for name, content in bad.items():
        write(directory, name, content)
    write(directory, "notes.txt", "not a report")
    os.mkdir(os.path.join(directory, "sub.json"))
    good = list(docs.values())
    top = 5

    run = T.launcher("report", directory, "--json", "--top", str(top),
                     lib=False)
    lines = run.stderr.splitlines()
    c.check(run.returncode == 0, "good and bad documents: exit 0",
            f"exit {run.returncode}\n{run.stderr}")
    for name in bad:
        mine = [line for line in lines if f"/{name}:" in line]
        c.check(len(mine) == 1 and mine[0].startswith("mmapread: "),
                f"{name}: one line on stderr", "\n".join(lines))
    c.check(len(lines) == len(bad), "nothing else on stderr (notes.txt "
            "and the directory sub.json ignored)", "\n".join(lines))
    merged = json.loads(run.stdout) if run.returncode == 0 else {}

    want = T.sums(good)
    for key, value in want.items():
        got = merged.get(key)
        if isinstance(value, dict):
            got, value = nonzero(got or {}), nonzero(value)
        c.check(got == value, f"merged {key} is the sum of the good "
                f"documents", f"merged {got}\nsum    {value}")
    programs = {}
    for d in good:
        p = programs.setdefault(d["program"], {
            "program": d["program"], "processes": 0,
            "syscalls_avoided": 0, "syscalls_added": 0,
            "syscalls_saved": 0, "bytes_served": 0, "files_mapped": 0})
        p["processes"] += 1
        p["syscalls_avoided"] += d["syscalls_avoided"]
        p["syscalls_added"] += d["syscalls_added"]["total"]
        p["syscalls_saved"] += d["syscalls_saved"]
        p["bytes_served"] += d["bytes_served"]
        p["files_mapped"] += d["files_mapped"]
    got = {p["program"]: p for p in merged.get("programs", [])}
    c.check(got == programs, "merged per-program rows",
            f"merged {got}\nwant   {programs}")
    saved = [p["syscalls_saved"] for p in merged.get("programs", [])]
    c.check(saved == sorted(saved, reverse=True),
            "programs ordered by net syscalls saved", saved)

    top_rows, other = expected_files(good, top)
    got = merged.get("files", [])
    for row in got:
        row["served"], row["sizes"] = (nonzero(row["served"]),
                                       nonzero(row["sizes"]))
    for row in top_rows:
        row["served"], row["sizes"] = (nonzero(row["served"]),
                                       nonzero(row["sizes"]))
    c.check(got == top_rows, f"merged files: the top {top}, each the sum "
            f"of its entries",
            "\n".join(f"merged {g}\nwant   {w}"
                      for g, w in zip(got, top_rows)))
    c.check(merged.get("other_files") == other,
            "merged other_files: the documents' own plus the entries "
            "past the top N", f"merged {merged.get('other_files')}\n"
            f"want   {other}")
    verify = {"checked": 0, "mismatches": 0}
    for d in good:
        T.add(verify, d.get("verify", {}))
    c.check(merged.get("verify") == verify, "merged verify counts")
    traces = {}
    for d in good:
        for t in d.get("traces", []):
            traces[t["event"]] = traces.get(t["event"], 0) + t["count"]
    c.check({t["event"]: t["count"] for t in merged.get("traces", [])} ==
            traces and len(merged["traces"]) == len(traces),
            "traces of one call site in different processes (other "
            "addresses) merge into one", f"{merged.get('traces')}\n"
            f"want {traces}")
    rows = sorted((p["document"], p["pid"], p["program"], p["ended_by"])
                  for p in merged.get("processes", []))
    want_rows = sorted((n, d["pid"], d["program"], d["ended_by"])
                       for n, d in docs.items())
    c.check(rows == want_rows, "one processes row per good document")

    run = T.launcher("report", directory, "--top=3", lib=False)
    out = run.stdout.splitlines()
    c.check(run.returncode == 0 and out and
            all(line.startswith("mmapread: ") for line in out),
            "text: exit 0, every line starts 'mmapread: '", run.stdout)
    table = [row.split()[0] for row in T.text_section(out, "per program")]
    c.check(sorted(table[1:]) == sorted(programs),
            "text: one per-program row per program", table)
    sites = T.text_section(out, "call sites")
    c.check(any(row.endswith(" map  at read_records+0x2a (x)")
                for row in sites) and
            any(row.endswith(" fallback:wont_pay  at x+0x1092")
                for row in sites),
            "text: call sites by function+offset, or object+offset",
            "\n".join(sites))
    files = [row for row in T.text_section(out, "top ")
             if not row.startswith("and ")]
    c.check(len(files) == 4, "text: --top=3 lists a header and 3 files",
            "\n".join(files))
    c.check(not any(ch < " " and ch != "\n" for ch in run.stdout),
            "text: no control character in the output")
    run = T.launcher("report", directory, "--top", "100", lib=False)
    shown = "\n".join(T.text_section(run.stdout.splitlines(), "top "))
    for path, text in (("/tmp/esc\u001b[31mred", "/tmp/esc\\x1b[31mred"),
                       ("/tmp/bad\u00ffbyte", "/tmp/bad\\xffbyte"),
                       ("/tmp/caf\u00c3\u00a9", "/tmp/caf\u00e9")):
        if any(f["path"] == path for d in good for f in d["files"]):
            c.check(shown.count(text) == 1, f"text: {text} shown as such",
                    shown)

    only_bad = os.path.join(tmp, "bad")
    os.mkdir(only_bad)
    for name, content in bad.items():
        write(only_bad, name, content)
    run = T.launcher("report", only_bad, lib=False)
    lines = run.stderr.splitlines()
    c.check(run.returncode == 1 and not run.stdout and
            len(lines) == len(bad) + 1 and
            all(line.startswith("mmapread: ") for line in lines),
            "bad documents only: one line each, one to say so, exit 1",
            f"exit {run.returncode}\n{run.stderr}")


if __name__ == "__main__":
    T.main("report-input", body)
