"""The policy rule language: a subset of oslo.policy's, parsed once, checked per request.

Checks: `@` (allow), `!` (deny), `role:<name>`, `is_admin:True|False`, `project_id:<value>`,
`user_id:<value>`, `rule:<name>`; combined with `and`, `or`, `not` and parentheses. `<value>`
is a literal or `%(project_id)s` / `%(user_id)s`, taken from the target of the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from dockyard.domain.tenancy import RequestContext

log = logging.getLogger(__name__)

Target = Mapping[str, str]


class RuleError(ValueError):
    """A rule string that is not in the rule language, or rules that do not fit together."""


class UnknownRuleName(RuleError):
    """Overrides name a rule that has no default: a typo, or a rule of another service."""


@dataclass(frozen=True)
class _Env:
    ctx: RequestContext
    target: Target
    rules: Mapping[str, Check]


class Check(Protocol):
    def allows(self, env: _Env) -> bool: ...


@dataclass(frozen=True)
class _Const:
    value: bool

    def allows(self, env: _Env) -> bool:
        return self.value


@dataclass(frozen=True)
class _Role:
    name: str

    def allows(self, env: _Env) -> bool:
        return self.name in {role.lower() for role in env.ctx.roles}


@dataclass(frozen=True)
class _IsAdmin:
    value: bool

    def allows(self, env: _Env) -> bool:
        return env.ctx.is_admin == self.value


@dataclass(frozen=True)
class _Match:
    attribute: str  # project_id or user_id of the caller
    value: str
    from_target: bool

    def allows(self, env: _Env) -> bool:
        expected = env.target.get(self.value) if self.from_target else self.value
        return expected is not None and getattr(env.ctx, self.attribute) == expected


@dataclass(frozen=True)
class _RuleRef:
    name: str

    def allows(self, env: _Env) -> bool:
        return env.rules[self.name].allows(env)


@dataclass(frozen=True)
class _Not:
    operand: Check

    def allows(self, env: _Env) -> bool:
        return not self.operand.allows(env)


@dataclass(frozen=True)
class _All:
    operands: tuple[Check, ...]

    def allows(self, env: _Env) -> bool:
        return all(check.allows(env) for check in self.operands)


@dataclass(frozen=True)
class _Any:
    operands: tuple[Check, ...]

    def allows(self, env: _Env) -> bool:
        return any(check.allows(env) for check in self.operands)


_TARGET_KEYS = ("project_id", "user_id")
_KINDS = ("role", "is_admin", "project_id", "user_id", "rule")


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


class _Parser:
    """rule := or ; or := and ("or" and)* ; and := unary ("and" unary)* ;
    unary := "not" unary | "(" or ")" | check"""

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

    def parse(self) -> Check:
        check = self._or()
        if self.pos != len(self.tokens):
            raise RuleError(f"unexpected {self.tokens[self.pos]!r}")
        return check

    def _or(self) -> Check:
        operands = [self._and()]
        while self._peek() == "or":
            self.pos += 1
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else _Any(tuple(operands))

    def _and(self) -> Check:
        operands = [self._unary()]
        while self._peek() == "and":
            self.pos += 1
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else _All(tuple(operands))

    def _unary(self) -> Check:
        token = self._take()
        if token.lower() == "not":
            return _Not(self._unary())
        if token == "(":
            inner = self._or()
            if self._take() != ")":
                raise RuleError("a '(' is not closed")
            return inner
        return _check(token)


def _check(token: str) -> Check:
    if token in ("@", "!"):
        return _Const(token == "@")
    kind, sep, value = token.partition(":")
    if not sep or kind not in _KINDS or not value:
        raise RuleError(f"{token!r} is not a check; use @, !, or one of {', '.join(_KINDS)}")
    if kind == "role":
        return _Role(value.lower())
    if kind == "rule":
        return _RuleRef(value)
    if kind == "is_admin":
        if value.lower() not in ("true", "false"):
            raise RuleError(f"is_admin takes True or False, not {value!r}")
        return _IsAdmin(value.lower() == "true")
    if value.startswith("%(") and value.endswith(")s"):
        key = value[2:-2]
        if key not in _TARGET_KEYS:
            raise RuleError(f"%({key})s: the target has only {', '.join(_TARGET_KEYS)}")
        return _Match(kind, key, from_target=True)
    return _Match(kind, value, from_target=False)


def parse_rule(text: str) -> Check:
    """The check a rule string describes; an empty rule allows, as in oslo.policy."""
    tokens = _tokenize(text)
    return _Parser(tokens).parse() if tokens else _Const(True)


def _references(check: Check) -> Iterator[str]:
    if isinstance(check, _RuleRef):
        yield check.name
    elif isinstance(check, _Not):
        yield from _references(check.operand)
    elif isinstance(check, _All | _Any):
        for operand in check.operands:
            yield from _references(operand)


class RuleSet:
    """Named rules (defaults, some overridden), every one parsed and checked up front."""

    def __init__(
        self, defaults: Mapping[str, str], overrides: Mapping[str, str] | None = None
    ) -> None:
        unknown = sorted(set(overrides or {}) - set(defaults))
        if unknown:
            raise UnknownRuleName(f"unknown rule name(s): {', '.join(unknown)}")
        self.texts = {**defaults, **(overrides or {})}
        self.rules: dict[str, Check] = {}
        for name, text in self.texts.items():
            try:
                self.rules[name] = parse_rule(text)
            except RuleError as exc:
                raise RuleError(f"rule {name!r} ({text!r}): {exc}") from None
        self._check_references()

    def _check_references(self) -> None:
        """Every `rule:` names a rule, and no rule refers back to itself."""

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in path:
                raise RuleError(f"rules refer to each other in a loop: {' -> '.join(path)}")
            for ref in _references(self.rules[name]):
                if ref not in self.rules:
                    raise RuleError(f"rule {name!r} refers to unknown rule {ref!r}")
                visit(ref, (*path, name))

        for name in self.rules:
            visit(name, ())

    def is_allowed(self, ctx: RequestContext, rule: str, target: Target | None = None) -> bool:
        """Whether rule allows ctx to act on target (default: the caller's own project)."""
        check = self.rules.get(rule)
        if check is None:  # a bug, not a request problem: fail closed, loudly
            log.error("policy rule %r is not defined; denying", rule)
            return False
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        return check.allows(_Env(ctx, target, self.rules))
