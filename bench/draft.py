"""Building one case's content: customers, records, free text, and the labels they carry.

A `Draft` is the mutable work area for one case. Every PII value it hands out is recorded as a
`Label` (as written, after the case's disguise) and every benign value as a `Benign`, so the
format renderers in `bench.formats` never label anything themselves.
"""

from __future__ import annotations

import base64
import datetime
import json
import random
from dataclasses import dataclass, field

from faker import Faker

from bench import values
from bench.cases import Benign, Label
from bench.disguises import (
    CHARACTER,
    ENCODING,
    NUMERIC_ENTITIES,
    SEPARATORS,
    encode_field,
    natural,
    write,
)

__all__ = ["BLOCKING_ENTITIES", "Draft", "Profile", "Record", "make_profile"]

# Entities the default policy blocks on; the rest are rewritten in place.
BLOCKING_ENTITIES = ("US_SSN", "US_BANK_NUMBER", "IBAN_CODE")
REWRITTEN_ENTITIES = (
    "CREDIT_CARD",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IP_ADDRESS",
    "PERSON",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
)
# Entities that bare values in a tersely named field stand for.
FIELD_CONTEXT_ENTITIES = (
    "CREDIT_CARD",
    "US_SSN",
    "US_BANK_NUMBER",
    "DATE_OF_BIRTH",
    "PHONE_NUMBER",
)

_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "CREDIT_CARD": ("card_number", "cardNumber", "payment_card", "credit_card"),
    "US_SSN": ("social_security_number", "ssn", "customer_ssn"),
    "US_BANK_NUMBER": ("bank_account_number", "account_number", "bankAccount"),
    "ABA_ROUTING_NUMBER": ("routing_number", "aba_routing", "routingNumber"),
    "IBAN_CODE": ("iban", "bank_iban", "refund_iban"),
    "EMAIL_ADDRESS": ("email", "contact_email", "customerEmail"),
    "PHONE_NUMBER": ("phone", "mobile", "callback_number"),
    "IP_ADDRESS": ("client_ip", "ip_address", "last_login_ip"),
    "PERSON": ("name", "customer_name", "full_name"),
    "STREET_ADDRESS": ("street_address", "address_line1", "street"),
    "DATE_OF_BIRTH": ("date_of_birth", "birth_date", "dateOfBirth"),
}
# Terse names: the only hint of what a bare value is (the `field_names` disguise).
_TERSE_NAMES: dict[str, tuple[str, ...]] = {
    "CREDIT_CARD": ("card_number", "cc", "pan"),
    "US_SSN": ("ssn",),
    "US_BANK_NUMBER": ("acct", "acct_no"),
    "ABA_ROUTING_NUMBER": ("routing_number", "aba"),
    "PHONE_NUMBER": ("tel", "ph"),
    "DATE_OF_BIRTH": ("dob",),
}
_SPLIT_NAMES = (("card_part1", "card_part2"), ("card_first8", "card_last8"))
_BENIGN_NAMES: dict[str, tuple[str, ...]] = {
    "TICKET_ID": ("ticket_id", "ticketId", "case_ref"),
    "ORDER_NUMBER": ("order_number", "order_id", "orderNo"),
    "ISO_TIMESTAMP": ("created_at", "updated_at", "timestamp"),
    "AMOUNT": ("amount", "refund_amount", "total"),
    "SKU": ("sku", "item_sku"),
    "TRACKING_NUMBER": ("tracking_number", "tracking"),
    "AGENT_ID": ("agent_id", "handled_by"),
}
_BENIGN_MAKERS = {
    "TICKET_ID": values.ticket_id,
    "ORDER_NUMBER": values.order_number,
    "ISO_TIMESTAMP": values.iso_timestamp,
    "AMOUNT": values.amount,
    "SKU": values.sku,
    "TRACKING_NUMBER": values.tracking_number,
    "AGENT_ID": values.agent_id,
}

