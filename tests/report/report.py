#!/usr/bin/python3
"""Tests of mmapread's report (issue 5), on real programs.

schema: the JSON documents the library writes (MMAPREAD_STATS_FORMAT=json)
    for dd, python3, mixed_reader.c (read, pread, readv, lseek), fallbacks.c
    (a FIFO, /proc, a truncated file, _exit) and sh -c 'dd; exec dd',
    validated against doc/report.schema.json (whose fallback names must be
    the library's mmapread_fallback_name() list) and checked for what a schema
    cannot say: syscalls_avoided is the sum of "served", syscalls_saved is
    syscalls_avoided - syscalls_added.total, syscalls_added.total is the sum
    of its parts, "files" plus other_files add up to the totals, each
    file's size histogram adds up to its served read+pread+readv, "files"
    is sorted and as long as MMAPREAD_TOP says, paths are the files' own
    (with the contract's escapes), "verify" is there only with
    MMAPREAD_VERIFY=1, and INCLUDE/EXCLUDE/MIN_SIZE show up as the
    fallbacks they cause; with MMAPREAD_STATS=1 and no file the document
    is one line of stderr. Every program's output must be as native. The
    checker also proves, on damaged copies of a real document, that it
    rejects each kind of damage.

strace: issue 5's acceptance. Each program runs under strace -f -c, once
    natively and once preloaded (the report in files, JSON); the change in
    each family of system calls, less what merely loading the library
    changes (the same runs of /bin/true, or of a shell starting two
    /bin/true's for the process tree), must be what the reports say:
    read/pread64/readv/preadv* fall by the served reads, lseek changes by
    the library's own lseeks minus the served ones, mmap, munmap,
    fstat/newfstatat/statfs/fstatfs, rt_sigaction/rt_sigprocmask,
    readlink and madvise rise by what syscalls_added says of each; and in
    sum syscalls_avoided, syscalls_added and syscalls_saved agree with
    strace within 1% (SLACK below for small counts). Programs: dd bs=512
    and bs=4096 on 64 MiB, mixed_reader, sqlite3 -readonly (when
    installed) and sh -c 'dd ...; dd ...'. (tests/integration's
    integ-strace checks the text report's net total; this checks each
    family, from the JSON report.)

config: every option in preload/config.c's table, given bad values of its
    type, run with mixed_reader, dd and python3: exactly one line on stderr
    naming the variable and what was expected, the program's stdout and
    exit status as native, and the default kept, shown by behaviour: the
    run's report (where it goes, its format and contents, pids and page
    faults aside) is the same as with the variable unset; a good
    non-default value must change it (for mixed_reader at least), or the
    comparison could not tell. An empty value means unset: no line at all.

validate: check report documents by hand (schema and sums), e.g. a
    corrupted copy: report.py validate doc/report.schema.json FILE...

    MMAPREAD_LIB=build/preload/libmmapread.so report.py TEST ARGS...

The harness is tests/integration/compare.py's (data, runs, comparisons,
MMAPREAD_INTEG_PRELOAD_ENV, MMAPREAD_INTEG_KEEP). Exit status: 0 pass,
1 fail, 77 skip.
"""

import codecs
import itertools
import json
import os
import random
import re
import resource
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import compare as C  # noqa: E402

KIB = C.KIB
MIB = C.MIB
BIG = C.BIG
TRUE = "/bin/true"
DEFAULT_TOP = 10

# ---- documents --------------------------------------------------------------


def _bytes_as_chars(err):
    """The contract's escape, undone: each bad byte is U+00XX."""
    bad = err.object[err.start:err.end]
    return "".join(chr(b) for b in bad), err.end


codecs.register_error("mmapread-bytes", _bytes_as_chars)


def contract_path(path):
    """What a JSON parser must give for path (bytes): valid UTF-8 as is,
    every other byte as the character \\u00XX names."""
    return os.fsencode(path).decode("utf-8", "mmapread-bytes")


