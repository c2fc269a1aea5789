"""Redaction benchmark: throughput, recall and precision on a labelled synthetic corpus.

    python -m bench.redaction [--mb 8] [--seed 7]

The corpus mixes prose, code, logs and JSON. Into it are planted true values of every
built-in entity (generated valid: check digits computed, numbering plans respected) and
near misses that must not be redacted (IBANs and cards with a wrong check digit, an invalid
BSN, a PESEL with an impossible date, SSNs in never-issued areas, long order numbers,
timestamps, UUIDs, hashes). Recall and precision count a detection as correct when it has
the planted entity type and overlaps the planted span.

When ``presidio_analyzer`` is importable, Presidio's AnalyzerEngine runs on the same corpus,
restricted to the entities both detectors name, with a blank spaCy pipeline (pattern
recognizers only; no model download). Otherwise the report says why it did not run.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import string
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from prometheus_client import CollectorRegistry
from stdnum import iban, luhn
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.iso7064 import mod_11_10
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel

from gateway.redaction import entities as E
from gateway.redaction.builtin import BuiltinDetector
from gateway.redaction.config import RedactionConfig
from gateway.redaction.engine import Redactor
from gateway.redaction.payload import map_request

Label = tuple[str, int, int]


# ----------------------------------------------------------------------------- generators


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _card(rng: random.Random, valid: bool = True) -> str:
    prefix = rng.choice(["4", "51", "55", "2221", "37", "6011"])
    length = 15 if prefix == "37" else 16
    body = prefix + _digits(rng, length - len(prefix) - 1)
    check = int(luhn.calc_check_digit(body))
    digits = body + str(check if valid else (check + rng.randint(1, 9)) % 10)
    if rng.random() < 0.5:
        return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return digits


def _iban(rng: random.Random, valid: bool = True) -> str:
    cc, prefix, digits = rng.choice(
        [("DE", "", 18), ("NL", "ABNA", 10), ("GB", "NWBK", 14), ("AT", "", 16)]
    )
    bban = prefix + _digits(rng, digits)
    check = iban.calc_check_digits(cc + "00" + bban)
    number = cc + check + bban
    assert iban.is_valid(number), number
    if not valid:
        wrong = f"{(int(check) + rng.randint(1, 9)) % 97:02d}"
        number = cc + wrong + bban
    if rng.random() < 0.5:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def _phone(rng: random.Random) -> str:
    templates = [
        "+49 30 {8}",
        "+49 151 {8}",
        "030 {8}",
        "+33 6 {2} {2} {2} {2}",
        "06 {2} {2} {2} {2}",
        "+34 612 {3} {3}",
        "612 {2} {2} {2}",
        "+39 333 {3} {4}",
        "333 {3} {4}",
        "+31 6 {8}",
        "06-{8}",
        "+48 512 {3} {3}",
        "512 {3} {3}",
        "+44 20 7946 {4}",
        "020 7946 {4}",
    ]
    while True:
        text = rng.choice(templates)
        for n in range(8, 1, -1):
            while "{" + str(n) + "}" in text:
                text = text.replace("{" + str(n) + "}", _digits(rng, n), 1)
        region = None if text.startswith("+") else "DE"
        for region in (
            [None] if text.startswith("+") else ["DE", "FR", "ES", "IT", "NL", "PL", "GB"]
        ):
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
                    return text
            except phonenumbers.NumberParseException:
                continue


def _ssn(rng: random.Random, valid: bool = True) -> str:
    if valid:
        area = rng.choice([n for n in range(1, 900) if n != 666])
        return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    return (
        rng.choice(["666", "000", "912"]) + f"-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    )


def _de_tax_id(rng: random.Random) -> str:
    while True:
        digits = [rng.choice("123456789")] + [rng.choice(string.digits) for _ in range(9)]
        counts = Counter(digits)
        if (
            sorted(counts.values(), reverse=True)[:2] == [2, 1]
            and list(counts.values()).count(2) == 1
        ):
            body = "".join(digits)
            return body + mod_11_10.calc_check_digit(body)


def _fr_nir(rng: random.Random) -> str:
    body = f"{rng.randint(1, 2)}{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}"
    body += f"{rng.randint(1, 95):02d}{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    number = body + nir.calc_check_digits(body + "00")
    if rng.random() < 0.5:
        return " ".join(
            [
                number[0],
                number[1:3],
                number[3:5],
                number[5:7],
                number[7:10],
                number[10:13],
                number[13:],
            ]
        )
    return number


def _es_dni(rng: random.Random) -> str:
    body = _digits(rng, 8)
    return body + dni.calc_check_digit(body)


def _es_nie(rng: random.Random) -> str:
    prefix = rng.choice("XYZ")
    body = _digits(rng, 7)
    return prefix + body + dni.calc_check_digit(str("XYZ".index(prefix)) + body)


def _it_cf(rng: random.Random) -> str:
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(6))
    body = letters + f"{rng.randint(40, 99)}" + rng.choice("ABCDEHLMPRST")
    body += f"{rng.randint(1, 28):02d}" + rng.choice("ABCDEFGHILM") + _digits(rng, 3)
    return body + codicefiscale.calc_check_digit(body)


def _nl_bsn(rng: random.Random, valid: bool = True) -> str:
    while True:
        number = rng.choice("123456789") + _digits(rng, 8)
        if bsn.is_valid(number) == valid:
            return number


def _pesel(rng: random.Random, valid_date: bool = True) -> str:
    month = rng.randint(1, 12) if valid_date else rng.choice([13, 14, 15, 16, 17, 18, 19, 20])
    body = f"{rng.randint(40, 99):02d}{month:02d}{rng.randint(1, 28):02d}{_digits(rng, 4)}"
    return body + pesel.calc_check_digit(body)


def _b64(
    rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits + "+/"
) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _jwt(rng: random.Random) -> str:
    url = string.ascii_letters + string.digits + "-_"
    return f"eyJ{_b64(rng, 33, url)}.eyJ{_b64(rng, rng.randint(40, 200), url)}.{_b64(rng, 43, url)}"


def _pem(rng: random.Random) -> str:
    lines = "\n".join(_b64(rng, 64) for _ in range(rng.randint(3, 12)))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{lines}\n-----END RSA PRIVATE KEY-----"


@dataclass(frozen=True)
class Plant:
    """A value to plant: how it is introduced, which part of it is the labelled value."""

    entity: str | None  # None: a near miss that must not be detected
    make: Callable[[random.Random], tuple[str, str]]  # -> (lead-in text, value)


def _p(entity: str | None, lead: str, make: Callable[[random.Random], str]) -> Plant:
    return Plant(entity, lambda rng: (lead, make(rng)))


PLANTS: tuple[Plant, ...] = (
    _p(
        E.EMAIL_ADDRESS,
        "write to ",
        lambda r: (
            f"{r.choice(['anna', 'j.smith', 'lukas.meyer'])}{r.randint(1, 999)}"
            f"@{r.choice(['example.com', 'bank.de', 'mail.co.uk'])}"
        ),
    ),
    _p(E.PHONE_NUMBER, "call ", _phone),
    _p(E.CREDIT_CARD, "card ", _card),
    _p(E.IBAN_CODE, "IBAN ", _iban),
    _p(E.IP_ADDRESS, "from ", lambda r: ".".join(str(r.randint(1, 254)) for _ in range(4))),
    _p(
        E.IP_ADDRESS,
        "peer ",
        lambda r: f"2001:db8:{r.randint(1, 65535):x}::{r.randint(1, 65535):x}",
    ),
    _p(E.US_SSN, "SSN ", _ssn),
    _p(E.DE_TAX_ID, "Steuer-ID ", _de_tax_id),
    _p(E.FR_NIR, "NIR ", _fr_nir),
    _p(E.ES_NIF, "DNI ", _es_dni),
    _p(E.ES_NIE, "NIE ", _es_nie),
    _p(E.IT_FISCAL_CODE, "codice fiscale ", _it_cf),
    _p(E.NL_BSN, "BSN ", _nl_bsn),
    _p(E.PL_PESEL, "PESEL ", _pesel),
    _p(
        E.AWS_ACCESS_KEY_ID,
        "key_id=",
        lambda r: "AKIA" + _b64(r, 16, string.ascii_uppercase + "234567"),
    ),
    _p(E.AWS_SECRET_ACCESS_KEY, "aws_secret_access_key = ", lambda r: _b64(r, 40)),
    _p(
        E.AZURE_STORAGE_KEY,
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=",
        lambda r: _b64(r, 86) + "==",
    ),
    _p(
        E.AZURE_SAS_SIGNATURE,
        "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=",
        lambda r: _b64(r, 43, string.ascii_letters + string.digits) + "%3D",
    ),
    _p(
        E.GCP_API_KEY,
        "key=",
        lambda r: "AIza" + _b64(r, 35, string.ascii_letters + string.digits + "-_"),
    ),
    _p(E.PRIVATE_KEY, "key:\n", _pem),
    _p(
        E.BEARER_TOKEN,
        "Authorization: Bearer ",
        lambda r: _b64(r, 40, string.ascii_letters + string.digits),
    ),
    _p(E.JWT, "token ", _jwt),
    # near misses
    _p(None, "IBAN ", lambda r: _iban(r, valid=False)),
    _p(None, "card ", lambda r: _card(r, valid=False)),
    _p(None, "BSN ", lambda r: _nl_bsn(r, valid=False)),
    _p(None, "PESEL ", lambda r: _pesel(r, valid_date=False)),
    _p(None, "SSN ", lambda r: _ssn(r, valid=False)),
    _p(None, "order ", lambda r: r.choice("123456789") + _digits(r, 11)),
    _p(None, "ticket ", lambda r: "INC" + _digits(r, 9)),
    _p(
        None,
        "at ",
        lambda r: (
            f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} "
            f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        ),
    ),
    _p(
        None,
        "amount ",
        lambda r: f"{r.randint(1, 999)},{r.randint(0, 999):03d}.{r.randint(0, 99):02d} EUR",
    ),
)

_PROSE = (
    "the customer asked about the status of the transfer and whether the branch could confirm "
    "the details before the end of the quarter we reviewed the contract and found no issue "
    "with the schedule please summarise the attached notes for the risk committee"
)
_WORDS = _PROSE.split()


def _prose(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(20, 60))).capitalize() + "."


def _code(rng: random.Random) -> str:
    name = rng.choice(["load", "parse", "settle", "score"])
    return (
        f"def {name}_{rng.randint(1, 99)}(items: list[dict]) -> int:\n"
        f"    total = sum(i['amount'] for i in items if i['id'] > {rng.randint(100, 99999)})\n"
        f"    return total * {rng.randint(2, 9)} // {rng.randint(10, 1000)}"
        f"  # see ticket {rng.randint(1000, 9999)}\n"
    )


def _log(rng: random.Random) -> str:
    uid = "-".join(_b64(rng, n, "0123456789abcdef") for n in (8, 4, 4, 4, 12))
    return (
        f"2024-05-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
        f"{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z INFO request_id={uid} "
        f"status={rng.choice([200, 201, 404, 503])} took={rng.randint(1, 900)}ms "
        f"sha={_b64(rng, 40, '0123456789abcdef')}"
    )


def _json(rng: random.Random) -> str:
    return (
        f'{{"id": {rng.randint(1, 10**9)}, '
        f'"version": "{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}", '
        f'"price": {rng.randint(1, 9999)}.{rng.randint(0, 99):02d}, '
        '"tags": ["a", "b"], "ok": true}'
    )


_FILLERS = (_prose, _code, _log, _json)


@dataclass
class Corpus:
    documents: list[str] = field(default_factory=list)
    labels: list[list[Label]] = field(default_factory=list)
    near_misses: int = 0

    @property
    def size(self) -> int:
        return sum(len(d.encode()) for d in self.documents)


def make_corpus(megabytes: float, seed: int, plant_every: int | None = 6) -> Corpus:
    """Documents of about 4 KB of mixed filler, with a value planted after one filler in
    ``plant_every`` on average (fillers are about 100 bytes); ``None`` plants nothing."""
    rng = random.Random(seed)
    corpus = Corpus()
    target = int(megabytes * 1_000_000)
    while corpus.size < target:
        parts: list[str] = []
        labels: list[Label] = []
        length = 0
        while length < 4000:
            part = rng.choice(_FILLERS)(rng)
            if plant_every is not None and rng.randrange(plant_every) == 0:
                plant = rng.choice(PLANTS)
                lead, value = plant.make(rng)
                part += f" {lead}"
                if plant.entity is None:
                    corpus.near_misses += 1
                else:
                    offset = length + len(part)
                    labels.append((plant.entity, offset, offset + len(value)))
                part += value + " ."
            parts.append(part)
            length += len(part) + 1
        corpus.documents.append("\n".join(parts))
        corpus.labels.append(labels)
    return corpus


# ----------------------------------------------------------------------------- measuring


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)

    def add(self, labels: list[Label], found: Iterable[Label]) -> None:
        found = list(found)
        hit: set[int] = set()
        for entity, start, end in found:
            match = next(
                (i for i, (e, s, t) in enumerate(labels) if e == entity and s < end and start < t),
                None,
            )
            if match is None:
                self.fp[entity] += 1
            else:
                hit.add(match)
        for i, (entity, _, _) in enumerate(labels):
            (self.tp if i in hit else self.fn)[entity] += 1

    def rates(self, entities: Iterable[str] | None = None) -> tuple[float, float]:
        keys = set(entities) if entities is not None else set(self.tp) | set(self.fn) | set(self.fp)
        tp = sum(self.tp[k] for k in keys)
        fn = sum(self.fn[k] for k in keys)
        fp = sum(self.fp[k] for k in keys)
        return tp / max(tp + fn, 1), tp / max(tp + fp, 1)


def throughput(detect: Callable[[str], Any], corpus: Corpus, repeat: int) -> float:
    """Best of ``repeat`` passes over the corpus, in MB (10^6 bytes of UTF-8) per second of
    this process's CPU time: single-threaded, so one core, and not skewed by other jobs
    sharing the machine."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for document in corpus.documents:
            detect(document)
        best = min(best, time.process_time() - started)
    return corpus.size / best / 1e6


