#!/usr/bin/python3
"""Turns a reference page of docs/ into the Markdown go-md2man makes a man page of.

    man_page.py DOC NAME SECTION VERSION SUMMARY > build/man/NAME.SECTION.md
    go-md2man -in build/man/NAME.SECTION.md -out build/man/NAME.SECTION

docs/patctl.md and docs/patd.md stay the one source (mk/deb.mk). This adds
what a man page has and a web page does not: the title line, NAME,
DESCRIPTION for the page's opening paragraphs, section names in capitals,
SEE ALSO; links to the other pages become their text, with the directory they
are installed in named once under SEE ALSO.
"""

import re
import sys

# [text](target): relative targets (other pages of docs/, anchors) become the
# text alone; absolute URLs stay links.
LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def unlink(line):
    def repl(m):
        text, target = m.group(1), m.group(2)
        if re.match(r"[a-z]+://", target):
            return m.group(0)
        return text

    return LINK.sub(repl, line)


def convert(lines, name, section, version, summary):
    out = [f'{name} {section} "" "nginx-pat {version}" "nginx-pat manual"', "=" * 40, "", "# NAME", "",
           f"{name} - {summary}", "", "# DESCRIPTION", ""]
    in_code = False
    seen_title = False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
            out.append(line)
            continue
        if in_code:
            out.append(line)
            continue
        if not seen_title and line.startswith("# "):
            seen_title = True  # the page's own title: NAME says it
            continue
        heading = re.match(r"(#+) (.*)", line)
        if heading:
            level = len(heading.group(1)) - 1  # "## Usage" is a section of the man page
            text = unlink(heading.group(2)).replace("`", "")
            out.append("#" * max(level, 1) + " " + (text.upper() if level == 1 else text))
            continue
        out.append(unlink(line))
    if in_code:
        raise SystemExit(f"man_page.py: unterminated code block in {name}")
    others = {"patctl": "patd(8)", "patd": "patctl(8)"}
    out += ["", "# SEE ALSO", "",
            f"{others.get(name, 'patctl(8)')}, nginx(8); the rest of nginx-pat's documentation (the pages named"
            " above, as Markdown) in /usr/share/doc/nginx-pat/.", ""]
    return out


def main(argv):
    if len(argv) != 6:
        raise SystemExit("usage: man_page.py DOC NAME SECTION VERSION SUMMARY")
    doc, name, section, version, summary = argv[1:]
    with open(doc, encoding="utf-8") as f:
        lines = f.read().splitlines()
    sys.stdout.write("\n".join(convert(lines, name, section, version, summary)) + "\n")


if __name__ == "__main__":
    main(sys.argv)
