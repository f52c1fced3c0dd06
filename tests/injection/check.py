"""Parses generated Python and finds injected `pwned` names. Usage: python check.py <file>..."""

import ast
import sys

problems = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as err:
        problems += 1
        print(f"PARSE {path}: line {err.lineno}: {err.msg}")
        continue
    for node in ast.walk(tree):
        name = getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", None)
        if name == "pwned":
            problems += 1
            print(f"INJECTED {path}: line {getattr(node, 'lineno', '?')}")
sys.exit(1 if problems else 0)
