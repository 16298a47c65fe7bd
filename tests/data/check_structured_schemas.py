"""Checks tests/data/structured_schemas.json with the `jsonschema` package:
every schema is a valid Draft 2020-12 schema, every "valid" instance validates
and every "invalid" one does not ("stricter" ones are not checked: the grammar
rejects them, JSON Schema may accept them). Exit status 1 on a problem, 77
(skipped) without the jsonschema package.
Usage: .venv/bin/python tests/data/check_structured_schemas.py [file]"""
import json
import os
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:
    print("jsonschema is not installed: skipped")
    sys.exit(77)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "structured_schemas.json")
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    problems = 0
    for case in cases:
        Draft202012Validator.check_schema(case["schema"])
        validator = Draft202012Validator(case["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER)
        for instance in case["valid"]:
            for error in validator.iter_errors(instance):
                problems += 1
                print("valid instance fails:", case["name"], json.dumps(instance), error.message)
                break
        for instance in case["invalid"]:
            if validator.is_valid(instance):
                problems += 1
                print("invalid instance passes:", case["name"], json.dumps(instance))
    print(len(cases), "schemas checked,", problems, "problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
