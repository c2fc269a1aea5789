"""Rules whose match starts before their trigger (e-mail, IPv6): the search for the match
starts after the last byte no match can contain, not ``lookback`` bytes before the trigger,
and finds what a search of the whole window finds."""

from __future__ import annotations

import random
import re
import re._constants as sre_constants
import re._parser as sre_parser
from typing import Any

import pytest

from gateway.redaction import entities as E
from gateway.redaction.builtin import _MAX_AFTER_TRIGGER, BuiltinDetector, _confirm
from gateway.redaction.patterns import RULES, Rule
from gateway.redaction.scanner import ReScanner

LOOKBACK_RULES = [rule for rule in RULES if rule.lookback]
ALL_BYTES = frozenset(range(256))


def _bytes_of(items: Any) -> set[int]:
    """Every byte a match of the parsed expression can contain (look-arounds consume none)."""
    found: set[int] = set()
    for op, av in items:
        if op is sre_constants.LITERAL:
            found.add(av)
        elif op is sre_constants.NOT_LITERAL:
            found |= ALL_BYTES - {av}
        elif op is sre_constants.ANY:
            found |= ALL_BYTES - {ord("\n")}
        elif op is sre_constants.IN:
            found |= _class_bytes(av)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            found |= _bytes_of(av[2])
        elif op is sre_constants.SUBPATTERN:
            found |= _bytes_of(av[3])
        elif op is sre_constants.BRANCH:
            for branch in av[1]:
                found |= _bytes_of(branch)
        elif op not in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            raise AssertionError(f"no rule for {op} in this test's pattern walk")
    return found


def _class_bytes(items: Any) -> set[int]:
    members: set[int] = set()
    negated = False
    for op, av in items:
        if op is sre_constants.NEGATE:
            negated = True
        elif op is sre_constants.LITERAL:
            members.add(av)
        elif op is sre_constants.RANGE:
            members |= set(range(av[0], av[1] + 1))
        else:
            # a category such as \s: its bytes, as the pattern's own engine sees them
            members |= {
                b for b in ALL_BYTES if re.fullmatch(rb"[" + _category(av) + rb"]", bytes([b]))
            }
    return set(ALL_BYTES - members) if negated else members


def _category(category: Any) -> bytes:
    return {
        sre_constants.CATEGORY_SPACE: rb"\s",
        sre_constants.CATEGORY_DIGIT: rb"\d",
        sre_constants.CATEGORY_WORD: rb"\w",
    }[category]


def _made_of(rule: Rule) -> set[int]:
    member = re.compile(rule.made_of)
    return {b for b in ALL_BYTES if member.fullmatch(bytes([b]))}


def test_the_look_back_rules_are_the_e_mail_and_ipv6_rules() -> None:
    assert {rule.entity for rule in LOOKBACK_RULES} == {E.EMAIL_ADDRESS, E.IP_ADDRESS}


@pytest.mark.parametrize("rule", LOOKBACK_RULES, ids=lambda rule: rule.entity)
def test_made_of_has_every_byte_a_match_can_contain(rule: Rule) -> None:
    assert rule.made_of, "a look-back rule without made_of searches its whole window"
    parsed = sre_parser.parse(rule.pattern.pattern, rule.pattern.flags)
    assert _bytes_of(parsed) <= _made_of(rule)


@pytest.mark.parametrize("rule", LOOKBACK_RULES, ids=lambda rule: rule.entity)
def test_no_match_is_empty(rule: Rule) -> None:
    """The search for the next match goes on where the previous one ended."""
    parsed = sre_parser.parse(rule.pattern.pattern, rule.pattern.flags)
    assert parsed.getwidth()[0] > 0


def _search_whole_window(rule: Rule, data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """What the match of a look-back rule is by definition: the first match in the window
    that reaches past the trigger's start, unless it starts after the trigger."""
    for match in rule.pattern.finditer(
        data, max(0, start - rule.lookback), end + _MAX_AFTER_TRIGGER
    ):
        if match.start() >= end:
            return None
        if match.end() > start:
            return match.span()
    return None


PIECES = {
    E.EMAIL_ADDRESS: [
        "ab",
        "x",
        ".",
        "-",
        "_",
        "%",
        "+",
        "@",
        "@mail.io",
        ".de",
        "é",
        "9",
        " ",
        "\n",
        ":",
    ],
    E.IP_ADDRESS: ["::", ":", "f", "0a", "1", ".", "7.1", "g", "Z", " ", "-", "::1"],
}
"""pieces of the texts: the characters of a match, and some that end one"""


@pytest.mark.parametrize("rule", LOOKBACK_RULES, ids=lambda rule: rule.entity)
@pytest.mark.parametrize("seed", range(3))
def test_the_match_is_the_one_a_search_of_the_whole_window_finds(rule: Rule, seed: int) -> None:
    rng = random.Random(seed)
    index = RULES.index(rule)
    scanner = ReScanner([r.triggers for r in RULES])
    pieces = PIECES[rule.entity]
    checked = 0
    for _ in range(1500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 150)))
        data = text.encode()
        for hit_rule, start, end in scanner.scan(data):
            if hit_rule != index:
                continue
            match = _confirm(rule, data, start, end)
            assert (match.span() if match else None) == _search_whole_window(
                rule, data, start, end
            ), (text, start, end)
            checked += match is not None
    assert checked > 100  # the alphabets make matches, not only near misses


def test_a_window_made_only_of_address_bytes_is_searched_from_its_start() -> None:
    """No byte before the trigger ends the search early: it starts ``lookback`` bytes back,
    where no match can start (the run goes on), and finds the address after the first @."""
    text = "a" * 100 + "@b.cc" + "x" * 30 + "@example.com"
    found = BuiltinDetector().detect(text)
    assert [(f.entity, text[f.start : f.end]) for f in found] == [
        (E.EMAIL_ADDRESS, "b.cc" + "x" * 30 + "@example.com")
    ]


def test_a_card_number_as_an_e_mail_local_part_is_redacted_as_the_address() -> None:
    """Two overlapping candidates (the card, then the address around it): the longer wins."""
    text = "pay 4111111111111111+x@example.com now"
    for detector in (BuiltinDetector(), BuiltinDetector(prefer_hyperscan=False)):
        found = detector.detect(text)
        assert [(f.entity, text[f.start : f.end]) for f in found] == [
            (E.EMAIL_ADDRESS, "4111111111111111+x@example.com")
        ]
