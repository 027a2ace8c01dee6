"""What the service e2e tests check of a loadgen run: its operations by
name, the server's own count of something (a Prometheus metric), and the
verdict, one FAIL line per problem or one PASS line."""
import json
import re
import sys


def operations(result_path):
    """The run's operations (result.json), by name."""
    return {op["name"]: op for op in json.load(open(result_path))["operations"]}


def metric(text, pattern):
    """The value of the sample whose name and labels match `pattern` (a
    regular expression) in a Prometheus exposition; None when there is none."""
    m = re.search(r"^" + pattern + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def failed_calls(ops):
    """A problem for each operation that had a call fail, or none succeed."""
    return [f"{name}: {op['ok']} of {op['requests']} ok" for name, op in ops.items()
            if op["ok"] == 0 or op["ok"] != op["requests"]]


def verdict(problems, passed):
    for p in problems:
        print("FAIL", p)
    if problems:
        sys.exit(1)
    print("PASS", passed)