def load_validator(path):
    try:
        import jsonschema
    except ImportError:
        raise C.Skip("python3-jsonschema is not installed "
                     "(scripts/bootstrap installs it)")
    with open(path) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"duplicate keys {dup}")
    return dict(pairs)


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def parse_document(raw):
    """(document, problems) for the bytes of one report: ONE document,
    strict UTF-8, no duplicate keys, no NaN."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [f"not UTF-8: {e}"]
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates,
                         parse_constant=_no_constants)
    except ValueError as e:
        return None, [f"not one JSON document: {e}"]
    return doc, []


def schema_problems(doc, validator):
    errors = sorted(validator.iter_errors(doc),
                    key=lambda e: [str(p) for p in e.absolute_path])
    return [f"schema: /{'/'.join(str(p) for p in e.absolute_path)}: "
            f"{e.message[:300]}" for e in errors]


def sum_problems(doc, top=DEFAULT_TOP):
    """What the schema cannot say: the sums and the order."""
    p = []
    served = doc["served"]
    added = doc["syscalls_added"]
    files = doc["files"]
    other = doc["other_files"]

    def need(cond, text):
        if not cond:
            p.append(text)

    avoided = sum(served.values())
    need(doc["syscalls_avoided"] == avoided,
         f"syscalls_avoided {doc['syscalls_avoided']} != sum of served "
         f"{avoided}")
    parts = sum(v for k, v in added.items() if k != "total")
    need(added["total"] == parts,
         f"syscalls_added.total {added['total']} != sum of its parts "
         f"{parts}")
    need(doc["syscalls_saved"] == doc["syscalls_avoided"] - added["total"],
         f"syscalls_saved {doc['syscalls_saved']} != syscalls_avoided "
         f"{doc['syscalls_avoided']} - syscalls_added.total "
         f"{added['total']}")
    for key in ("syscalls_avoided", "bytes_served"):
        listed = sum(f[key] for f in files)
        need(listed + other[key] == doc[key],
             f"{key}: files {listed} + other_files {other[key]} != "
             f"total {doc[key]}")
    for f in files:
        name = f["path"][-60:]
        fs = f["served"]
        need(f["syscalls_avoided"] == sum(fs.values()),
             f"file {name}: syscalls_avoided {f['syscalls_avoided']} != "
             f"sum of its served {sum(fs.values())}")
        calls = fs["read"] + fs["pread"] + fs["readv"]
        need(sum(f["sizes"].values()) == calls,
             f"file {name}: sizes add up to {sum(f['sizes'].values())}, "
             f"served read+pread+readv = {calls}")
        need(calls > 0 or f["bytes_served"] == 0,
             f"file {name}: {f['bytes_served']} bytes served by no read")
    paths = [f["path"] for f in files]
    need(len(set(paths)) == len(paths), f"a path listed twice: {paths}")
    order = [f["syscalls_avoided"] for f in files]
    need(order == sorted(order, reverse=True),
         f"files not sorted by syscalls_avoided: {order}")
    need(len(files) <= top, f"{len(files)} files listed, MMAPREAD_TOP "
         f"is {top}")
    need(other["files"] == 0 or len(files) == top,
         f"other_files.files {other['files']} while only {len(files)} "
         f"of MMAPREAD_TOP={top} are listed")
    need(other["files"] > 0 or (other["syscalls_avoided"] == 0 and
                                other["bytes_served"] == 0),
         f"other_files counts calls of no file: {other}")
    reads = served["read"] + served["pread"] + served["readv"]
    need(reads > 0 or doc["bytes_served"] == 0,
         f"bytes_served {doc['bytes_served']} by no served read")
    need(doc["files_mapped"] > 0 or avoided == 0,
         f"{avoided} calls served with no file mapped")
    need((doc["files_mapped"] == 0) == (doc["bytes_mapped"] == 0),
         f"files_mapped {doc['files_mapped']}, bytes_mapped "
         f"{doc['bytes_mapped']}")
    need(added["mmap"] >= doc["files_mapped"],
         f"{doc['files_mapped']} files mapped with {added['mmap']} mmap "
         f"calls")
    return p


def document_problems(doc, validator, top=DEFAULT_TOP):
    problems = schema_problems(doc, validator)
    if problems:
        # The sums would trip over the same damage.
        return problems
    return sum_problems(doc, top)


# ---- running with reports ---------------------------------------------------

def report_dir(h, tag):
    return tempfile.mkdtemp(dir=h.tmp, prefix=f"reports-{tag}-")


def read_reports(rdir):
    """[(file name, bytes)] of every report file in rdir, by name."""
    reports = []
    for name in sorted(os.listdir(rdir)):
        with open(os.path.join(rdir, name), "rb") as f:
            reports.append((name, f.read()))
    return reports


def json_env(rdir, extra=None):
    env = {"MMAPREAD_STATS_FILE": os.path.join(rdir, "%e.%p.json"),
           "MMAPREAD_STATS_FORMAT": "json"}
    env.update(extra or {})
    return env


def env_top(env):
    value = (env or {}).get("MMAPREAD_TOP")
    return int(value) if value else DEFAULT_TOP


def checked_documents(h, label, validator, rdir, env):
    """Parse and check every report in rdir; returns [(name, doc)] of
    those the schema accepts (their sums may be wrong: that failed here
    already, and the caller's own checks still say what they can)."""
    docs = []
    reports = read_reports(rdir)
    h.check(f"{label}: report files written", len(reports) > 0,
            f"{len(reports)}: {' '.join(n for n, _ in reports)[:200]}",
            f"no report file in {rdir}")
    top = env_top(env)
    verify = (env or {}).get("MMAPREAD_VERIFY", "0").lower() in (
        "1", "yes", "on", "true")
    for name, raw in reports:
        doc, problems = parse_document(raw)
        if doc is not None:
            problems = document_problems(doc, validator, top)
            if not problems and ("verify" in doc) != verify:
                problems.append(
                    f"\"verify\" {'missing' if verify else 'present'} "
                    f"with MMAPREAD_VERIFY="
                    f"{(env or {}).get('MMAPREAD_VERIFY')}")
            if not problems and "traces" in doc and \
                    "MMAPREAD_TRACE" not in (env or {}):
                problems.append("\"traces\" without MMAPREAD_TRACE")
        if doc is not None:
            RAW[id(doc)] = raw
        h.check(f"{label}: {name} valid and consistent", not problems,
                short_summary(doc) if doc else "",
                "\n    ".join(problems) + "\n    document:\n" +
                raw.decode("utf-8", "replace")[:3000])
        if doc is not None and not schema_problems(doc, validator):
            docs.append((name, doc))
    return docs


# The bytes each checked document was parsed from, by id() of the document.
RAW = {}


def short_summary(doc):
    s = doc["served"]
    return (f"{doc['program']} ended by {doc['ended_by']}: served "
            f"read {s['read']} pread {s['pread']} readv {s['readv']} "
            f"lseek {s['lseek']}, added {doc['syscalls_added']['total']}, "
            f"saved {doc['syscalls_saved']}, {len(doc['files'])} files "
            f"+ {doc['other_files']['files']}, fallbacks "
            f"{doc['fallbacks'] or '{}'}")


def children_faults():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_minflt, ru.ru_majflt


def with_reports(h, label, validator, argv, env=None, **kw):
    """argv natively and preloaded (compare.py's comparison), the preloaded
    run writing JSON reports; returns (native, preload, [(name, doc)])."""
    rdir = report_dir(h, "run")
    penv = json_env(rdir, env)
    before = children_faults()
    native, pre = h.compare(label, argv, preload_env=penv, **kw)
    after = children_faults()
    docs = checked_documents(h, label, validator, rdir, penv)
    minor = sum(d["page_faults"]["minor"] for _, d in docs)
    major = sum(d["page_faults"]["major"] for _, d in docs)
    h.check(f"{label}: page faults within what the kernel counted",
            minor <= after[0] - before[0] and major <= after[1] - before[1],
            f"report {minor} minor / {major} major, getrusage of both "
            f"runs {after[0] - before[0]} / {after[1] - before[1]}",
            f"report says {minor} minor / {major} major faults, the "
            f"kernel counted {after[0] - before[0]} / "
            f"{after[1] - before[1]} for the native and preloaded runs "
            "together")
    return native, pre, docs


def only(h, label, docs, program):
    mine = [d for _, d in docs if d["program"] == program]
    h.check(f"{label}: one report from {program}", len(mine) == 1,
            "found", f"{len(mine)} reports from {program} among "
            f"{[d['program'] for _, d in docs]}")
    return mine[0] if mine else None


def file_entry(doc, path):
    want = contract_path(path)
    return next((f for f in doc["files"] if f["path"] == want), None)


def random_file(path, size, seed):
    with open(path, "wb") as f:
        f.write(random.Random(seed).randbytes(size))
    return path


# ---- schema -----------------------------------------------------------------

def corruptions():
    """(what, damage) pairs; each damage must make a good document fail."""
    def drop(key):
        return lambda d: d.pop(key)

    def first_file(fn):
        return lambda d: fn(d["files"][0])

    def bump(*path):
        def fn(d):
            for key in path[:-1]:
                d = d[key]
            d[path[-1]] += 1
        return fn

    return [
        ("required field missing", drop("syscalls_added")),
        ("unknown field", lambda d: d.update(extra=1)),
        ("negative count", lambda d: d["served"].update(read=-1)),
        ("number as a string", lambda d: d.update(pid=str(d["pid"]))),
        ("float count", lambda d: d.update(bytes_served=0.5)),
        ("unknown ended_by", lambda d: d.update(ended_by="crash")),
        ("wrong schema name", lambda d: d.update(schema="mmapread")),
        ("version 2", lambda d: d.update(version=2)),
        ("unknown fallback", lambda d: d["fallbacks"].update(bogus=1)),
        ("fallback with count 0", lambda d: d["fallbacks"].update(empty=0)),
        ("unknown served kind", lambda d: d["served"].update(write=1)),
        ("file without sizes", first_file(lambda f: f.pop("sizes"))),
        ("unknown size bucket", first_file(
            lambda f: f["sizes"].update({"0": 0}))),
        ("file opened 0 times", first_file(lambda f: f.update(opens=0))),
        ("verify without mismatches",
         lambda d: d.update(verify={"checked": 1})),
        ("trace event unknown", lambda d: d.update(traces=[
            {"event": "fallback:bogus", "count": 1,
             "frames": [{"ip": "0x1", "function": "f", "offset": 0,
                         "object": "/x"}]}])),
        ("trace frame with an offset from nothing", lambda d: d.update(
            traces=[{"event": "map", "count": 1,
                     "frames": [{"ip": "0x1", "function": None,
                                 "offset": 4, "object": None}]}])),
        ("syscalls_saved off by one", bump("syscalls_saved")),
        ("syscalls_avoided off by one", bump("syscalls_avoided")),
        ("syscalls_added.total off by one", bump("syscalls_added", "total")),
        ("syscalls_added part off by one", bump("syscalls_added", "mmap")),
        ("served read off by one", bump("served", "read")),
        ("file histogram off by one",
         first_file(lambda f: f["sizes"].update(
             {"1-63": f["sizes"]["1-63"] + 1}))),
        ("file bytes off by one",
         first_file(lambda f: f.update(bytes_served=f["bytes_served"] + 1))),
        ("file served off by one",
         first_file(lambda f: f["served"].update(
             pread=f["served"]["pread"] + 1))),
        ("other_files calls off by one",
         bump("other_files", "syscalls_avoided")),
        ("files out of order", lambda d: d["files"].reverse()),
        ("path listed twice",
         lambda d: d["files"][1].update(path=d["files"][0]["path"])),
        ("more files than MMAPREAD_TOP",
         lambda d: d["files"].append(json.loads(json.dumps(
             d["files"][-1])) | {"path": "/x", "syscalls_avoided": 0,
                                 "served": {"read": 0, "pread": 0,
                                            "readv": 0, "lseek": 0},
                                 "bytes_served": 0,
                                 "sizes": {k: 0 for k in d["files"][-1][
                                     "sizes"]}})),
    ]


def self_test(h, validator, doc, top):
    """The checker against damaged copies of a document it accepted."""
    caught, missed = [], []
    for what, damage in corruptions():
        bad = json.loads(json.dumps(doc))
        damage(bad)
        problems = document_problems(bad, validator, top)
        (caught if problems else missed).append(what)
    h.check("the checker fails every kind of damaged document",
            not missed,
            f"{len(caught)} damaged copies of mixed_reader's document "
            "all rejected", f"accepted after damage: {missed}")
    doc_raw = json.dumps(doc).encode()
    h.check("the checker refuses two documents in one file",
            parse_document(doc_raw + doc_raw)[1] != [], "refused",
            "two documents passed as one")
    h.check("the checker refuses a duplicate key",
            parse_document(b'{"pid": 1, "pid": 2}')[1] != [], "refused",
            "duplicate key accepted")
    h.check("the checker refuses bytes that are not UTF-8",
            parse_document(b'{"program": "\xff"}')[1] != [], "refused",
            "accepted")


MIXED = {}


def mixed_files(h, count, size=96 * KIB):
    """count distinct files for mixed_reader; the last has a name with
    invalid UTF-8, valid UTF-8 and control bytes, the one before it a path
    longer than 256 bytes."""
    d = os.path.join(h.tmp, f"mixed-{count}")
    if d in MIXED:
        return MIXED[d]
    os.makedirs(d)
    paths = []
    for i in range(count):
        name = f"f{i:03d}"
        if i == count - 1:
            name = b"odd-\xff-\xc3\xa9-\x01-\n-\x7f.bin"
        elif i == count - 2:
            deep = os.path.join(d, "long-" + "d" * 120, "e" * 120)
            os.makedirs(deep)
            name = os.path.join(deep, "f" * 40)
        path = os.fsdecode(os.path.join(os.fsencode(d), os.fsencode(name)))
        random_file(path, size, f"mixed-{i}")
        paths.append(path)
    MIXED[d] = paths
    return paths


def library_fallback_names(h):
    """mmapread_fallback_name(0, 1, ...) from the library itself, loaded
    in a python of its own (its constructor must not run in this one)."""
    code = ("import ctypes, sys\n"
            "lib = ctypes.CDLL(sys.argv[1])\n"
            "f = lib.mmapread_fallback_name\n"
            "f.restype = ctypes.c_char_p\n"
            "i = 0\n"
            "while f(i):\n"
            "    print(f(i).decode())\n"
            "    i += 1\n")
    res = h.run([C.PYTHON, "-c", code, h.lib], False)
    return res.stdout.decode().split()


def library_options(h):
    """The MMAPREAD_* names the library prints with MMAPREAD_PRINT_CONFIG."""
    res = h.run([TRUE], True, {"MMAPREAD_PRINT_CONFIG": "1"}, stats=False)
    return set(re.findall(r"^mmapread: (MMAPREAD_\w+)=",
                          res.stderr.decode("utf-8", "replace"), re.M))


def test_schema(h, schema, mixed, fallbacks):
    v = load_validator(schema)
    names = library_fallback_names(h)
    with open(schema) as f:
        enum = json.load(f)["$defs"]["fallback_name"]["enum"]
    h.check("the schema's fallback names are mmapread_fallback_name()'s",
            sorted(names) == sorted(enum) and names,
            f"{len(names)} names",
            f"library only: {sorted(set(names) - set(enum))}, schema only: "
            f"{sorted(set(enum) - set(names))}")
    mixed = os.path.abspath(mixed)
    data = h.data(MIB + 3)
    argv = [mixed, "30"] + mixed_files(h, 12)
    doc = schema_mixed(h, v, argv)
    schema_top(h, v, argv, doc)
    schema_dd(h, v, data)
    stderr_document(h, v, data)
    schema_verify(h, v, data)
    schema_python(h, v, data)
    schema_fallbacks(h, v, os.path.abspath(fallbacks))
    schema_tree(h, v, data)
    schema_rules(h, v, data)
    if "MMAPREAD_TRACE" in library_options(h):
        schema_traces(h, v, argv, os.path.abspath(fallbacks))
    else:
        print("      (no MMAPREAD_TRACE in this library: no traces checked)")


def schema_mixed(h, v, argv):
    """mixed_reader on 12 files: every kind of call served, the default
    MMAPREAD_TOP, odd paths; its document also feeds the checker's self
    test. Returns the document."""
    mixed, paths = argv[0], argv[2:]
    _, _, docs = with_reports(h, "mixed_reader 12 files", v, argv)
    doc = only(h, "mixed_reader 12 files", docs, os.path.basename(mixed))
    if doc:
        self_test(h, v, doc, DEFAULT_TOP)
        s = doc["served"]
        h.check("mixed_reader: read, pread, readv and lseek all served",
                all(s[k] > 0 for k in s), f"{s}", f"{s}")
        listed = [f["path"] for f in doc["files"]]
        want = [contract_path(p) for p in reversed(paths)][:DEFAULT_TOP]
        # The two odd paths have checks of their own, below.
        h.check("mixed_reader: the 10 busiest files, busiest first, by "
                "their paths", listed[2:] == want[2:] and len(listed) == 10,
                f"{len(listed)} listed, other_files "
                f"{doc['other_files']['files']}",
                "listed:\n      " + "\n      ".join(map(repr, listed)) +
                "\n    expected:\n      " +
                "\n      ".join(map(repr, want)))
        h.check("mixed_reader: the 2 others in other_files",
                doc["other_files"]["files"] == 2,
                "2", f"{doc['other_files']}")
        buckets = {}
        for f in doc["files"]:
            for k, n in f["sizes"].items():
                buckets[k] = buckets.get(k, 0) + n
        h.check("mixed_reader: every size bucket used",
                all(buckets.values()), f"{buckets}", f"{buckets}")
        odd = paths[-1]
        entry = file_entry(doc, odd)
        h.check("mixed_reader: a path with bytes that are not UTF-8 and "
                "control bytes comes out escaped per byte, valid UTF-8 "
                "as it is", entry is not None,
                f"{contract_path(odd)!r}",
                f"no file listed as {contract_path(odd)!r}; listed: "
                f"{listed[:2]!r}")
        raw = RAW.get(id(doc))
        h.check("mixed_reader: the document holds \\u00ff for the byte "
                "0xff and \\u00XX for control bytes",
                raw is not None and all(re.search(esc, raw, re.I) for esc
                                        in (rb"\\u00ff", rb"\\u0001",
                                            rb"\\u000a")),
                "found", "not found in the file")
        longest = paths[-2]
        h.check(f"mixed_reader: a path of {len(longest)} bytes is listed "
                "whole", file_entry(doc, longest) is not None,
                "listed", f"not listed as itself; listed: "
                f"{[p for p in listed if 'eeee' in p]!r}")
    return doc


def schema_top(h, v, argv, doc):
    """MMAPREAD_TOP fewer than the default, none, and more."""
    mixed = argv[0]
    for top in ("3", "0"):
        label = f"mixed_reader 12 files MMAPREAD_TOP={top}"
        _, _, docs = with_reports(h, label, v, argv,
                                  env={"MMAPREAD_TOP": top})
        d = only(h, label, docs, os.path.basename(mixed))
        if d and doc:
            n = int(top)
            h.check(f"{label}: the first {n} of the default list, the rest "
                    "in other_files",
                    d["files"] == doc["files"][:n] and
                    d["other_files"]["files"] == 12 - n,
                    f"{len(d['files'])} listed, {d['other_files']['files']} "
                    "others",
                    f"listed {[f['path'][-20:] for f in d['files']]}, "
                    f"other_files {d['other_files']}")
    many = mixed_files(h, 70, 80 * KIB)
    label = "mixed_reader 70 files MMAPREAD_TOP=100"
    _, _, docs = with_reports(h, label, v, [mixed, "1"] + many,
                              env={"MMAPREAD_TOP": "100",
                                   "MMAPREAD_MAP_AFTER": "3"})
    d = only(h, label, docs, os.path.basename(mixed))
    if d:
        h.check(f"{label}: all 70 listed", len(d["files"]) == 70 and
                d["other_files"]["files"] == 0,
                "70 listed", f"{len(d['files'])} listed, other_files "
                f"{d['other_files']}")


def schema_dd(h, v, data):
    """dd's 512-byte read()s of a mapped file."""
    label = "dd bs=512 1MiB+3"
    _, _, docs = with_reports(h, label, v,
                              ["dd", f"if={data}", "of={OUT}", "bs=512"],
                              outputs=("OUT",),
                              stderr_filter=C.dd_stderr_filter)
    d = only(h, label, docs, "dd")
    if d:
        f = file_entry(d, data)
        h.check(f"{label}: served from the mapping, ended by exit, pid",
                f is not None and f["served"]["read"] > 0 and
                f["sizes"]["512-4095"] == f["served"]["read"] and
                d["ended_by"] == "exit" and d["ppid"] == os.getpid(),
                f"{f and f['served']}, ppid is this harness",
                f"file entry {f}, ended_by {d['ended_by']}, ppid "
                f"{d['ppid']} (harness {os.getpid()})")
        h.check(f"{label}: page faults counted while reading 1 MiB from "
                "the mapping", d["page_faults"]["minor"] > 0,
                f"{d['page_faults']}", f"{d['page_faults']}")


def schema_verify(h, v, data):
    """MMAPREAD_VERIFY=1: the "verify" object, and what it says."""
    label = "dd bs=512 1MiB+3 MMAPREAD_VERIFY=1"
    _, _, docs = with_reports(h, label, v,
                              ["dd", f"if={data}", "of=/dev/null", "bs=512"],
                              env={"MMAPREAD_VERIFY": "1"},
                              stderr_filter=C.dd_stderr_filter)
    d = only(h, label, docs, "dd")
    if d:
        reads = d["served"]["read"] + d["served"]["pread"] + \
            d["served"]["readv"]
        h.check(f"{label}: every served read checked, no mismatch",
                d["verify"]["checked"] == reads and reads > 0 and
                d["verify"]["mismatches"] == 0,
                f"{d['verify']}, {reads} reads served",
                f"{d['verify']}, {reads} reads served")


def schema_python(h, v, data):
    """python3's FileIO: reads of 8 KiB and seeks."""
    label = "python3 8 KiB reads and seeks 1MiB+3"
    _, _, docs = with_reports(h, label, v,
                              [C.PYTHON, "-c", C.PY_SEEKS, data])
    d = only(h, label, docs, os.path.basename(C.PYTHON))
    if d:
        f = file_entry(d, data)
        h.check(f"{label}: the data file listed with its reads",
                f is not None and f["served"]["read"] > 0,
                f"{f and f['served']}", f"entry {f}")


def schema_fallbacks(h, v, fallbacks):
    """A FIFO, /proc, truncation, write-only; the program ends by _exit."""
    work = os.path.join(h.tmp, "fallbacks")
    os.makedirs(work, exist_ok=True)
    label = "fallbacks.c"
    _, _, docs = with_reports(h, label, v, [fallbacks, work])
    d = only(h, label, docs, os.path.basename(fallbacks))
    if d:
        fb = d["fallbacks"]
        h.check(f"{label}: ended by _exit, FIFO, /proc, truncation and "
                "write-only fallbacks reported",
                d["ended_by"] == "_exit" and
                all(k in fb for k in ("not_regular", "truncated",
                                      "access_mode")) and
                ("empty" in fb or "pseudo_fs" in fb),
                f"{fb}", f"ended_by {d['ended_by']}, fallbacks {fb}")


def schema_tree(h, v, data):
    """sh starts one dd and becomes the other (exec): one pid has two
    images and two report files."""
    label = "sh -c 'dd; exec dd'"
    script = (f"dd if={data} of=/dev/null bs=512 count=1500 2>/dev/null; "
              f"exec dd if={data} of=/dev/null bs=4096 2>/dev/null")
    _, _, docs = with_reports(h, label, v, ["sh", "-c", script])
    dds = [d for _, d in docs if d["program"] == "dd"]
    shs = [d for _, d in docs if d["program"] == "sh"]
    pids = {d["pid"] for _, d in docs} | {os.getpid()}
    h.check(f"{label}: sh ended by exec, two dd's by exit, one of them in "
            "sh's process, every parent known",
            len(dds) == 2 and all(d["ended_by"] == "exit" and
                                  d["served"]["read"] > 0 for d in dds) and
            len(shs) == 1 and shs[0]["ended_by"] == "exec" and
            shs[0]["pid"] in {d["pid"] for d in dds} and
            all(d["ppid"] in pids for _, d in docs),
            ", ".join(f"{d['program']}[{d['pid']}<-{d['ppid']}] "
                      f"{d['ended_by']}" for _, d in docs),
            ", ".join(f"{d['program']}[{d['pid']}<-{d['ppid']}] "
                      f"{d['ended_by']} read {d['served']['read']}"
                      for _, d in docs))


def schema_rules(h, v, data):
    """Path rules and the size floor, as the fallbacks they cause."""
    rel = os.path.basename(data)
    cases = [
        ("MMAPREAD_EXCLUDE=the file", {"MMAPREAD_EXCLUDE": data}, data,
         "excluded"),
        ("MMAPREAD_EXCLUDE=a:DIR/* (relative open)",
         {"MMAPREAD_EXCLUDE": f"/nowhere/*:{os.path.dirname(data)}/*"}, rel,
         "excluded"),
        ("MMAPREAD_INCLUDE=elsewhere", {"MMAPREAD_INCLUDE": "/nowhere/*"},
         data, "excluded"),
        ("MMAPREAD_INCLUDE=DIR/*",
         {"MMAPREAD_INCLUDE": f"{os.path.dirname(data)}/*"}, data, None),
        ("MMAPREAD_MIN_SIZE=2M", {"MMAPREAD_MIN_SIZE": "2M"}, data,
         "too_small"),
        ("MMAPREAD_MIN_SIZE=1M", {"MMAPREAD_MIN_SIZE": "1M"}, data, None),
    ]
    for what, env, path, reason in cases:
        label = f"dd bs=512 1MiB+3 {what}"
        _, _, docs = with_reports(h, label, v,
                                  ["dd", f"if={path}", "of=/dev/null",
                                   "bs=512"], env=env,
                                  stderr_filter=C.dd_stderr_filter)
        d = only(h, label, docs, "dd")
        if not d:
            continue
        if reason:
            h.check(f"{label}: not mapped, fallback {reason}",
                    d["files_mapped"] == 0 and d["fallbacks"].get(reason),
                    f"{d['fallbacks']}",
                    f"files_mapped {d['files_mapped']}, fallbacks "
                    f"{d['fallbacks']}")
        else:
            h.check(f"{label}: mapped and served",
                    d["files_mapped"] == 1 and d["served"]["read"] > 0,
                    f"read {d['served']['read']}",
                    f"files_mapped {d['files_mapped']}, fallbacks "
                    f"{d['fallbacks']}")


def schema_traces(h, v, argv, fallbacks):
    """MMAPREAD_TRACE=all: call sites in the program, for mixed_reader's
    mappings and reads and fallbacks.c's SIGBUS and fallbacks."""
    label = "mixed_reader 12 files MMAPREAD_TRACE=all"
    _, _, docs = with_reports(h, label, v, argv,
                              env={"MMAPREAD_TRACE": "all"})
    d = only(h, label, docs, os.path.basename(argv[0]))
    if not d:
        return
    traces = d.get("traces", [])
    events = {t["event"] for t in traces}
    counts = [t["count"] for t in traces]
    ours = [f for t in traces for f in t["frames"]
            if (f["object"] or "").endswith("/" + os.path.basename(argv[0]))]
    h.check(f"{label}: map and read events, most frequent first, at call "
            "sites in mixed_reader",
            {"map", "read"} <= events and counts == sorted(counts,
                                                           reverse=True)
            and ours,
            f"{len(traces)} stacks, events {sorted(events)}",
            f"events {sorted(events)}, counts {counts}, "
            f"{len(ours)} frames in mixed_reader")
    work = os.path.join(h.tmp, "fallbacks")
    os.makedirs(work, exist_ok=True)
    label = "fallbacks.c MMAPREAD_TRACE=all"
    _, _, docs = with_reports(h, label, v, [fallbacks, work],
                              env={"MMAPREAD_TRACE": "all"})
    d = only(h, label, docs, os.path.basename(fallbacks))
    if d:
        events = {t["event"] for t in d.get("traces", [])}
        h.check(f"{label}: sigbus and fallback events",
                {"sigbus", "fallback:truncated"} <= events,
                f"{sorted(events)}", f"events {sorted(events)}")


def stderr_document(h, v, data):
    """MMAPREAD_STATS=1 and json, no file: the document is one line on
    stderr, among the program's own lines."""
    argv = ["dd", f"if={data}", "of=/dev/null", "bs=512"]
    native = h.run(argv, False)
    pre = h.run(argv, True, {"MMAPREAD_STATS_FORMAT": "json"})
    ours = [l for l in pre.stderr.splitlines()
            if l not in native.stderr.splitlines() and b" copied, " not in l]
    doc, problems = parse_document(ours[0]) if len(ours) == 1 else (None, [])
    if doc is not None:
        problems = document_problems(doc, v)
    label = "dd bs=512 MMAPREAD_STATS=1 json: one line on stderr"
    h.check(label, len(ours) == 1 and not problems and doc is not None,
            short_summary(doc) if doc else "",
            f"{len(ours)} lines on stderr that the native run did not "
            f"print: {[l[:100] for l in ours[:5]]} {problems}")
    h.check("dd bs=512 MMAPREAD_STATS=1 json: stdout and exit as native",
            native.stdout == pre.stdout and native.rc == pre.rc == 0,
            "identical", f"exit {native.rc} vs {pre.rc}")


# ---- strace -----------------------------------------------------------------

FAMILIES = {
    "read": ("read", "pread64", "readv", "preadv", "preadv2"),
    "lseek": ("lseek",),
    "mmap": ("mmap",),
    "munmap": ("munmap",),
    "fstat": ("fstat", "newfstatat", "statfs", "fstatfs", "statx"),
    "signal": ("rt_sigaction", "rt_sigprocmask"),
    "readlink": ("readlink", "readlinkat"),
    "madvise": ("madvise",),
    "extra": ("prlimit64", "getpid", "sched_yield"),
}
ADDED_FAMILIES = ("mmap", "munmap", "fstat", "signal", "readlink", "madvise",
                  "extra")
# Absolute slack, in calls, for counts too small for 1% to mean anything.
# None: every program here is deterministic (repeated runs give the same
# count in every family, natively and preloaded), and the baseline takes
# out what loading the library costs, so any difference left is a call
# counted wrongly or not at all.
SLACK = 0


def expected_changes(docs):
    """What the reports say strace must see change, by family."""
    total = {}

    def add(key, n):
        total[key] = total.get(key, 0) + n
    for d in docs:
        s, a = d["served"], d["syscalls_added"]
        add("read", -(s["read"] + s["pread"] + s["readv"]))
        add("lseek", a["lseek"] - s["lseek"])
        for fam in ADDED_FAMILIES:
            add(fam, a["other" if fam == "extra" else fam])
        add("avoided", d["syscalls_avoided"])
        add("added", a["total"])
        add("added_lseek", a["lseek"])
        add("saved", d["syscalls_saved"])
    return total


def family_counts(calls):
    out = {fam: sum(calls.get(s, 0) for s in names)
           for fam, names in FAMILIES.items()}
    listed = {s for names in FAMILIES.values() for s in names}
    out["other"] = {s: n for s, n in calls.items() if s not in listed}
    return out


def strace_pair(h, v, label, argv):
    """argv under strace -f -c natively and preloaded (JSON reports in
    files); returns the native and preloaded calls by family, and the
    preloaded run's documents."""
    rdir = report_dir(h, "strace")
    runs = []
    for preload in (False, True):
        table = os.path.join(h.tmp, f"strace-{next(TABLES)}.txt")
        cmd = [C.STRACE, "-f", "-c", "-S", "calls", "-o", table]
        if preload:
            env = json_env(rdir)
            env.update(h.preload_extra)
            cmd += ["-E", f"LD_PRELOAD={h.preload}"]
            cmd += [a for k, val in env.items() for a in ("-E", f"{k}={val}")]
        res = h.run(cmd + argv, False)
        if res.rc != 0:
            raise SystemExit(f"{' '.join(cmd + argv)} failed ({res.rc}):\n"
                             + res.stderr.decode("utf-8", "replace"))
        calls, _ = C.strace_table(table)
        runs.append((res, calls))
    (nres, ncalls), (pres, pcalls) = runs
    docs = []
    for name, raw in read_reports(rdir):
        doc, problems = parse_document(raw)
        if doc is not None:
            problems = document_problems(doc, v)
        if problems:
            h.fail(f"{label}: report {name}", "    " + "\n    ".join(
                problems))
        else:
            docs.append(doc)
    h.check(f"{label}: same stdout natively and preloaded (under strace)",
            nres.stdout == pres.stdout,
            f"{C.human(len(nres.stdout))} identical, {len(docs)} reports",
            C.describe_difference("stdout", nres.stdout, pres.stdout))
    return family_counts(ncalls), family_counts(pcalls), docs


class Baseline:
    """What loading the library changes by itself, per family: a run of
    a program that reads nothing, less what its reports count."""

    def __init__(self, h, v, label, argv):
        native, pre, docs = strace_pair(h, v, label, argv)
        want = expected_changes(docs)
        self.uncounted = {fam: pre[fam] - native[fam] - want.get(fam, 0)
                          for fam in FAMILIES}
        self.other = {s: pre["other"].get(s, 0) - native["other"].get(s, 0)
                      for s in set(pre["other"]) | set(native["other"])}
        self.reports = len(docs)
        print(f"      baseline {label}: {len(docs)} reports; calls the "
              f"reports do not count: "
              f"{ {k: v for k, v in self.uncounted.items() if v} }; "
              f"other calls: { {k: v for k, v in self.other.items() if v} }")


def agreement(measured, expected, base):
    """Within 1% of base, or SLACK calls."""
    tolerance = max(abs(base) / 100, SLACK)
    return abs(measured - expected) <= tolerance, tolerance


def strace_case(h, v, label, argv, baseline):
    native, pre, docs = strace_pair(h, v, label, argv)
    want = expected_changes(docs)
    # The baseline's fixed costs (loading the library, the report) are
    # per process image: the same images, or the baseline does not fit.
    h.check(f"{label}: as many process images as its baseline",
            len(docs) == baseline.reports, f"{len(docs)}",
            f"{len(docs)} reports, the baseline had {baseline.reports}")
    if not docs or not want.get("avoided"):
        h.fail(f"{label}: the preloaded run served something",
               f"    reports: {[short_summary(d) for d in docs]}")
        return
    change = {fam: pre[fam] - native[fam] - baseline.uncounted[fam]
              for fam in FAMILIES}
    rows = []
    for fam in FAMILIES:
        ok, tol = agreement(change[fam], want.get(fam, 0),
                            want.get(fam, 0))
        rows.append((fam, change[fam], want.get(fam, 0), ok, tol))
        h.check(f"{label}: {fam} calls ({'/'.join(FAMILIES[fam])})",
                ok, f"strace {native[fam]} -> {pre[fam]} "
                f"({change[fam]:+d} after the baseline), report "
                f"{want.get(fam, 0):+d}",
                f"strace native {native[fam]}, preloaded {pre[fam]}, "
                f"baseline {baseline.uncounted[fam]:+d}: change "
                f"{change[fam]:+d}; the reports say {want.get(fam, 0):+d} "
                f"(off by {change[fam] - want.get(fam, 0):+d}, tolerance "
                f"{tol:.0f})")
    # Issue 5's sums. strace cannot tell the library's lseeks from the
    # program's, so each of the first two takes the report's own lseeks
    # (added.lseek) as given; the lseek row above checks them together
    # with the served ones, and the net sum needs no such help.
    avoided = -(change["read"] + change["lseek"]) + want["added_lseek"]
    ok, tol = agreement(avoided, want["avoided"], want["avoided"])
    h.check(f"{label}: syscalls_avoided agrees with strace", ok,
            f"strace {avoided}, report {want['avoided']}",
            f"strace: read family {change['read']:+d}, lseek "
            f"{change['lseek']:+d}, plus the library's own lseeks "
            f"{want['added_lseek']} = {avoided} avoided; report "
            f"{want['avoided']} (off by {avoided - want['avoided']:+d}, "
            f"tolerance {tol:.0f})")
    added = sum(change[f] for f in ADDED_FAMILIES) + want["added_lseek"]
    ok, tol = agreement(added, want["added"], want["added"])
    parts = ", ".join(f"{f} {change[f]:+d}" for f in ADDED_FAMILIES)
    h.check(f"{label}: syscalls_added agrees with strace", ok,
            f"strace {added}, report {want['added']}",
            f"strace: {parts}, lseek {want['added_lseek']} = {added} added; "
            "report "
            f"{want['added']} (off by {added - want['added']:+d}, "
            f"tolerance {tol:.0f})")
    net = -sum(change.values())
    ok, tol = agreement(net, want["saved"], want["avoided"])
    h.check(f"{label}: syscalls_saved agrees with strace", ok,
            f"strace {net}, report {want['saved']}",
            f"strace: families {change} make {net} saved; report "
            f"{want['saved']} (off by {net - want['saved']:+d}, tolerance "
            f"{tol:.0f})")
    other = {s: pre["other"].get(s, 0) - native["other"].get(s, 0) -
             baseline.other.get(s, 0)
             for s in set(pre["other"]) | set(native["other"])}
    other = {s: n for s, n in sorted(other.items()) if n}
    print(f"      {label}: other system calls changed (not in the report's "
          f"families): {other or 'none'}")


TABLES = itertools.count()


def test_strace(h, schema, mixed):
    v = load_validator(schema)
    C.need("dd", "sh")
    if len(h.preload.split(":")) > 1:
        raise C.Skip("a sanitizer runtime is preloaded too: its own mmap "
                     "and signal calls are not mmapread's to count")
    C.strace_works(h)
    big = h.data(BIG)
    h.warm_cache(big)
    single = Baseline(h, v, "/bin/true", [TRUE])
    for bs in ("512", "4096"):
        strace_case(h, v, f"dd bs={bs} 64MiB",
                    ["dd", f"if={big}", "of=/dev/null", f"bs={bs}"], single)
    paths = [random_file(os.path.join(h.tmp, f"strace-mixed-{i}"), MIB + 3,
                         f"strace-mixed-{i}") for i in range(3)]
    strace_case(h, v, "mixed_reader 3 files",
                [os.path.abspath(mixed), "150"] + paths, single)
    if os.path.exists(C.SQLITE):
        db, k = C.make_database(h)
        h.warm_cache(db)
        sql = " ".join(q.format(k=k) for _, q in C.SQL_QUERIES)
        strace_case(h, v, "sqlite3 -readonly all queries",
                    [C.SQLITE, "-batch", "-readonly", db, sql], single)
    else:
        print(f"      ({C.SQLITE} is not installed: no sqlite3 case)")
    tree = Baseline(h, v, "sh -c '/bin/true; /bin/true'",
                    ["sh", "-c", f"{TRUE}; {TRUE}"])
    strace_case(h, v, "sh -c 'dd bs=512 count=20000; dd bs=4096'",
                ["sh", "-c", f"dd if={big} of=/dev/null bs=512 count=20000 "
                 f"2>/dev/null; dd if={big} of=/dev/null bs=4096 "
                 "2>/dev/null"], tree)


# ---- config -----------------------------------------------------------------

OPTION_ROW = re.compile(r'\{\s*"(MMAPREAD_[A-Z0-9_]+)",\s*(MR_OPT_[A-Z]+)')

BAD_VALUES = {
    "MR_OPT_BOOL": ["2", "maybe"],
    "MR_OPT_SIZE": ["-1", "1P", "99999999999999999999", "12Q"],
    "MR_OPT_COUNT": ["4K", "-3", str(2 ** 32)],
    "MR_OPT_PATH": ["/" + "p" * 1100],
    "MR_OPT_CHOICE": ["xml"],
}
# Glob lists: too long, as a list and as one pattern. Each would change
# what is mapped if it were taken (or cut short): nothing included, or
# everything excluded.
BAD_OVERRIDES = {
    "MMAPREAD_INCLUDE": ["/nowhere/*:/nowhere/" + "*" * 1100,
                         "/nowhere/" + "*" * 1100],
    "MMAPREAD_EXCLUDE": ["/*:/" + "*" * 1100, "/" + "*" * 1100],
    "MMAPREAD_TRACE": ["bogus", "map,bogus", "map;read"],
}

# Where the report goes while one option is tried, and a good value that
# must change the outcome. "{DIR}" is a fresh directory per run.
TO_FILE = {"MMAPREAD_STATS_FILE": "{DIR}/%e.%p",
           "MMAPREAD_STATS_FORMAT": "json"}
OPTION_CASES = {
    "MMAPREAD_DISABLE": (TO_FILE, "1"),
    "MMAPREAD_STATS": ({}, "1"),
    "MMAPREAD_STATS_FILE": ({"MMAPREAD_STATS": "1",
                             "MMAPREAD_STATS_FORMAT": "json"},
                            "{DIR}/chosen.%p"),
    "MMAPREAD_STATS_FORMAT": ({"MMAPREAD_STATS_FILE": "{DIR}/%e.%p"},
                              "json"),
    "MMAPREAD_TOP": (TO_FILE, "2"),
    "MMAPREAD_VERIFY": (TO_FILE, "1"),
    "MMAPREAD_MAX_SIZE": (TO_FILE, "1K"),
    "MMAPREAD_MIN_SIZE": (TO_FILE, "1G"),
    "MMAPREAD_INCLUDE": (TO_FILE, "/nowhere/*"),
    "MMAPREAD_EXCLUDE": (TO_FILE, "/*"),
    "MMAPREAD_MAP_AFTER": (TO_FILE, "4"),
    "MMAPREAD_PRINT_CONFIG": (TO_FILE, "1"),
    "MMAPREAD_TRACE": (TO_FILE, "map"),
    "MMAPREAD_STDIO": (TO_FILE, "0"),
}
# The program whose run each option must change; mixed_reader reads with
# read() and its kin only, md5sum through stdio.
SHOWS_OPTION = {"MMAPREAD_STDIO": "md5sum"}

VOLATILE = [
    (re.compile(rb'"(pid|ppid)": \d+'), rb'"\1": N'),
    (re.compile(rb'"page_faults": \{[^}]*\}'), rb'"page_faults": {}'),
    (re.compile(rb"\(pid \d+\)"), rb"(pid N)"),
    (re.compile(rb"(?m)^(.*?page faults).*$"), rb"\1"),
]
# A report file's name: the pid, and the .1 ... .99 of a second image.
VOLATILE_NAME = re.compile(rb"\.\d+(\.\d+)?$")


def normalize(text):
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text


def program_stderr(stderr):
    """stderr as lines, dd's timing line out."""
    return [l for l in stderr.splitlines() if b" copied, " not in l]


class Outcome:
    """What one preloaded run showed: output, stderr, report files."""

    def __init__(self, h, argv, env):
        rdir = report_dir(h, "cfg")
        env = {k: v.replace("{DIR}", rdir) for k, v in env.items()}
        env.update(PYTHON_STEADY)
        self.res = h.run(argv, True, env, stats=False)
        self.stderr = program_stderr(self.res.stderr)
        self.files = sorted((VOLATILE_NAME.sub(b".N", name.encode()),
                             normalize(raw))
                            for name, raw in read_reports(rdir))

    def fingerprint(self, stderr=None):
        lines = self.stderr if stderr is None else stderr
        return (self.res.rc, self.res.stdout,
                [normalize(l) for l in lines], self.files)


# python3 reads the same files the same way in every run.
PYTHON_STEADY = {"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}


def config_programs(h, mixed):
    data = h.data(MIB + 3)
    files = mixed_files(h, 12)
    return [
        ("mixed_reader", [os.path.abspath(mixed), "15"] + files),
        ("dd", ["dd", f"if={data}", "of=/dev/null", "bs=512"]),
        ("python3", [C.PYTHON, "-c", C.PY_SEEKS, data]),
        ("md5sum", ["md5sum", data]),
    ]


def test_config(h, config_c, mixed):
    C.need("dd", "md5sum", C.PYTHON)
    with open(config_c) as f:
        table = OPTION_ROW.findall(f.read())
    h.check("config.c: the option table read", len(table) >= 5,
            f"{len(table)} options: {' '.join(n for n, _ in table)}",
            f"found only {table} in {config_c}")
    missing = [n for n, t in table
               if n not in OPTION_CASES or
               (t not in BAD_VALUES and n not in BAD_OVERRIDES)]
    h.check("every option has bad values and a case here", not missing,
            "yes", f"no case for {missing}: add them to OPTION_CASES / "
            "BAD_VALUES")
    programs = config_programs(h, mixed)
    natives, defaults = {}, {}
    for name, argv in programs:
        res = h.run(argv, False, PYTHON_STEADY)
        natives[name] = (res.rc, res.stdout, program_stderr(res.stderr))
    for var, typ in table:
        if var not in OPTION_CASES:
            continue
        base, good = OPTION_CASES[var]
        bad_values = BAD_OVERRIDES.get(var, BAD_VALUES.get(typ, []))
        for name, argv in programs:
            key = (name, tuple(sorted(base.items())))
            nrc, nout, _ = natives[name]
            if key not in defaults:
                defaults[key] = Outcome(h, argv, base)
                res = defaults[key].res
                h.check(f"{name} preloaded with {base or 'no settings'}: "
                        "output and exit as native",
                        (res.rc, res.stdout) == (nrc, nout), f"exit {nrc}",
                        f"exit {nrc} natively, {res.rc} preloaded\n" +
                        C.describe_difference("stdout", nout, res.stdout))
            default = defaults[key]
            chosen = Outcome(h, argv, {**base, var: good})
            differs = chosen.fingerprint() != default.fingerprint()
            if name == SHOWS_OPTION.get(var, "mixed_reader"):
                h.check(f"{var}={good} changes what {name}'s run "
                        "shows (so the default can be told apart)", differs,
                        "it does",
                        "same report and output as with the default: this "
                        "test could not see a bad value taken")
            for value in bad_values + [""]:
                bad_value_case(h, var, value, name, argv, base, default,
                               natives[name])


def bad_value_case(h, var, value, name, argv, base, default, native):
    shown = value if len(value) < 30 else f"{value[:12]}...({len(value)} B)"
    label = f"{var}={shown!r}, {name}"
    bad = Outcome(h, argv, {**base, var: value})
    nrc, nout, nerr = native
    h.check(f"{label}: output and exit status as native",
            (bad.res.rc, bad.res.stdout) == (nrc, nout), f"exit {nrc}",
            f"exit {nrc} natively, {bad.res.rc} preloaded\n" +
            C.describe_difference("stdout", nout, bad.res.stdout))
    seen = [normalize(l) for l in default.stderr]
    extra = [l for l in bad.stderr if normalize(l) not in seen]
    if value == "":
        h.check(f"{label}: unset, silently, the default kept",
                not extra and bad.fingerprint() == default.fingerprint(),
                "no line, same outcome as unset",
                f"lines {extra}" if extra else
                fingerprint_difference(default.fingerprint(),
                                       bad.fingerprint()))
        return
    line = extra[0] if len(extra) == 1 else b""
    good_line = line.startswith(b"mmapread: ") and \
        var.encode() in line and b"expected" in line
    h.check(f"{label}: exactly one line naming {var} and what was expected",
            len(extra) == 1 and good_line,
            line.decode("utf-8", "replace")[:150],
            f"{len(extra)} new lines on stderr: "
            f"{[l[:160] for l in extra]}")
    # Judged even when the warning was wrong: without the lines that
    # warn about var, the run must be the default's.
    rest = [l for l in bad.stderr
            if not (l in extra and l.startswith(b"mmapread: ") and
                    var.encode() in l)]
    h.check(f"{label}: the default kept (same report and stderr as with "
            f"{var} unset)", bad.fingerprint(rest) == default.fingerprint(),
            "same", fingerprint_difference(default.fingerprint(),
                                           bad.fingerprint(rest)))


def fingerprint_difference(a, b):
    """How two outcomes differ, for the failure message."""
    (arc, aout, aerr, afiles), (brc, bout, berr, bfiles) = a, b
    out = []
    if arc != brc:
        out.append(f"    exit status: default {arc}, bad value {brc}")
    if aout != bout:
        out.append(C.describe_difference("stdout", aout, bout))
    if aerr != berr:
        out.append(C.describe_difference("stderr", b"\n".join(aerr),
                                         b"\n".join(berr)))
    if [n for n, _ in afiles] != [n for n, _ in bfiles]:
        out.append(f"    report files: default {[n for n, _ in afiles]}, "
                   f"bad value {[n for n, _ in bfiles]}")
    else:
        for (name, x), (_, y) in zip(afiles, bfiles):
            if x != y:
                out.append(C.describe_difference(
                    f"report file {name.decode()}", x, y))
    return "\n".join(out).strip() or "(no difference?)"


# ---- validate ---------------------------------------------------------------

def validate(schema, *paths):
    v = load_validator(schema)
    status = 0
    for path in paths:
        with open(path, "rb") as f:
            doc, problems = parse_document(f.read())
        if doc is not None:
            problems = document_problems(doc, v)
        print(f"{path}: {'ok' if not problems else 'INVALID'}")
        for p in problems:
            print(f"  {p}")
        status |= bool(problems)
    return status


TESTS = {"schema": test_schema, "strace": test_strace, "config": test_config}


def main(argv):
    if len(argv) > 2 and argv[1] == "validate":
        try:
            return validate(*argv[2:])
        except C.Skip as e:
            print(f"SKIP: {e}")
            return C.SKIP
    if len(argv) < 2 or argv[1] not in TESTS:
        print(f"usage: {argv[0]} {{{','.join(TESTS)}}} ARGS | validate "
              "SCHEMA FILE...", file=sys.stderr)
        return 2
    name = argv[1]
    return C.run_harness(f"report-{name}", "",
                         lambda h: TESTS[name](h, *argv[2:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