def score(detect: Callable[[str], Iterable[Label]], corpus: Corpus) -> Score:
    result = Score()
    for document, labels in zip(corpus.documents, corpus.labels, strict=True):
        result.add(labels, detect(document))
    return result


PRESIDIO_SHARED = (
    E.EMAIL_ADDRESS,
    E.PHONE_NUMBER,
    E.CREDIT_CARD,
    E.IBAN_CODE,
    E.IP_ADDRESS,
    E.US_SSN,
)
"""Entities Presidio's English recognizers name the same way."""


def presidio_detector(
    threshold: float,
) -> tuple[Callable[[str], list[Label]] | None, str]:
    """Presidio restricted to :data:`PRESIDIO_SHARED`, keeping results scored ``threshold``
    or more (Presidio's own default is 0: every match, however weak)."""
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError as exc:
        return None, f"not run: presidio_analyzer is not installed ({exc.name})"
    # Its e-mail recognizer asks tldextract for the public-suffix list online; offline it
    # falls back to the bundled copy after logging the failure.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)

    class BlankSpacy(SpacyNlpEngine):  # type: ignore[misc]
        """Pattern recognizers only: a blank English pipeline, no model download."""

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])

    def detect(text: str) -> list[Label]:
        results = analyzer.analyze(
            text=text, language="en", entities=list(PRESIDIO_SHARED), score_threshold=threshold
        )
        return [(r.entity_type, r.start, r.end) for r in results]

    detect("warm up: a@example.com")  # the first call loads the suffix list
    return detect, f"score >= {threshold}"


