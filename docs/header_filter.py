#!/usr/bin/env python3
"""Doxygen input filter for elman's public headers.

The headers document each declaration with a plain C block comment, so
they read well as headers; Doxygen only reads comments that open with
/** (or /**< after a member).  This filter, given a header's path, prints
the header with:

  - its first comment, the file-level one, opened with /** and ended with
    \\file, so it becomes the file's description (the "elman: " that opens
    each one is dropped: every page is elman's);
  - a comment on lines of its own opened with /**, so it documents the
    declaration after it;
  - a comment after code on the same line (a struct member, an enum value)
    opened with /**<, so it documents that code;
  - in the text of these comments, the characters that Doxygen would read
    as commands, HTML, links or Markdown escaped, so they print as written.
    Text between backquotes, a "string" within a line and indented code
    examples are left alone: Doxygen prints those as they are.

Every line stays on its line, so Doxygen's line numbers are the header's.
"""

import re
import sys

# Doxygen's commands start with \ or @, < opens an HTML tag or an entity
# such as <pre>, & an entity, # and % change how the next word links, and
# $ may start a keyword, and Markdown reads a * or _ at the start of a word
# as the start of emphasis (__len__ would print as a bold "len").  A
# backslash makes each of them a plain character.
SPECIAL = re.compile(r"[\\@&#%$]|<(?=[A-Za-z/!?])|(?<![A-Za-z0-9])[*_]+")
# JAVADOC_AUTOBRIEF ends a brief description at the first full stop before
# white space, so "1 .. 64", "..." and "e.g." would cut a sentence short.
# Doxygen's way to say a full stop ends nothing is a backslash and a space
# after it; after two or more dots that prints the backslash, and a
# non-breaking space does instead.
ABBREVIATION = re.compile(r"\b(e\.g\.|i\.e\.)(?:\s|$)")
DOTS = re.compile(r"(\.{2,})(?:\s|$)")
# Doxygen prints -- and --- as dashes, which would turn "--threads" into a
# dash and a word.
DASHES = re.compile(r"-{2,3}")
# At the start of a line, after the comment's " * ", Markdown reads > as a
# quotation and + as a list item; elman's headers mean neither.
LINE_START = re.compile(r"^(\s*)([>+])")
# Doxygen prints a "string" within a line as it is, with no commands or HTML
# in it, so escaping there would print the backslashes.
QUOTED = re.compile(r'("[^"\n]*")')


def escape_text(text):
    pieces = QUOTED.split(text)
    for i in range(0, len(pieces), 2):
        piece = SPECIAL.sub(lambda m: "".join("\\" + c for c in m.group(0)), pieces[i])
        piece = ABBREVIATION.sub(r"\1\\ ", piece)
        piece = DOTS.sub(r"\1&nbsp;", piece)
        pieces[i] = DASHES.sub(r"\\\g<0>", piece)
    return "".join(pieces)


def escape_outside_backquotes(text, in_code):
    """Escapes text except between backquotes; in_code says whether the
    text starts inside a `span` left open on an earlier line.  Returns the
    escaped text and whether a span is still open at its end."""
    pieces = text.split("`")
    out = []
    for i, piece in enumerate(pieces):
        if i > 0:
            in_code = not in_code
        out.append(piece if in_code else escape_text(piece))
    return "`".join(out), in_code


# A comment line's parts: the leader (indentation, the * that continues a
# comment and one space) and the text after it.
LEADER = re.compile(r"^(\s*\*? ?)(.*)$")


def doc_body(body):
    """The text of a comment (between /* and */) made safe for Doxygen.

    A line indented by two spaces or more after its leader, after a blank
    line or another such line, is a code example: the example is indented
    as a whole until its first line has four spaces, which Markdown prints
    as code, and is not escaped."""
    lines = body.split("\n")
    out = []
    in_code_block = False
    previous_blank = True
    in_span = False
    shift = ""
    for number, line in enumerate(lines):
        if number == 0:
            # The rest of the /* line: its spaces are the leader.
            text = line.lstrip(" ")
            leader = line[: len(line) - len(text)]
        else:
            leader, text = LEADER.match(line).groups()
        indent = len(text) - len(text.lstrip(" "))
        blank = text.strip() == ""
        if blank:
            out.append(line)
            previous_blank = True
            continue
        if indent >= 2 and (previous_blank or in_code_block):
            if not in_code_block:
                shift = " " * max(0, 4 - indent)
            in_code_block = True
            out.append(leader + shift + text)
        else:
            in_code_block = False
            text, in_span = escape_outside_backquotes(text, in_span)
            text = LINE_START.sub(r"\1\\\2", text)
            out.append(leader + text)
        previous_blank = False
    return "\n".join(out)


def comments(source):
    """Yields (start, end) of every /* */ comment: start is the index of
    its /*, end the index just after its */.  Skips string and character
    literals and // comments."""
    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if c in "\"'":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            i = j + 1
        elif source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            if j < 0:
                raise SystemExit(f"unterminated comment at offset {i}")
            yield i, j + 2
            i = j + 2
        else:
            i += 1


def filter_header(source):
    out = []
    done = 0
    first = True
    for start, end in comments(source):
        line_start = source.rfind("\n", 0, start) + 1
        before = source[line_start:start]
        body = source[start + 2 : end - 2]
        out.append(source[done:start])
        if first and source[:start].strip() == "":
            body = re.sub(r"^(\s*)elman: (.)", lambda m: m.group(1) + m.group(2).upper(), body)
            out.append("/**" + doc_body(body) + " \\file */")
        elif before.strip():
            out.append("/**<" + doc_body(body) + "*/")
        else:
            out.append("/**" + doc_body(body) + "*/")
        first = False
        done = end
    out.append(source[done:])
    return "".join(out)


def check(paths):
    """The problems that would make the reference wrong without a Doxygen
    warning: Doxygen reads a failed filter's output as an empty header."""
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        filtered = filter_header(source)
        if filtered.count("\n") != source.count("\n"):
            problems.append(f"{path}: the filter moved lines")
        if not source.lstrip().startswith("/*"):
            problems.append(f"{path}: no opening comment to describe the header")
    return problems


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--check":
        # --check STAMP HEADER...: filters every header and writes STAMP if
        # all went well, so the docs target stops before Doxygen if not.
        problems = check(sys.argv[3:])
        if problems:
            raise SystemExit("\n".join(problems))
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            f.write("".join(path + "\n" for path in sys.argv[3:]))
        return
    if len(sys.argv) != 2:
        raise SystemExit("usage: header_filter.py HEADER | --check STAMP HEADER...")
    with open(sys.argv[1], encoding="utf-8") as f:
        source = f.read()
    sys.stdout.write(filter_header(source))


if __name__ == "__main__":
    main()
