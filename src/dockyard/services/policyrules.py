"""Policy rules parsed by oslo.policy, after a check of what oslo.policy accepts silently.

oslo.policy parses and enforces the rules. It is lenient where Dockyard must not be: a rule it
cannot parse becomes a logged deny-all, and any `<kind>:<value>` it does not know becomes a
generic check on a credential Dockyard never supplies (also a silent deny). An operator's typo
would then lock everybody out without a word, so each rule is first checked against the
checks Dockyard's credentials can answer, and a bad one stops start-up with a clear message:

`@`, `!`, `role:<name>`, `is_admin:True|False`, `project_id:<value>`, `user_id:<value>`,
`rule:<name>`; combined with `and`, `or`, `not` and parentheses. `<value>` is a literal or
`%(project_id)s` / `%(user_id)s`, taken from the target of the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from oslo_policy import policy as oslo
from oslo_policy._checks import BaseCheck as BaseCheck  # the checks' base; public only as a type

Target = Mapping[str, str]

_TARGET_KEYS = ("project_id", "user_id")
_KINDS = ("role", "is_admin", "project_id", "user_id", "rule")


class RuleError(ValueError):
    """A rule string that is not in the rule language, or rules that do not fit together."""


class UnknownRuleName(RuleError):
    """Overrides name a rule that has no default: a typo, or a rule of another service."""


def _tokenize(text: str) -> list[str]:
    """Words, with parentheses split off (but not the ones inside `%(project_id)s`)."""
    tokens: list[str] = []
    for word in text.split():
        core = word.lstrip("(")
        tokens += ["("] * (len(word) - len(core))
        closing = 0
        while core.endswith(")") and core.count(")") > core.count("("):
            core, closing = core[:-1], closing + 1
        if core:
            tokens.append(core)
        tokens += [")"] * closing
    return tokens


class _Grammar:
    """rule := or ; or := and ("or" and)* ; and := unary ("and" unary)* ;
    unary := "not" unary | "(" or ")" | check

    Only checks the shape (oslo.policy builds the tree): returns the tokens with each check
    in its canonical spelling."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos].lower() if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        if self.pos >= len(self.tokens):
            raise RuleError("the rule ends too early")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def check(self) -> list[str]:
        self._sequence("or", self._and)
        if self.pos != len(self.tokens):
            raise RuleError(f"unexpected {self.tokens[self.pos]!r}")
        return self.tokens

    def _sequence(self, word: str, operand: Callable[[], None]) -> None:
        operand()
        while self._peek() == word:
            self.pos += 1
            operand()

    def _and(self) -> None:
        self._sequence("and", self._unary)

    def _unary(self) -> None:
        word = self._take()
        if word.lower() == "not":
            self._unary()
        elif word == "(":
            self._sequence("or", self._and)
            if self._take() != ")":
                raise RuleError("a '(' is not closed")
        else:
            self.tokens[self.pos - 1] = _canonical_check(word)


def _canonical_check(token: str) -> str:
    if token in ("@", "!"):
        return token
    kind, sep, value = token.partition(":")
    if not sep or kind not in _KINDS or not value:
        raise RuleError(f"{token!r} is not a check; use @, !, or one of {', '.join(_KINDS)}")
    if kind == "is_admin":
        if value.lower() not in ("true", "false"):
            raise RuleError(f"is_admin takes True or False, not {value!r}")
        # oslo.policy compares with str(True): only this spelling matches
        return f"is_admin:{value.capitalize()}"
    if value.startswith("%(") and value.endswith(")s") and value[2:-2] not in _TARGET_KEYS:
        raise RuleError(f"%({value[2:-2]})s: the target has only {', '.join(_TARGET_KEYS)}")
    return token


def canonical_rule(text: str) -> str:
    """The rule with each check spelled as oslo.policy matches it; RuleError if malformed."""
    tokens = _tokenize(text)
    return " ".join(_Grammar(tokens).check()) if tokens else ""


def parse_rule(text: str) -> BaseCheck:
    """oslo.policy's check tree for a rule string; an empty rule allows, as in oslo.policy."""
    return oslo.Rules.from_dict({"rule": canonical_rule(text)})["rule"]


def _references(check: BaseCheck) -> Iterator[str]:
    if isinstance(check, oslo.RuleCheck):
        yield check.match
    elif isinstance(check, oslo.NotCheck):
        yield from _references(check.rule)
    elif isinstance(check, oslo.AndCheck | oslo.OrCheck):
        for operand in check.rules:
            yield from _references(operand)


def check_references(rules: Mapping[str, BaseCheck]) -> None:
    """Every `rule:` names a rule, and no rule refers back to itself (oslo.policy would only
    log the first, and recurse without end on the second)."""

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise RuleError(f"rules refer to each other in a loop: {' -> '.join(path)}")
        for ref in _references(rules[name]):
            if ref not in rules:
                raise RuleError(f"rule {name!r} refers to unknown rule {ref!r}")
            visit(ref, (*path, name))

    for name in rules:
        visit(name, ())
