#!/usr/bin/env python3
"""Regenerates test/fixtures/vllm-request-fields.json from a vLLM source tree.

Usage:
  python3 scripts/vllm-request-fields.py <vllm-package-dir> <version> > test/fixtures/vllm-request-fields.json

<vllm-package-dir> is the `vllm/` package folder: of a git checkout (`.../vllm/vllm`) or of an
installed wheel (`.../site-packages/vllm`). Nothing is imported: the files are parsed with `ast`,
so neither torch nor vLLM needs to be installed.

What it extracts: the request fields (pydantic model fields: annotated class attributes, not
ClassVar, not private) of ChatCompletionRequest and CompletionRequest, including the fields of
their base classes when those are defined in the same protocol files, in declaration order.
test/unit/field-table.test.ts fails on a field here that src/openai/field-table.ts does not
classify, so a vLLM bump that adds a request field cannot pass silently.
"""
import ast
import json
import pathlib
import sys

# Where vLLM keeps the two request models (0.32 layout first, then the pre-0.11 single file).
CANDIDATES = {
    'chat': ['entrypoints/openai/chat_completion/protocol.py', 'entrypoints/openai/protocol.py'],
    'completions': ['entrypoints/openai/completion/protocol.py', 'entrypoints/openai/protocol.py'],
}
CLASSES = {'chat': 'ChatCompletionRequest', 'completions': 'CompletionRequest'}


def classes_in(path: pathlib.Path) -> dict:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def is_classvar(annotation: ast.expr) -> bool:
    target = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    return (isinstance(target, ast.Name) and target.id == 'ClassVar') or (
        isinstance(target, ast.Attribute) and target.attr == 'ClassVar'
    )


def fields_of(name: str, classes: dict, seen: set) -> list:
    node = classes.get(name)
    if node is None or name in seen:
        return []
    seen.add(name)
    out = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            out += fields_of(base.id, classes, seen)
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            field = stmt.target.id
            if field.startswith('_') or is_classvar(stmt.annotation):
                continue
            if field not in out:
                out.append(field)
    return out


def main() -> None:
    root = pathlib.Path(sys.argv[1])
    version = sys.argv[2]
    result = {
        'source': f'vLLM {version}: ChatCompletionRequest and CompletionRequest model fields, '
        'extracted with scripts/vllm-request-fields.py (ast, nothing imported)',
        'version': version,
    }
    for endpoint, rels in CANDIDATES.items():
        files = [root / rel for rel in rels if (root / rel).exists()]
        if not files:
            sys.exit(f'no protocol file for {endpoint} under {root}')
        classes = {}
        # The request's own file last, so its classes win; the shared engine protocol holds bases.
        for extra in sorted(root.glob('entrypoints/**/protocol.py')):
            classes.update(classes_in(extra))
        classes.update(classes_in(files[0]))
        result[endpoint] = fields_of(CLASSES[endpoint], classes, set())
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
