"""The catalogue of audit actions is complete and has no dead entries: every action code written in
the source is in it, and every entry is written somewhere. The audit screen labels come from it."""

import ast
import re
from pathlib import Path

import pytest

import campuspass
from campuspass.backoffice.views_audit import action_label
from campuspass.core.audit import value_labels
from campuspass.core.audit_catalogue import (
    AXES,
    BOOL,
    BY_CODE,
    CATALOGUE,
    DATA_KEYS,
    FIELDS,
    LEGACY,
    MONEY,
    PHONE,
    TEXT,
    TIME,
)

ROOT = Path(campuspass.__file__).parent
APPS = "core|registry|renewals|payments|sms|backoffice|verification|selfservice|gates"
CODE = re.compile(rf"^({APPS})\.[a-z_]+(\.[a-z_]+)+$")
# Two-part codes (the pattern above needs three parts to tell codes from "app.model" labels).
SHORT_CODES = {"core.signout"}
# Files that read codes rather than write them.
READERS = {"core/audit_catalogue.py", "backoffice/views_audit.py", "backoffice/forms.py"}


def written_codes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if "/migrations/" in relative or relative in READERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value
                if CODE.match(value) or value in SHORT_CODES:
                    found.setdefault(value, []).append(relative)
    return found


def test_every_code_written_is_in_the_catalogue():
    missing = {code: files for code, files in written_codes().items() if code not in BY_CODE}
    assert missing == {}, "add these codes to campuspass/core/audit_catalogue.py"


def test_every_catalogue_entry_is_written_somewhere():
    written = written_codes()
    dead = [action.code for action in CATALOGUE if action.code not in written]
    assert dead == [], "written nowhere: remove from the catalogue or move to LEGACY"
    assert not set(LEGACY) & set(BY_CODE)


def test_entries_are_complete_and_the_screen_uses_them():
    assert len(BY_CODE) == len(CATALOGUE)  # no code twice
    for action in CATALOGUE:
        assert action.label and action.data
        assert action_label(action.code) == action.label
    assert action_label("renewals.order.duplicate_payment") == LEGACY["renewals.order.duplicate_payment"]


# --- data keys (decision 0036) ------------------------------------------------------------------------
EMITTERS = {"log_action", "build_entry", "move", "move_order", "audit"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _literal_keys(node: ast.AST, depth: int = 0) -> list[tuple[str, int]]:
    """String keys of a dict literal and of the dict literals inside it, with their depth."""
    found = []
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found.append((key.value, depth))
            found.extend(_literal_keys(value, depth + 1))
    elif isinstance(node, ast.DictComp):
        found.extend(_literal_keys(node.value, depth + 1))
    return found


def emitted_keys() -> dict[str, set[str]]:
    """{key: action codes} of every data key written as a literal: `data={...}` of an emitter, or
    a dict literal assigned to the name an emitter passes (also `name["key"] = ...`). Keys built at
    run time (field diffs, report dicts) are checked by the suite-wide check in tests/conftest.py."""
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if "/migrations/" in relative or relative in READERS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            names: dict[str, str] = {}  # variable passed as data → action code ("" when not a literal)
            literal: list[tuple[ast.AST, str]] = []
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                callee = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                if callee not in EMITTERS:
                    continue
                action = next(
                    (
                        k.value.value
                        for k in node.keywords
                        if k.arg == "action" and isinstance(k.value, ast.Constant)
                    ),
                    "",
                )
                args = [k.value for k in node.keywords if k.arg == "data"]
                if callee == "audit" and node.args and isinstance(node.args[0], ast.Tuple):
                    elts = node.args[
                        0
                    ].elts  # registry import: (model, record, action, data, plate, staff_no)
                    action = elts[2].value if isinstance(elts[2], ast.Constant) else ""
                    args.append(elts[3])
                for arg in args:
                    if isinstance(arg, ast.Name):
                        names[arg.id] = action
                    else:
                        literal.append((arg, action))
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name) and target.id in names:
                        literal.append((node.value, names[target.id]))
                    elif (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id in names
                        and isinstance(target.slice, ast.Constant)
                    ):
                        found.setdefault(target.slice.value, set()).add(names[target.value.id])
            for arg, action in literal:
                for key, _depth in _literal_keys(arg):
                    found.setdefault(key, set()).add(action)
    return found


def _field_labels() -> dict[str, str]:
    """Field names of every model with their Chinese verbose names (the labels of "changes")."""
    from django.apps import apps

    labels = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            label = str(getattr(field, "verbose_name", ""))
            if CJK.search(label):
                labels.setdefault(field.name, label)
    return labels


def test_every_data_key_written_has_a_chinese_label():
    assert len(emitted_keys()) > 60  # the walk finds the emitters
    fields = _field_labels()
    unlabelled = {}
    for key, actions in emitted_keys().items():
        if key in ("axis", "from", "to") or key in DATA_KEYS or key in fields:
            continue
        own = [a for a in actions if a in BY_CODE and key in BY_CODE[a].keys]
        if not own:
            unlabelled[key] = sorted(actions)
    assert unlabelled == {}, "label these keys in DATA_KEYS (campuspass/core/audit_catalogue.py)"


@pytest.mark.django_db
def test_labels_are_chinese_and_value_references_resolve():
    keys = list(DATA_KEYS.values()) + list(AXES.values())
    keys += [key for action in CATALOGUE for key in action.keys.values()]
    for key in keys:
        assert CJK.search(key.label), key
        assert key.kind in (TEXT, MONEY, BOOL, TIME, PHONE, FIELDS), key
        if key.values:
            labels = value_labels(key)  # raises when a reference names no model field
            assert labels and all(CJK.search(label) for label in labels.values()), key
