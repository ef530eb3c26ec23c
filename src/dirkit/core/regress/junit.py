"""JUnit XML (the report format CI services read) for a suite's results, built as a string."""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.etree import ElementTree

from dirkit.core.compare.diff import Status
from dirkit.core.regress.verdict import CaseResult, SuiteSummary, Verdict
from dirkit.core.tree.paths import display_path

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold (control characters, lone surrogates from undecodable bytes)."""


TREE_WORDS = {Status.RIGHT_ONLY: "added", Status.LEFT_ONLY: "removed", Status.TYPE_CHANGED: "type changed"}
"""How a path of the working tree differs from the expected tree, in the words of the report."""


def xml_safe(text: str) -> str:
    """Return text with every character XML cannot hold written as a \\x.. or \\u.... escape."""
    return _NOT_XML.sub(lambda match: repr(match.group())[1:-1], text)


def failure_text(result: CaseResult) -> str:
    """Return the plain-text detail of a case that did not pass: diffs, exit status, tree paths."""
    lines: list[str] = []
    if result.message:
        lines.append(result.message)
    for diff in result.stream_diffs:
        lines.extend(diff.lines)
    if result.status_changed:
        lines.append(f"exit status: expected {result.expected_status}, got {result.actual_status}")
    for change in result.tree_changes:
        word = TREE_WORDS.get(change.status, change.status.value)
        lines.append(f"tree: {word} {display_path(change.path)}")
    for text_diff in result.text_diffs:
        lines.extend(text_diff.lines)
        if text_diff.note:
            lines.append(f"{display_path(text_diff.path)}: {text_diff.note}")
    return "\n".join(lines)


def build_junit_xml(suite_name: str, results: Sequence[CaseResult], summary: SuiteSummary) -> str:
    """Return the JUnit XML document of a suite's results."""
    failures = sum(result.is_failure for result in results)
    skipped = sum(result.verdict is Verdict.NEW and result.recorded for result in results)
    attributes = {
        "name": xml_safe(suite_name),
        "tests": str(len(results)),
        "failures": str(failures),
        "errors": str(summary.errors),
        "skipped": str(skipped),
        "time": f"{summary.duration_s:.3f}",
    }
    root = ElementTree.Element("testsuites", attributes)
    suite = ElementTree.SubElement(root, "testsuite", attributes)
    for result in results:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            {
                "classname": xml_safe(suite_name),
                "name": xml_safe(result.name),
                "time": f"{result.duration_s:.3f}",
            },
        )
        detail = xml_safe(failure_text(result))
        if result.verdict is Verdict.ERROR:
            element = ElementTree.SubElement(case, "error", {"message": xml_safe(result.message or "error")})
            element.text = detail
        elif result.verdict is Verdict.NEW and result.recorded:
            ElementTree.SubElement(case, "skipped", {"message": "no expectation yet: recorded this run"})
        elif result.is_failure:
            summary_words = ", ".join(result.reasons()) or result.message or result.verdict.value
            if result.verdict is Verdict.NEW:
                summary_words = "no expectation saved (run without --check to record one)"
            element = ElementTree.SubElement(
                case, "failure", {"message": xml_safe(summary_words), "type": result.verdict.value}
            )
            element.text = detail
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