def _builtin(
    entities: Iterable[str] | None = None, *, prefer_hyperscan: bool = True
) -> Callable[[str], list[Label]]:
    detector = BuiltinDetector(entities, prefer_hyperscan=prefer_hyperscan)
    return lambda text: [(f.entity, f.start, f.end) for f in detector.detect(text)]


def request_cost(repeat: int = 2000) -> tuple[float, float, int]:
    """Median and 99th percentile microseconds of redacting one chat request body (a
    session, every message walked, two values replaced), and the body's size in bytes."""
    rng = random.Random(1)
    history = [
        {"role": "system", "content": _prose(rng)},
        {"role": "user", "content": _prose(rng) + " My IBAN is DE89 3704 0044 0532 0130 00."},
        {"role": "assistant", "content": _prose(rng)},
        {"role": "user", "content": _code(rng) + "\n" + _log(rng)},
        {"role": "assistant", "content": _prose(rng)},
        {"role": "user", "content": _prose(rng) + " Reply to ada@example.com please."},
    ]
    body = {"model": "chat", "messages": history}
    redactor = Redactor(RedactionConfig(), registry=CollectorRegistry())
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        map_request("chat", body, redactor.session().scan)
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    size = sum(len(m["content"].encode()) for m in history)
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)], size


def _head(corpus: Corpus, megabytes: float) -> Corpus:
    """The first documents of ``corpus``, about ``megabytes`` of them."""
    out = Corpus(near_misses=corpus.near_misses)
    for document, labels in zip(corpus.documents, corpus.labels, strict=True):
        if out.size >= megabytes * 1_000_000:
            break
        out.documents.append(document)
        out.labels.append(labels)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.redaction")
    parser.add_argument("--mb", type=float, default=8.0, help="corpus size in MB (default 8)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes, best kept")
    parser.add_argument(
        "--presidio-mb", type=float, default=1.0, help="corpus share compared with Presidio"
    )
    args = parser.parse_args(argv)

    corpus = make_corpus(args.mb, args.seed)
    planted = sum(len(labels) for labels in corpus.labels)
    engine = BuiltinDetector().engine
    print(
        f"labelled corpus: {corpus.size / 1e6:.1f} MB in {len(corpus.documents)} documents, "
        f"{planted} planted values, {corpus.near_misses} near misses; seed {args.seed}"
    )
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {sys.version.split()[0]}; scanner: {engine}; MB/s per CPU-second, one thread"
    )

    print("\n| corpus | MB | Hyperscan scanner MB/s | re scanner MB/s |")
    print("|---|---:|---:|---:|")
    corpora = (
        make_corpus(args.mb, args.seed, plant_every=None),
        make_corpus(args.mb, args.seed, plant_every=50),
        corpus,
    )
    for sample in corpora:
        values = sum(len(labels) for labels in sample.labels)
        label = (
            f"mixed text, a value every {sample.size / values / 1000:.1f} KB"
            if values
            else "mixed text, no planted value"
        )
        fast = throughput(_builtin(), sample, args.repeat) if engine == "hyperscan" else None
        plain = throughput(_builtin(prefer_hyperscan=False), sample, 1)
        shown = f"{fast:.1f}" if fast is not None else "not run: hyperscan is not installed"
        print(f"| {label} | {sample.size / 1e6:.1f} | {shown} | {plain:.1f} |")

    p50, p99, size = request_cost()
    print(
        f"\none chat request of {size} bytes in 6 messages, 2 values: p50 {p50:.0f} µs, "
        f"p99 {p99:.0f} µs (wall clock)"
    )

    ours = _builtin()
    result = score(ours, corpus)
    recall, precision = result.rates()
    print(
        f"\nbuilt-in, all {len(E.BUILTIN)} entities, labelled corpus: recall {recall:.4f}, "
        f"precision {precision:.4f}"
    )
    print("\n| entity | planted | found | missed | false positives |")
    print("|---|---:|---:|---:|---:|")
    for entity in sorted(E.BUILTIN):
        print(
            f"| {entity} | {result.tp[entity] + result.fn[entity]} | {result.tp[entity]} "
            f"| {result.fn[entity]} | {result.fp[entity]} |"
        )

    head = _head(corpus, args.presidio_mb)
    print(
        f"\nside by side on the first {head.size / 1e6:.1f} MB of the labelled corpus, "
        f"entities {', '.join(PRESIDIO_SHARED)}:"
    )
    print("| detector | MB/s | recall | precision |")
    print("|---|---:|---:|---:|")
    shared = _builtin(PRESIDIO_SHARED)
    s_recall, s_precision = score(shared, head).rates(PRESIDIO_SHARED)
    s_mbs = throughput(shared, head, args.repeat)
    print(f"| Gatehouse built-in | {s_mbs:.1f} | {s_recall:.4f} | {s_precision:.4f} |")
    for threshold in (0.0, 0.5):
        presidio, note = presidio_detector(threshold)
        if presidio is None:
            print(f"| Presidio AnalyzerEngine | {note} | | |")
            break
        p_mbs = throughput(presidio, head, 1)
        p_recall, p_precision = score(presidio, head).rates(PRESIDIO_SHARED)
        print(
            f"| Presidio AnalyzerEngine ({note}) | {p_mbs:.2f} | {p_recall:.4f} "
            f"| {p_precision:.4f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
