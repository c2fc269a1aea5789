"""The entity types the redactor knows, named as Presidio names them where Presidio has them.

Presidio's names: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN,
IT_FISCAL_CODE, ES_NIF (the DNI with its letter), ES_NIE, PL_PESEL, DE_TAX_ID (Steuerliche
Identifikationsnummer), PERSON, LOCATION. Presidio has no recognizer for the others, so they
carry Gatehouse names: FR_NIR (numéro de sécurité sociale), NL_BSN (burgerservicenummer)
and the secrets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AZURE_STORAGE_KEY (an ``AccountKey=``/``SharedAccessKey=`` value), AZURE_SAS_SIGNATURE (the
``sig=`` of a shared access signature), GCP_API_KEY, PRIVATE_KEY (a PEM or PGP private-key
block), BEARER_TOKEN and JWT.
"""

from __future__ import annotations

EMAIL_ADDRESS = "EMAIL_ADDRESS"
PHONE_NUMBER = "PHONE_NUMBER"
CREDIT_CARD = "CREDIT_CARD"
IBAN_CODE = "IBAN_CODE"
IP_ADDRESS = "IP_ADDRESS"
US_SSN = "US_SSN"
DE_TAX_ID = "DE_TAX_ID"
FR_NIR = "FR_NIR"
ES_NIF = "ES_NIF"
ES_NIE = "ES_NIE"
IT_FISCAL_CODE = "IT_FISCAL_CODE"
NL_BSN = "NL_BSN"
PL_PESEL = "PL_PESEL"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 (a name, not a secret)
AZURE_STORAGE_KEY = "AZURE_STORAGE_KEY"
AZURE_SAS_SIGNATURE = "AZURE_SAS_SIGNATURE"
GCP_API_KEY = "GCP_API_KEY"
PRIVATE_KEY = "PRIVATE_KEY"
BEARER_TOKEN = "BEARER_TOKEN"  # noqa: S105 (a name, not a secret)
JWT = "JWT"
PERSON = "PERSON"
LOCATION = "LOCATION"

NATIONAL_IDS = frozenset(
    {US_SSN, DE_TAX_ID, FR_NIR, ES_NIF, ES_NIE, IT_FISCAL_CODE, NL_BSN, PL_PESEL}
)
SECRETS = frozenset(
    {
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY,
        AZURE_STORAGE_KEY,
        AZURE_SAS_SIGNATURE,
        GCP_API_KEY,
        PRIVATE_KEY,
        BEARER_TOKEN,
        JWT,
    }
)
BUILTIN = frozenset(
    {EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, IP_ADDRESS} | NATIONAL_IDS | SECRETS
)
"""Entities the built-in detector finds; it needs no model."""

NER = frozenset({PERSON, LOCATION})
"""Entities only the optional Presidio backend finds."""

ALL = BUILTIN | NER
