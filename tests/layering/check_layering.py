#!/usr/bin/env python3
"""Layering check: every #include in fw/, mgmt/ and tests/ against the dependencies the folder
READMEs state, and every repository path cited in a comment or a README against the tree.

Usage: check_layering.py SOURCE_DIR
Prints one line per violation (file:line: what, and the README sentence it breaks); exits 1 if
there is any, 0 otherwise.
"""
import os
import re
import sys

# What an #include names, by kind. Generated headers are included by their proto path
# ("muzzle/v1/policy.pb.h"); gRPC service headers end in .grpc.pb.h.
GRPC = r"(grpc|grpcpp)/.*|.*\.grpc\.pb\.h"
PROTO = r"(muzzle|google/protobuf)/.*\.pb\.h"
MGMT = r"mgmt/.*"


def fw(*folders):
    return r"fw/(%s)/.*" % "|".join(folders)


# The rules: (files they apply to, "only" = project headers allowed / "never" = forbidden,
# include pattern, the README sentence enforced). A file's "project headers" are the fw/, mgmt/
# and generated protobuf/gRPC headers; system and library headers are the build's business.
RULES = [
    ("fw/", "never", MGMT + "|" + GRPC,
     "mgmt/README.md: \"The only folder that includes gRPC; it depends on fw/ and proto/, never "
     "the other way round.\" and fw/README.md: \"Builds and is tested without gRPC.\""),
    ("fw/common/", "only", fw("common"),
     "fw/README.md: common/ may depend on \"libc\""),
    ("fw/packet/", "only", fw("common", "packet"),
     "fw/README.md: packet/ may depend on \"common\""),
    ("fw/dhcp/", "only", fw("common", "dhcp"),
     "fw/README.md: dhcp/ may depend on \"common\""),
    ("fw/device/", "only", fw("common", "dhcp", "device") + "|" + PROTO,
     "fw/README.md: device/ may depend on \"common, dhcp, proto\""),
    ("fw/dns/", "only", fw("common", "dns"),
     "fw/README.md: dns/ may depend on \"common, Boost.Intrusive\""),
    ("fw/config/", "only", fw("common", "config") + "|" + PROTO,
     "fw/README.md: config/ may depend on \"common, proto, yaml-cpp\""),
    ("fw/policy/", "only",
     fw("common", "packet", "config", "device", "dhcp", "policy") + "|" + PROTO,
     "fw/README.md: policy/ may depend on \"packet, config\"; \"policy/ also uses device/\""),
    ("fw/mud/", "only",
     fw("common", "packet", "config", "device", "dhcp", "policy", "mud") + "|" + PROTO,
     "fw/README.md: mud/ may depend on \"common, policy (its spelling of names and ports), "
     "proto, nlohmann-json, yaml-cpp\""),
    ("fw/learn/", "only",
     fw("common", "packet", "config", "device", "dhcp", "policy", "mud", "learn") + "|" + PROTO,
     "fw/README.md: learn/ may depend on \"common, policy (its verdicts), mud (its policy text), "
     "proto, libpsl\""),
    ("fw/nft/", "only", fw("common", "nft"),
     "fw/README.md: nft/ may depend on \"libnftnl, libmnl\"; \"Every folder may use common/\""),
    ("fw/nfq/", "only", fw("common", "nfq"),
     "fw/README.md: nfq/ may depend on \"libnetfilter_queue, libmnl\"; "
     "\"Every folder may use common/\""),
    ("mgmt/revisions/", "never", GRPC + r"|mgmt/(server|ctl|events)/.*",
     "mgmt/README.md: revisions/ may depend on \"fw/engine, the API's messages "
     "(muzzle_mgmt_messages: no gRPC ...)\""),
    ("mgmt/events/", "never", GRPC + r"|mgmt/(server|ctl|revisions)/.*",
     "mgmt/README.md: events/ may depend on \"fw/engine\""),
    ("mgmt/ctl/", "only", r"mgmt/(ctl|fleet)/.*|fw/common/.*|" + GRPC + "|" + PROTO,
     "mgmt/README.md: ctl/ (muzzlectl) may depend on \"gRPC client\", fleet/: it talks to "
     "muzzled only through the API, never through muzzled's own parts"),
    ("mgmt/fleet/", "only",
     r"mgmt/fleet/.*|mgmt/revisions/text_diff\.h|" + fw("common", "config", "policy") + "|" + PROTO,
     "mgmt/README.md: fleet/ may depend on \"fw/policy (the offline check), fw/config, the "
     "unified diff\"; no gRPC: boxes are reached through BoxLink"),
    ("tests/unit/fw/", "never", MGMT + "|" + GRPC,
     "fw/README.md: \"every library here builds and is tested without gRPC\""),
    ("tests/fuzz/", "never", GRPC,
     "mgmt/README.md: the API's messages have \"no gRPC, so the fuzz targets in tests/fuzz/ "
     "link them alone\""),
]

