#!/usr/bin/python3
"""tools-env-table: the documentation of the variables matches the library.

What it checks, and why: the library's options table (preload/config.c) is
the one source of truth for the MMAPREAD_* variables; README.md's table and
the man page copy it by hand, and a copy drifts. The library's own list is
taken from what it prints with MMAPREAD_PRINT_CONFIG=1, through
`mmapread --print-config` (so the launcher's option is checked on the way):

- README.md's "Environment variables" table has the same variables, in
  the same order, with the same defaults ("(unset)" for an empty one);
- doc/mmapread.1 has an entry (.TP/.B NAME) under ENVIRONMENT for every
  one of them, whose "Default:" line gives the same default ("unset");
- in a clean environment every value printed is its default, and a value
  set in the caller's environment (MMAPREAD_MAP_AFTER=7) is what
  --print-config shows: it reports this environment, not a fixed list;
- `mmapread --help` lists every variable too.

    env_table.py [README [MAN_PAGE]]   (the source tree's by default)

Skips (77) when the library does not print its configuration.
"""

import re
import sys

import tools_common as T

CONFIG_LINE = re.compile(
    r"^mmapread: (MMAPREAD_[A-Z0-9_]+)=(.*?) \(default (.*?)\) (.*)$")
README_ROW = re.compile(r"^\| `(MMAPREAD_[A-Z0-9_]+)` \| (.*?) \| (.*) \|$")


def library_options(env=None):
    run = T.launcher("--print-config", env=env)
    if run.returncode != 0 and "printed no configuration" in run.stderr:
        raise T.Skip("the library does not print its configuration "
                     "(MMAPREAD_PRINT_CONFIG) yet")
    if run.returncode != 0:
        raise T.Failed(f"mmapread --print-config: exit {run.returncode}: "
                       f"{run.stderr}")
    options = []
    for line in run.stdout.splitlines():
        m = CONFIG_LINE.match(line)
        if not m:
            raise T.Failed(f"--print-config line not in the form "
                           f"'mmapread: NAME=VALUE (default D) HELP': "
                           f"{line!r}")
        options.append(m.groups())
    if not options:
        raise T.Failed("mmapread --print-config printed nothing")
    return options


def readme_table(path):
    rows, inside = [], False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#") and "Environment variables" in line:
                inside = True
            elif inside and line.startswith("#"):
                break
            elif inside:
                m = README_ROW.match(line)
                if m:
                    rows.append((m.group(1), m.group(2).strip("`")))
    return rows


def man_entries(path):
    """{NAME: its "Default:" text or None} for ENVIRONMENT's entries."""
    entries, inside, name = {}, False, None
    with open(path) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            inside = line.split(None, 1)[1:] == ["ENVIRONMENT"]
            name = None
        elif not inside:
            continue
        elif line == ".TP" and i + 1 < len(lines):
            m = re.match(r"^\.B (MMAPREAD_[A-Z0-9_]+)$", lines[i + 1])
            name = m.group(1) if m else None
            if name:
                entries[name] = None
        elif name and line.startswith("Default: "):
            entries[name] = line[len("Default: "):].rstrip(".")
    return entries


def body(c, tmp):
    readme = sys.argv[1] if len(sys.argv) > 1 else T.README
    man = sys.argv[2] if len(sys.argv) > 2 else T.MAN_PAGE
    options = library_options()
    names = [name for name, _, _, _ in options]
    defaults = {name: default for name, _, default, _ in options}
    print(f"(the library has {len(options)} variables)")

    for name, value, default, _ in options:
        shown = "" if default == "(unset)" else default
        # PRINT_CONFIG itself is on while it prints.
        if name != "MMAPREAD_PRINT_CONFIG":
            c.check(value == shown, f"{name}: value {value!r} is the "
                    f"default in a clean environment")
    env = T.base_env()
    env["MMAPREAD_MAP_AFTER"] = "7"
    changed = dict((n, v) for n, v, _, _ in library_options(env))
    c.check(changed.get("MMAPREAD_MAP_AFTER") == "7",
            "--print-config shows the caller's MMAPREAD_MAP_AFTER=7",
            f"shows {changed.get('MMAPREAD_MAP_AFTER')!r}")

    rows = readme_table(readme)
    c.check([n for n, _ in rows] == names,
            f"{readme}: the table lists the library's variables, in order",
            f"README:  {[n for n, _ in rows]}\nlibrary: {names}")
    for name, default in rows:
        if name in defaults:
            c.check(default == defaults[name],
                    f"{readme}: {name} defaults to {defaults[name]}",
                    f"README says {default!r}")

    entries = man_entries(man)
    for name in names:
        if not c.check(name in entries, f"{man}: ENVIRONMENT has {name}",
                       f"entries: {sorted(entries)}"):
            continue
        want = "unset" if defaults[name] == "(unset)" else defaults[name]
        c.check(entries[name] == want,
                f"{man}: {name}'s Default: line says {want}",
                f"it says {entries[name]!r}")

    run = T.launcher("--help")
    c.check(run.returncode == 0 and all(
        re.search(rf"^  {n}=", run.stdout, re.M) for n in names),
        "mmapread --help lists every variable",
        f"exit {run.returncode}\n{run.stdout}{run.stderr}")


if __name__ == "__main__":
    T.main("env-table", body)
