"""The ``redaction:`` section of the gateway config.

```yaml
redaction:
  mode: redact            # redact | mask | block | off (default: redact)
  reversible: false       # restore placeholders in the answer for the caller
  scan_responses: false   # scan what the model answers too (streams included)
  fail_open: false        # let a request through unredacted when detection fails (counted)
  entities: null          # a subset of the entity names; default: every built-in entity
  presidio: false         # add Presidio's NER entities (PERSON, LOCATION); must be installed
  teams: {research: mask} # per-team modes; a key's own mode beats its team's
```
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.redaction import entities as E

Mode = Literal["redact", "mask", "block", "off"]
MODES: tuple[str, ...] = get_args(Mode)


class RedactionConfig(BaseModel):
    """How personal data and secrets are kept from the models. Secure by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = Field("redact", description="default: redact (typed placeholders)")
    reversible: bool = Field(
        False,
        description="default: placeholders stay in the answer; true restores the caller's own "
        "values from a mapping held in the request's memory only",
    )
    scan_responses: bool = Field(False, description="default: answers are not scanned")
    fail_open: bool = Field(
        False,
        description="default: a request is refused (503 redaction_unavailable) when detection "
        "fails; true lets it through unredacted and counts it in "
        "gatehouse_redaction_fail_open_total",
    )
    entities: tuple[str, ...] | None = Field(
        None, description="default: every built-in entity (and PERSON, LOCATION with presidio)"
    )
    presidio: bool = Field(
        False, description="default: built-in detectors only; true needs presidio-analyzer"
    )
    teams: dict[str, Mode] = Field(default_factory=dict, description="team name -> mode")

    @model_validator(mode="after")
    def _check_entities(self) -> RedactionConfig:
        if self.entities is None:
            return self
        if not self.entities:
            raise ValueError(
                "redaction.entities is empty, which would scan for nothing; list entity "
                "names, omit the key for all of them, or set mode: off explicitly"
            )
        known = E.ALL if self.presidio else E.BUILTIN
        unknown = [e for e in self.entities if e not in known]
        if unknown:
            hint = (
                " (PERSON and LOCATION need presidio: true)"
                if set(unknown) & E.NER and not self.presidio
                else ""
            )
            raise ValueError(
                f"redaction.entities has unknown entity names {unknown}{hint}; expected any of "
                f"{sorted(known)}"
            )
        return self

    def mode_for(self, *, key_mode: str | None, team: str | None) -> Mode:
        """The key's own mode beats its team's, which beats the default."""
        if key_mode is not None:
            return _parse_mode(key_mode, "the API key's redaction override")
        if team is not None and team in self.teams:
            return self.teams[team]
        return self.mode

    @property
    def detected_entities(self) -> frozenset[str]:
        if self.entities is not None:
            return frozenset(self.entities)
        return E.ALL if self.presidio else E.BUILTIN


def _parse_mode(value: str, where: str) -> Mode:
    for mode in MODES:
        if value == mode:
            return mode  # type: ignore[return-value]
    raise ValueError(f"{where} is {value!r}; expected one of {list(MODES)}")
