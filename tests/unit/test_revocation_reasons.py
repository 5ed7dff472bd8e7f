"""Every reason a grant family is revoked or a session ends is declared once
(families.RevocationReason), passed as such at every call site, and explained in
docs/operations.md: a new reason cannot go undocumented."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from authserver.identity.sessions import END_REASONS
from authserver.models import GrantFamily
from authserver.oauth.families import RevocationReason

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operations.md"
ROW = re.compile(r"^\| `(?P<reason>[a-z_]+)` \| (?P<ends>session|grant) \| (?P<what>.+?) \|$")
# Functions that pass a reason on; a bare string at one of these would dodge the enum.
SESSION_ENDERS = ("end", "sign_out_everywhere")
EXPECTED_TAKERS = {"revoke", "revoke_family", "OrganizationRefused", "disconnect_app"}


def documented() -> dict[str, str]:
    """Reason -> "session" or "grant", from the guide's "Revocation reasons" table."""
    section = GUIDE.read_text().split("#### Revocation reasons", 1)[1].split("\n#", 1)[0]
    rows = (ROW.match(line) for line in section.splitlines())
    return {row["reason"]: row["ends"] for row in rows if row and row["what"].strip()}


def test_the_guide_explains_every_revocation_reason_and_no_other() -> None:
    assert set(documented()) == {reason.value for reason in RevocationReason}


def test_the_guide_says_which_reasons_end_a_session() -> None:
    sessions = {reason for reason, ends in documented().items() if ends == "session"}
    assert sessions == {reason.value for reason in END_REASONS}


def test_every_reason_fits_the_column_it_is_stored_in() -> None:
    length = GrantFamily.__table__.c.revoked_reason.type.length
    assert all(len(reason.value) <= length for reason in RevocationReason)


# ---- call sites (read from the source, so a new one is checked without a change here) ----


def modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted((ROOT / "authserver").rglob("*.py")):
        yield path.relative_to(ROOT), ast.parse(path.read_text(), str(path))


def is_reason_type(annotation: ast.expr | None) -> bool:
    return annotation is not None and ast.unparse(annotation).endswith("RevocationReason")


def reason_takers() -> dict[str, list[tuple[str, int | None]]]:
    """Callable name -> its RevocationReason parameters: (name, position or None when the
    parameter is keyword-only). A class is called by its name, a method without self."""
    takers: dict[str, list[tuple[str, int | None]]] = {}
    for _, tree in modules():
        owners = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            owner = owners.get(node)
            is_method = isinstance(owner, ast.ClassDef)
            name = owner.name if is_method and node.name == "__init__" else node.name
            positional = [*node.args.posonlyargs, *node.args.args][1 if is_method else 0 :]
            for index, arg in enumerate(positional):
                if is_reason_type(arg.annotation):
                    takers.setdefault(name, []).append((arg.arg, index))
            for arg in node.args.kwonlyargs:
                if is_reason_type(arg.annotation):
                    takers.setdefault(name, []).append((arg.arg, None))
    return takers


def callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def reason_defaults(function: ast.FunctionDef) -> Iterator[ast.expr]:
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    with_default = positional[len(positional) - len(args.defaults) :]
    pairs = [*zip(with_default, args.defaults, strict=True)]
    pairs += zip(args.kwonlyargs, args.kw_defaults, strict=True)
    for arg, default in pairs:
        if default is not None and is_reason_type(arg.annotation):
            yield default


def reason_arguments() -> Iterator[tuple[str, str, ast.expr]]:
    """(where, callee, expression) for every reason passed, and every reason default."""
    takers = reason_takers()
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in takers:
                for default in reason_defaults(node):
                    yield f"{path}:{node.lineno}", node.name, default
            if not isinstance(node, ast.Call) or callee(node) not in takers:
                continue
            for parameter, position in takers[callee(node)]:
                passed = [k.value for k in node.keywords if k.arg == parameter]
                if position is not None and position < len(node.args):
                    passed.append(node.args[position])
                for expression in passed:
                    yield f"{path}:{node.lineno}", callee(node), expression


def test_the_reason_takers_are_found_in_the_source() -> None:
    assert EXPECTED_TAKERS | set(SESSION_ENDERS) <= set(reason_takers())


def test_no_reason_is_a_bare_string_at_a_call_site() -> None:
    bare = [
        f"{where} {name}({ast.unparse(expression)})"
        for where, name, expression in reason_arguments()
        if isinstance(expression, ast.JoinedStr)
        or (isinstance(expression, ast.Constant) and isinstance(expression.value, str))
    ]
    assert bare == [], "pass a families.RevocationReason member instead"


def test_sessions_end_only_with_a_session_reason() -> None:
    named = [
        (where, RevocationReason[expression.attr])
        for where, name, expression in reason_arguments()
        if name in SESSION_ENDERS
        and isinstance(expression, ast.Attribute)
        and ast.unparse(expression.value).endswith("RevocationReason")
    ]
    assert named, "expected sessions.end and sign_out_everywhere to name their reasons"
    assert [(where, reason) for where, reason in named if reason not in END_REASONS] == []
