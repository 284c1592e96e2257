#!/usr/bin/env python3
"""Counts test cases from a Bazel build-event file and the test.xml files.

Usage: test_summary.py BEP_JSON [BEP_JSON ...]

One BEP file per configuration (named after it: default.json, asan.json, ...);
the same target in two configurations counts twice. Prints one line per
failed test target and configuration, then the closing line CI reads:
`N passed, N failed` (plus `, N skipped` when any gtest case was skipped or
disabled). A target that failed to build or run without writing test.xml
counts as one failed case. Exit status: 0 only if nothing failed and at least
one test case ran.
"""

import json
import os
import sys
import xml.etree.ElementTree as ET


def cases_from_xml(path):
    """Returns (passed, failed, skipped) test cases in one test.xml."""
    passed = failed = skipped = 0
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif (case.find("skipped") is not None or case.get("status") == "notrun"
              or case.get("result") in ("skipped", "suppressed")):
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main(argv):
    results = {}  # (configuration, label) -> (overall status, [test.xml paths])
    for bep in argv[1:]:
        config = os.path.splitext(os.path.basename(bep))[0]
        with open(bep) as f:
            for line in f:
                event = json.loads(line)
                ident = event.get("id", {})
                if "testSummary" in ident:
                    label = (config, ident["testSummary"]["label"])
                    summary = event.get("testSummary", {})
                    status = summary.get("overallStatus", "NO_STATUS")
                    results.setdefault(label, [status, []])[0] = status
                elif "testResult" in ident:
                    label = (config, ident["testResult"]["label"])
                    entry = results.setdefault(label, ["NO_STATUS", []])
                    for out in event.get("testResult", {}).get("testActionOutput", []):
                        if out.get("name") == "test.xml" and out.get("uri", "").startswith("file://"):
                            entry[1].append(out["uri"][len("file://"):])
                elif "targetCompleted" in ident and event.get("aborted"):
                    label = (config, ident["targetCompleted"]["label"])
                    results.setdefault(label, ["FAILED_TO_BUILD", []])
    passed = failed = skipped = 0
    for (config, label), (status, xmls) in sorted(results.items()):
        p = f = s = 0
        for path in xmls:
            counts = cases_from_xml(path) if os.path.exists(path) else None
            if counts:
                p, f, s = p + counts[0], f + counts[1], s + counts[2]
        ok = status in ("PASSED", "FLAKY")
        if not ok and f == 0:
            f = 1  # crashed, timed out or never built: still a failure
            p = 0
        if ok and p + f == 0:
            p = 1  # a passing target whose xml lists no cases (should not happen)
        if not ok:
            print(f"FAILED: {label} [{config}] ({status})")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
