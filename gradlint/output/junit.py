"""JUnit XML: one test case per checked file, a failure per finding."""

from collections import defaultdict
from xml.etree import ElementTree as ET


def render(diagnostics, files) -> str:
    by_file = defaultdict(list)
    for d in diagnostics:
        by_file[d.path].append(d)
    paths = sorted(set(files) | set(by_file))
    failures = sum(1 for p in paths if by_file.get(p))
    suites = ET.Element("testsuites", name="gradlint", tests=str(len(paths)),
                        failures=str(failures), errors="0")
    suite = ET.SubElement(suites, "testsuite", name="gradlint", tests=str(len(paths)),
                          failures=str(failures), errors="0", skipped="0")
    for path in paths:
        case = ET.SubElement(suite, "testcase", name=path, classname="gradlint")
        found = by_file.get(path, [])
        if found:
            failure = ET.SubElement(case, "failure", type="gradlint",
                                    message=f"{len(found)} problem{'s' if len(found) != 1 else ''}")
            failure.text = "\n".join(f"line {d.line}, col {d.column}: {d.code} {d.message}"
                                     for d in found)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