PROJECT = re.compile(r"(fw|mgmt)/.*|" + PROTO + "|" + GRPC)
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
SOURCES = (".h", ".cc", ".cpp", ".hpp", ".c")

# Repository paths cited in comments and READMEs must exist.
CITED = re.compile(r"(?<![\w./$-])((?:fw|mgmt|tests|image|proto|policies|docs)/[\w./-]*[\w])")
CITING_ROOTS = ("fw", "mgmt", "tests", "image", "proto", "policies", "docs")
HASH_COMMENTS = (".sh", ".py", ".txt", ".cmake", ".yaml", ".yml", ".service", ".conf")


def walk(source, roots):
    for root in roots:
        for folder, dirs, files in os.walk(os.path.join(source, root)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "build")))
            for name in sorted(files):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, source), path


def include_violations(source):
    for rel, path in walk(source, ("fw", "mgmt", "tests")):
        if not rel.endswith(SOURCES):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                header = m.group(1)
                for scope, kind, pattern, sentence in RULES:
                    if not rel.startswith(scope):
                        continue
                    matches = re.fullmatch(pattern, header) is not None
                    if kind == "never" and matches or (
                            kind == "only" and not matches and PROJECT.fullmatch(header)):
                        yield "%s:%d: includes %s, against %s" % (rel, number, header, sentence)


def comments(rel, text):
    """The comment text of a file (all of a README), line by line."""
    if rel.endswith(".md"):
        yield from enumerate(text.splitlines(), 1)
        return
    in_block = False
    for number, line in enumerate(text.splitlines(), 1):
        if rel.endswith(SOURCES) or rel.endswith(".proto"):
            if in_block or "/*" in line:
                in_block = "*/" not in line.split("/*")[-1]
                yield number, line
            elif "//" in line:
                yield number, line[line.index("//"):]
        elif rel.endswith(HASH_COMMENTS) or os.path.basename(rel) in ("CMakeLists.txt",):
            m = re.search(r"(^|\s)#(?!include)(.*)", line)
            if m:
                yield number, m.group(2)
        elif text.startswith("#!"):  # scripts without an extension
            m = re.search(r"(^|\s)#(.*)", line)
            if m:
                yield number, m.group(2)


def is_citation(cited, after):
    """Whether a path-like word cites a file or folder. Prose such as "proto/port" (two words, no
    extension, no trailing slash) is not one; a placeholder in capitals (tests/fuzz/corpus/NAME)
    stands for any name."""
    parts = cited.split("/")
    if any(part.isupper() for part in parts):
        return False
    return "." in parts[-1] or after.startswith("/") or len(parts) >= 3


def cited_exists(source, cited):
    # A program in the build folder is cited by its path there (tests/lab/labnet): it is built
    # from the source of the same name.
    return os.path.exists(os.path.join(source, cited)) or os.path.exists(
        os.path.join(source, cited + ".cc"))


def citation_violations(source):
    files = list(walk(source, CITING_ROOTS))
    files += [(name, os.path.join(source, name)) for name in ("README.md", "CMakeLists.txt")
              if os.path.exists(os.path.join(source, name))]
    for rel, path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue  # binary or unreadable: no comments to check
        for number, line in comments(rel, text):
            for m in CITED.finditer(line):
                cited = m.group(1).rstrip(".")
                if is_citation(cited, line[m.end():]) and not cited_exists(source, cited):
                    yield "%s:%d: cites %s, which does not exist" % (rel, number, cited)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_layering.py SOURCE_DIR")
    source = sys.argv[1]
    problems = list(include_violations(source)) + list(citation_violations(source))
    for problem in problems:
        print(problem)
    if problems:
        print("layering: %d problem(s); fix the code, or the README if the rule changed" %
              len(problems))
        return 1
    print("layering: every include follows the folder READMEs; every cited path exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
