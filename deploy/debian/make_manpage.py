#!/usr/bin/env python3
"""Writes the outpost(1) man page from the built binary's own --help texts.

Runs `outpost --help`, then `outpost CMD --help` for every subcommand that help lists, down to the
last level, and puts each text under its own heading. Nothing about the commands is written by
hand, so the man page cannot drift from the binary (docs/operations.md, "Installing the Debian
package"). Only NAME, FILES and SEE ALSO, which --help does not have, come from this script.

Usage: make_manpage.py OUTPOST_BINARY OUTPUT_FILE VERSION
"""

import os
import re
import subprocess
import sys

MAX_COMMANDS = 500  # a bound on the walk; outpost has about a hundred


def run_help(binary, path):
    env = dict(os.environ, COLUMNS="100", LC_ALL="C")
    result = subprocess.run(
        [binary, *path, "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        timeout=30,
        check=False,
    )
    text = result.stdout.decode("utf-8", "replace")
    if result.returncode != 0:
        sys.exit(
            "make_manpage: `%s %s --help` exited with %d:\n%s"
            % (binary, " ".join(path), result.returncode, text)
        )
    return text


def subcommands(help_text):
    """The names listed under CLI11's "Subcommands:" heading (one per line, indented)."""
    names = []
    in_section = False
    for line in help_text.splitlines():
        if re.match(r"^\S.*:\s*$", line):
            in_section = line.strip() == "Subcommands:"
            continue
        if in_section:
            m = re.match(r"^  (\S+)(\s|$)", line)
            if m:
                names.append(m.group(1))
    return names


def escape(text):
    """Roff-escapes a piece of text: backslashes, ASCII hyphens, leading control characters."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def roff_help(text):
    """One --help text as roff: headings ("Options:") in bold, each "  NAME  description" entry
    as a tagged paragraph (so man wraps the description), other lines as their own paragraphs."""
    out = []
    for line in text.rstrip().splitlines():
        line = line.rstrip()
        if not line.strip():
            continue
        entry = re.match(r"^  +(\S.*?)(?:\s{2,}(\S.*))?$", line)
        if re.match(r"^\S.*:$", line):
            out += [".PP", "\\fB%s\\fR" % escape(line)]
        elif entry:
            out += [".TP", "\\fB%s\\fR" % escape(entry.group(1))]
            if entry.group(2):
                out.append(escape(entry.group(2)))
        else:
            out += [".PP", escape(line.strip())]
    return "\n".join(out)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, output, version = sys.argv[1:]
    top = run_help(binary, [])
    summary = top.strip().splitlines()[0].strip() if top.strip() else "Outpost"
    sections = []  # (command path, help text), depth first in help's order
    queue = [[]]
    seen = 0
    while queue:
        path = queue.pop(0)
        text = top if not path else run_help(binary, path)
        sections.append((path, text))
        seen += 1
        if seen > MAX_COMMANDS:
            sys.exit("make_manpage: more than %d commands; is the help looping?" % MAX_COMMANDS)
        children = [path + [name] for name in subcommands(text)]
        queue = children + queue  # depth first keeps each command beside its subcommands
    if len(sections) < 2:
        sys.exit("make_manpage: `%s --help` lists no subcommands:\n%s" % (binary, top))

    lines = [
        '.TH OUTPOST 1 "" "outpost %s" "User Commands"' % version,
        ".SH NAME",
        "outpost \\- %s" % summary.replace("-", "\\-"),
        ".SH SYNOPSIS",
        ".B outpost",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fISUBCOMMAND\\fR...] [\\fIARGS\\fR...]",
        ".SH DESCRIPTION",
        "Every section below is the output of \\fBoutpost\\fR [\\fICOMMAND\\fR...] "
        "\\fB\\-\\-help\\fR of this version.",
        ".SH COMMANDS",
    ]
    for path, text in sections:
        title = " ".join(["outpost", *path])
        lines.append('.SS "%s"' % title.replace("-", "\\-"))
        lines.append(roff_help(text))
    lines += [
        ".SH FILES",
        ".TP",
        ".I /etc/outpost/outpost.toml",
        "The configuration the packaged service reads (\\fBserve \\-\\-config\\fR).",
        ".TP",
        ".I /var/lib/outpost",
        "The data directory of the packaged service (\\fB\\-\\-data\\-dir\\fR): database, keys, "
        "certificates, \\fIadmin.apikey\\fR.",
        ".TP",
        ".I /lib/systemd/system/outpost.service",
        "The systemd unit.",
        ".SH SEE ALSO",
        "The documentation in the source tree: docs/cli.md, docs/configuration.md, "
        "docs/operations.md.",
        "",
    ]
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    os.replace(tmp, output)
    print("make_manpage: %s: %d commands" % (output, len(sections)))


if __name__ == "__main__":
    main()