# One sentence per entity for notes, transcripts and chat; `{}` is the value.
_SENTENCES: dict[str, tuple[str, ...]] = {
    "PERSON": ("Customer {} called about a double charge.", "Spoke with {} about the refund."),
    "EMAIL_ADDRESS": ("Please send the receipt to {}.", "Customer email on file: {}."),
    "PHONE_NUMBER": ("Call back on {} after 5pm.", "Best number to reach them is {}."),
    "CREDIT_CARD": ("The card {} was charged twice.", "Card on file: {}."),
    "US_SSN": ("SSN given for verification: {}.", "Social security number {} confirmed."),
    "US_BANK_NUMBER": ("Refund to bank account {}.", "Direct deposit account number {}."),
    "ABA_ROUTING_NUMBER": ("Routing number {}.", "ABA routing {} for that account."),
    "IBAN_CODE": ("IBAN for the refund: {}.", "Pay the refund out to IBAN {}."),
    "IP_ADDRESS": ("Login attempts came from {}.", "The order was placed from IP {}."),
    "STREET_ADDRESS": ("Ship the replacement to {}.", "New delivery address is {}."),
    "DATE_OF_BIRTH": ("Date of birth {} verified.", "Customer was born on {}."),
}
# Sentences with nothing personal in them; `{KIND}` is a benign value of that kind.
_CLEAN_SENTENCES = (
    "Parcel {TRACKING_NUMBER} has not moved since {ISO_TIMESTAMP}.",
    "Refund of {AMOUNT} approved for order {ORDER_NUMBER}.",
    "Escalated to tier 2 by {AGENT_ID}.",
    "Replacement item {SKU} shipped today.",
    "Ticket {TICKET_ID} reopened at {ISO_TIMESTAMP}.",
    "Asked about the status of order {ORDER_NUMBER}.",
    "Voucher worth {AMOUNT} offered by {AGENT_ID}.",
)
_SUBJECTS = (
    "Refund request",
    "Delivery delayed",
    "Password reset",
    "Billing question",
    "Order not received",
    "Damaged item",
    "Subscription cancellation",
    "Warranty claim",
)


@dataclass(frozen=True)
class Profile:
    """One customer's PII in canonical form (see `Label.value`), plus unlabelled context."""

    name: str
    email: str
    phone: str
    phone_written: str
    ssn: str
    card: str
    account: str
    routing: str
    iban: str
    ip: str
    street: str
    city: str
    state: str
    zip_code: str
    dob: datetime.date

    def canonical(self, entity: str) -> str:
        """The canonical value of `entity` for this customer."""
        return {
            "CREDIT_CARD": self.card,
            "US_SSN": self.ssn,
            "US_BANK_NUMBER": self.account,
            "ABA_ROUTING_NUMBER": self.routing,
            "IBAN_CODE": self.iban,
            "EMAIL_ADDRESS": self.email,
            "PHONE_NUMBER": self.phone,
            "IP_ADDRESS": self.ip,
            "PERSON": self.name,
            "STREET_ADDRESS": self.street,
            "DATE_OF_BIRTH": self.dob.strftime("%Y%m%d"),
        }[entity]


# In a corpus of other locales (`bench.corpus --locales`), this share of phone numbers is
# written as the locale writes them (`+49 (0) 30 ...`, `0912 345 6789`); the rest stay US/UK.
INTERNATIONAL_PHONE_SHARE = 0.6


def _locale_phone(fake: Faker, rng: random.Random) -> str:
    """A phone number as the locale writes it; Faker's en_PH has none: a Philippine mobile."""
    if hasattr(fake, "phone_number"):
        return str(fake.phone_number())
    digits = "9" + "".join(rng.choice("0123456789") for _ in range(9))
    return rng.choice(
        (
            f"+63 {digits[:3]} {digits[3:6]} {digits[6:]}",
            f"0{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        )
    )


def _region(fake: Faker) -> str:
    """A state, province or region abbreviation where the locale has one, else its city."""
    for provider in ("state_abbr", "administrative_unit", "region", "state"):
        if hasattr(fake, provider):
            return str(getattr(fake, provider)())
    return str(fake.city())


def make_profile(rng: random.Random, fake: Faker, numeric_safe: bool = False) -> Profile:
    """A customer with valid-checksum numbers; `numeric_safe` avoids leading zeros."""
    first, last = fake.first_name(), fake.last_name()
    domain = rng.choice(("gmail.com", "yahoo.com", "outlook.com", fake.domain_name()))
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}"))
    phone, phone_written = values.phone_number(rng)
    if fake.locales != ["en_US"] and rng.random() < INTERNATIONAL_PHONE_SHARE:
        phone_written = _locale_phone(fake, rng)
        phone = "".join(c for c in phone_written.split("x")[0] if c.isdigit())
    return Profile(
        name=f"{first} {last}",
        email=f"{local.lower()}@{domain}",
        phone=phone,
        phone_written=phone_written,
        ssn=values.ssn(rng),
        card=values.card_number(rng),
        account=values.bank_account_number(rng),
        routing=values.aba_routing_number(rng, leading_zero=not numeric_safe),
        iban=values.iban(rng),
        ip=fake.ipv4_public() if rng.random() < 0.85 else fake.ipv6(),
        street=fake.street_address(),
        city=fake.city(),
        state=_region(fake),
        zip_code=fake.postcode(),
        dob=datetime.date(1936, 1, 1) + datetime.timedelta(days=rng.randint(0, 70 * 365)),
    )


