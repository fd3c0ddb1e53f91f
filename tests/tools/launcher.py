#!/usr/bin/python3
"""tools-launcher: the launcher's options, and how it refuses bad ones.

What it checks, and why: a mistyped option must not start the command (a
build run half-configured is worse than none) and must say what is wrong
in one line a user can act on, with a non-zero exit; the report
subcommand likewise. Each bad command line below runs `touch MARKER` as
its command, so a launcher that carried on anyway is caught.

- unknown option, option without its value (at the end, or "--opt="),
  --stats-dir naming a file or a path through a file, --lib naming no
  file, no command at all, --print-config with a command, and `report`
  without a directory, with a bad --top, an unknown option, a file, a
  missing directory or an empty one: exactly one line on stderr, starting
  "mmapread: " and naming the culprit; nothing on stdout; exit 2 for the
  command line, 1 for a report with nothing to merge.
- The options do what the man page says: --stats-dir makes the directory
  and sets an absolute MMAPREAD_STATS_FILE template (with '%' escaped)
  and MMAPREAD_STATS_FORMAT=json; --json, --trace (both spellings),
  --verify, --stats and --disable set their variables; the library is
  appended to LD_PRELOAD; `--` ends the options and `mmapread -- report`
  runs a program called report.
"""

import os

import tools_common as T


def body(c, tmp):
    _, library = T.preload_paths()
    a_file = os.path.join(tmp, "a-file")
    empty_dir = os.path.join(tmp, "empty")
    marker = os.path.join(tmp, "MARKER")
    open(a_file, "w").close()
    os.mkdir(empty_dir)
    cmd = ["touch", marker]

    # (what, launcher arguments, exit status, text the line must contain)
    bad = [
        ("unknown option", ["--bogus"] + cmd, 2, "'--bogus'"),
        ("unknown option after good ones", ["--stats", "-x", "--"] + cmd,
         2, "'-x'"),
        ("--stats-dir without its value", ["--stats-dir"], 2,
         "--stats-dir"),
        ("--stats-dir= empty", ["--stats-dir="] + cmd, 2, "--stats-dir"),
        ("--trace without its value", ["--trace"], 2, "--trace"),
        ("--trace= empty", ["--trace=", "--"] + cmd, 2, "--trace"),
        ("--lib without its value", ["--lib"], 2, "--lib"),
        ("--stats-dir on a file", ["--stats-dir", a_file, "--"] + cmd, 2,
         a_file),
        ("--stats-dir through a file",
         ["--stats-dir", a_file + "/sub", "--"] + cmd, 2, a_file),
        ("--lib naming no file", ["--lib", tmp + "/no.so", "--"] + cmd, 2,
         tmp + "/no.so"),
        ("no command", ["--stats"], 2, "no command"),
        ("--print-config with a command", ["--print-config"] + cmd, 2,
         "--print-config"),
        ("report without a directory", ["report"], 2, "directory"),
        ("report --top not a number", ["report", empty_dir, "--top", "x"],
         2, "--top"),
        ("report --top without its value", ["report", empty_dir, "--top"],
         2, "--top"),
        ("report unknown option", ["report", "--bogus", empty_dir], 2,
         "'--bogus'"),
        ("report two directories", ["report", empty_dir, tmp], 2, tmp),
        ("report on a file", ["report", a_file], 1, a_file),
        ("report on a missing directory", ["report", tmp + "/none"], 1,
         tmp + "/none"),
        ("report on an empty directory", ["report", empty_dir], 1,
         empty_dir),
    ]
    for what, args, status, culprit in bad:
        # report needs no library; the others get --lib from T.launcher
        # unless the case is about --lib itself.
        lib = args[0] not in ("report", "--lib")
        run = T.launcher(*args, lib=lib, cwd=tmp)
        line = T.one_line(run.stderr)
        c.check(run.returncode == status and line is not None and
                line.startswith("mmapread: ") and culprit in line and
                not run.stdout and not os.path.exists(marker),
                f"{what}: exit {status}, one line naming {culprit}",
                f"exit {run.returncode}\nstderr: {run.stderr!r}\n"
                f"stdout: {run.stdout[:300]!r}\n"
                f"command ran: {os.path.exists(marker)}")
        if os.path.exists(marker):
            os.unlink(marker)

    def env_of(*args, cwd=tmp):
        run = T.launcher(*args, "--", "env", cwd=cwd)
        if run.returncode != 0:
            raise T.Failed(f"mmapread {' '.join(args)} -- env: exit "
                           f"{run.returncode}: {run.stderr}")
        return dict(line.split("=", 1) for line in run.stdout.splitlines()
                    if "=" in line)

    env = env_of("--stats-dir", "rel/d%x", "--trace", "map,sigbus",
                 "--verify")
    real = os.path.realpath(os.path.join(tmp, "rel", "d%x"))
    c.check(os.path.isdir(real), "--stats-dir creates the directory "
            "(and its parents)")
    c.check(env.get("MMAPREAD_STATS_FILE") ==
            real.replace("%", "%%") + "/%e.%p.json",
            "--stats-dir: MMAPREAD_STATS_FILE is DIR/%e.%p.json with DIR "
            "absolute and its '%' escaped",
            env.get("MMAPREAD_STATS_FILE"))
    c.check(env.get("MMAPREAD_STATS_FORMAT") == "json",
            "--stats-dir: MMAPREAD_STATS_FORMAT=json")
    c.check(env.get("MMAPREAD_TRACE") == "map,sigbus",
            "--trace LIST sets MMAPREAD_TRACE")
    c.check(env.get("MMAPREAD_VERIFY") == "1", "--verify sets "
            "MMAPREAD_VERIFY=1")
    c.check(env.get("LD_PRELOAD", "").split(":")[-1] == library,
            "the library is last in LD_PRELOAD", env.get("LD_PRELOAD"))

    env = env_of("--json", "--trace=read", "--disable", "--stats")
    c.check(env.get("MMAPREAD_STATS") == "1" and
            env.get("MMAPREAD_STATS_FORMAT") == "json",
            "--json sets MMAPREAD_STATS=1 MMAPREAD_STATS_FORMAT=json")
    c.check(env.get("MMAPREAD_TRACE") == "read",
            "--trace=LIST sets MMAPREAD_TRACE")
    c.check(env.get("MMAPREAD_DISABLE") == "1",
            "--disable sets MMAPREAD_DISABLE=1")
    c.check("MMAPREAD_STATS_FILE" not in env,
            "no MMAPREAD_STATS_FILE without --stats-dir")

    # `--` before a command called report: the command, not the merger.
    bindir = os.path.join(tmp, "bin")
    os.mkdir(bindir)
    with open(os.path.join(bindir, "report"), "w") as f:
        f.write("#!/bin/sh\necho ran report \"$@\"\n")
    os.chmod(os.path.join(bindir, "report"), 0o755)
    env = T.base_env()
    env["PATH"] = bindir + ":" + env.get("PATH", "/usr/bin:/bin")
    run = T.launcher("--", "report", "x", env=env)
    c.check(run.returncode == 0 and run.stdout == "ran report x\n",
            "mmapread -- report runs the program called report",
            f"exit {run.returncode}: {run.stdout!r} {run.stderr!r}")


if __name__ == "__main__":
    T.main("launcher", body)
