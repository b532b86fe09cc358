"""The catalogue of audit actions is complete and has no dead entries: every action code written in
the source is in it, and every entry is written somewhere. The audit screen labels come from it."""

import ast
import re
from pathlib import Path

import campuspass
from campuspass.backoffice.views_audit import action_label
from campuspass.core.audit_catalogue import BY_CODE, CATALOGUE, LEGACY

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