@dataclass
class Record:
    """One record's content, in the order a renderer lays it out.

    `benign` and `pii` are (field name, text) pairs, `context` holds unlabelled fields (city,
    state), `notes` free text with PII and benign values in sentences (empty if none).
    """

    benign: list[tuple[str, str]] = field(default_factory=list)
    pii: list[tuple[str, str]] = field(default_factory=list)
    context: list[tuple[str, str]] = field(default_factory=list)
    notes: str = ""

    def flat(self) -> list[tuple[str, str]]:
        """Every field in one list, notes last."""
        notes = [("notes", self.notes)] if self.notes else []
        return [*self.benign, *self.pii, *self.context, *notes]


class Draft:
    """The work area for one case: hands out values and records what it handed out."""

    def __init__(
        self,
        rng: random.Random,
        fake: Faker,
        disguise: str,
        entities: tuple[str, ...],
        benign_kinds: tuple[str, ...],
    ) -> None:
        self.rng, self.fake, self.disguise = rng, fake, disguise
        self.entities = entities
        self.benign_kinds = benign_kinds
        self.labels: list[Label] = []
        self.benign: list[Benign] = []
        self.subject = rng.choice(_SUBJECTS)
        # The layout is fixed per case, so that every row of an export has the same columns.
        terse = disguise == "field_names"
        self.names = {
            e: rng.choice(_TERSE_NAMES.get(e, _FIELD_NAMES[e]) if terse else _FIELD_NAMES[e])
            for e in (*entities, "ABA_ROUTING_NUMBER")
        }
        self.split_names = rng.choice(_SPLIT_NAMES)
        self.benign_names = {k: rng.choice(_BENIGN_NAMES[k]) for k in benign_kinds}
        in_text = () if disguise in ("field_names", "split_card", "base64_blob") else entities
        self.in_notes = frozenset(e for e in in_text if rng.random() < 0.3)

    @property
    def clean(self) -> bool:
        """True for a case that must hold no PII."""
        return not self.entities

    # --- values ---

    def good(self, kind: str) -> str:
        """A benign value of `kind`, recorded."""
        value = _BENIGN_MAKERS[kind](self.rng)
        self.benign.append(Benign(kind, value))
        return value

    def profile(self, numeric_safe: bool = False) -> Profile:
        """A new customer."""
        return make_profile(self.rng, self.fake, numeric_safe)

    def written(self, entity: str, profile: Profile, prose: bool = False) -> tuple[str, str]:
        """(written form, disguise applied) of `entity` for `profile`, not yet encoded."""
        value = profile.canonical(entity)
        if self.disguise == "field_names" and entity in FIELD_CONTEXT_ENTITIES and not prose:
            bare = profile.dob.isoformat() if entity == "DATE_OF_BIRTH" else value
            return bare, "field_names"
        if entity == "PHONE_NUMBER":
            start = profile.phone_written
        elif entity == "DATE_OF_BIRTH" and prose and self.rng.random() < 0.5:
            start = f"{profile.dob:%B} {profile.dob.day}, {profile.dob.year}"
        else:
            start = natural(entity, value, self.rng)
        if self.disguise not in CHARACTER:
            return start, self.disguise if self.disguise in ENCODING else "none"
        if self.disguise in SEPARATORS and not start[:1].isdigit() and entity == "DATE_OF_BIRTH":
            return start, "none"  # "March 5, 1984" has no digit groups to separate
        out = write(entity, value, start, self.disguise, self.rng)
        applies = out != start or (self.disguise in SEPARATORS and entity in NUMERIC_ENTITIES)
        return out, self.disguise if applies else "none"

    def pii(self, entity: str, profile: Profile, prose: bool = False) -> str:
        """The field text of `entity` for `profile`: disguised, encoded, and labelled."""
        text, applied = self.written(entity, profile, prose)
        self.labels.append(Label(entity, profile.canonical(entity), text, applied))
        return encode_field(text, self.disguise, self.rng)

    def split_card(self, profile: Profile) -> tuple[tuple[str, str], tuple[str, str]]:
        """The card split over two adjacent fields: ((name, first part), (name, rest))."""
        card = profile.card
        cut = 8 if len(card) >= 15 else 6
        first, rest = card[:cut], card[cut:]
        self.labels.append(Label("CREDIT_CARD", card, card, "split_card", (first, rest)))
        return (self.split_names[0], first), (self.split_names[1], rest)

    # --- records and text ---

    def sentence(self, entity: str, profile: Profile) -> str:
        """A sentence mentioning `entity`'s value (labelled)."""
        return self.rng.choice(_SENTENCES[entity]).format(self.pii(entity, profile, prose=True))

    def clean_sentence(self) -> str:
        """A sentence with benign values only (recorded)."""
        template = self.rng.choice(_CLEAN_SENTENCES)
        kinds = [k for k in _BENIGN_MAKERS if "{" + k + "}" in template]
        return template.format(**{k: self.good(k) for k in kinds})

    def record(self, notes: bool = True, blob: bool = True) -> Record:
        """One customer record with the case's entities and benign fields.

        Entities the case puts in free text go to `notes`, with a benign sentence if `notes`
        is set. Under the `base64_blob` disguise the PII fields become one base64 field,
        unless `blob` is off (the caller encodes a whole file instead).
        """
        profile = self.profile()
        record = Record(benign=[(self.benign_names[k], self.good(k)) for k in self.benign_kinds])
        sentences: list[str] = []
        for entity in self.entities:
            if entity == "CREDIT_CARD" and self.disguise == "split_card":
                record.pii.extend(self.split_card(profile))
            elif entity in self.in_notes:
                sentences.append(self.sentence(entity, profile))
            else:
                record.pii.append((self.names[entity], self.pii(entity, profile)))
            if entity == "US_BANK_NUMBER":
                record.pii.append(
                    (self.names["ABA_ROUTING_NUMBER"], self.pii("ABA_ROUTING_NUMBER", profile))
                )
            if entity == "STREET_ADDRESS":
                record.context.extend(
                    [("city", profile.city), ("state", profile.state), ("zip", profile.zip_code)]
                )
        if notes:
            sentences.append(self.clean_sentence())
        self.rng.shuffle(sentences)
        record.notes = " ".join(sentences)
        if blob and self.disguise == "base64_blob" and record.pii:
            record.pii = [("attachment_b64", self.blob(json.dumps(dict(record.pii))))]
        return record

    def transcript(self, profile: Profile | None = None) -> list[str]:
        """Call-centre transcript lines: greetings, one line per entity, benign lines."""
        profile = profile or self.profile()
        agent = self.good("AGENT_ID")
        lines = [f"Agent ({agent}): Thank you for calling, how can I help you today?"]
        lines.append(f"Customer: I'm calling about this: {self.subject.lower()}.")
        for entity in self.entities:
            lines.append(f"Customer: {self.sentence(entity, profile)}")
            if entity == "US_BANK_NUMBER":
                lines.append(f"Customer: {self.sentence('ABA_ROUTING_NUMBER', profile)}")
        lines.append(f"Agent ({agent}): {self.clean_sentence()}")
        lines.append(f"Agent ({agent}): {self.clean_sentence()}")
        return lines

    def number(self, entity: str, profile: Profile) -> int:
        """`entity`'s value as a JSON integer (labelled as its digits)."""
        value = profile.canonical(entity)
        applied = "field_names" if self.disguise == "field_names" else "none"
        self.labels.append(Label(entity, value, str(int(value)), applied))
        return int(value)

    def good_number(self) -> int:
        """A card-length order number failing Luhn, as a JSON integer (recorded)."""
        while not (value := values.order_number(self.rng)).isdigit():
            pass
        self.benign.append(Benign("ORDER_NUMBER", value))
        return int(value)

    def blob(self, text: str) -> str:
        """`text` base64-encoded; every label recorded so far is now under the blob disguise."""
        self.labels = [
            Label(x.entity, x.value, x.written, "base64_blob", x.parts) for x in self.labels
        ]
        return base64.b64encode(text.encode()).decode()
