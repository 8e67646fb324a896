"""The pure parts of the customer flows: address ids, VAT checks, field ownership and digests, the mapping file
of the customer flows (no services needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from integration.canonical import Address, Customer
from integration.errors import ConfigurationError, PermanentError
from integration.flows.customer_sync import address_id
from integration.flows.customers import kind_of
from integration.mapping.customer_fields import (
    address_record,
    digest,
    m3_changes_for_shop,
    shop_changes_for_m3,
    street_for_shop,
)
from integration.mapping.engine import MappingEngine
from integration.validation.vat import vat_problem

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture(scope="module")
def engine() -> MappingEngine:
    return MappingEngine.load(MAPPINGS)


def test_address_ids_are_six_characters_and_never_plain_digits():
    assert address_id(10) == "W0000A" and address_id(36) == "W00010" and address_id(36**5 - 1) == "WZZZZZ"
    with pytest.raises(PermanentError):
        address_id(36**5)


@pytest.mark.parametrize(("number", "country", "level", "problem"), [
    ("FR40303265045", "", "format", False), ("FR 403 032 650 45", "", "format", False),
    ("40303265045", "FR", "format", False), ("FR123", "", "format", True), ("DE123456789", "", "format", False),
    ("DE123456789", "", "checksum", True), ("GB980780684", "", "checksum", False), ("XY-12", "US", "format", False),
    ("FR123", "", "none", False), ("", "FR", "checksum", False)])
def test_vat_numbers(number: str, country: str, level: str, problem: bool):
    found = vat_problem(number, country, level)
    assert bool(found) is problem, found
    if found:
        assert repr(number) in found


def test_kinds():
    assert kind_of(Customer(1, is_guest=True, company="ACME")) == "guest"
    assert kind_of(Customer(1, company="ACME")) == "b2b" and kind_of(Customer(1, vat_number="FR1")) == "b2b"
    assert kind_of(Customer(1)) == "b2c"


def test_each_way_only_the_owners_fields(engine: MappingEngine):
    customer = Customer(7, email="a@b.fr", first_name="Ana", last_name="Blum")
    address = Address(first_name="Ana", last_name="Blum", street=["8 rue des Lilas"], postcode="69003",
                      city="Lyon", country="FR", phone="+33472000001", ps_address_id=12)
    record = address_record(engine, address, customer, "PS0000007")
    specs = engine.config.customer_sync.addresses.fields
    assert record["CUA1"] == "8 rue des Lilas" and record["PONO"] == "69003"
    sent = {k: digest(v) for k, v in record.items()}
    assert shop_changes_for_m3(engine, specs, record, sent) == {}  # nothing changed since the last write
    moved = {**record, "PONO": "69005", "PHNO": "+33472000002"}
    assert shop_changes_for_m3(engine, specs, moved, sent) == {"PHNO": "+33472000002"}  # M3 owns the postcode
    in_m3 = {**record, "PONO": "69005", "CUA1": "10 rue des Lilas", "PHNO": "+33400000000"}
    assert m3_changes_for_shop(engine, specs, record, in_m3) == {
        "postcode": ["69005"], "street": ["10 rue des Lilas", "", "", ""]}  # the shop owns the phone


def test_street_back_to_the_shop_keeps_its_split():
    assert street_for_shop(["12 rue X", "Bâtiment B", "", ""], ["12 rue X", "Bât. B"], 36, 4) == ("12 rue X",
                                                                                                  "Bâtiment B")
    assert street_for_shop(["1 chemin"], [], 36, 4) == ("1 chemin", "")


def test_the_customer_mapping_file_is_checked(tmp_path: Path):
    target = tmp_path / "m"
    shutil.copytree(MAPPINGS, target)
    sync = target / "customer_sync.yaml"

    def problems() -> set[tuple[str, str]]:
        with pytest.raises(ConfigurationError) as failed:
            MappingEngine.load(target)
        return {(p["file"].rsplit("/", 1)[-1], p["key"]) for p in failed.value.details["problems"]}

    sync.write_text("kinds: {b2c: {template: WEBTMPL, match: phone}}\n")
    assert problems() == {("customer_sync.yaml", "kinds.b2c.match")}
    sync.write_text("kinds: {b2c: {template: WAYTOOLONGTEMPLATE, match: email}}\n"
                    "guests: {mode: shared}\n"
                    "addresses: {fields: {CUA1: {from: address.nowhere}, XXXX: {const: a}}}\n")
    (target / "invoices.yaml").write_text("message: 'invoice {nummer}'\npaid_state: PAID\n")
    assert problems() == {
        ("customer_sync.yaml", "kinds.b2c.template"), ("customer_sync.yaml", "guests.shared_customer"),
        ("customer_sync.yaml", "addresses.fields.CUA1.from"), ("customer_sync.yaml", "addresses.fields.XXXX"),
        ("customer_sync.yaml", "addresses.fields"), ("invoices.yaml", "message"), ("invoices.yaml", "paid_state")}
    (target / "customer_sync.yaml").unlink()
    (target / "invoices.yaml").unlink()
    defaults = MappingEngine.load(target).config  # both files are optional
    assert defaults.customer_sync.kind("b2b").match == "vat_number" and defaults.invoices.paid_state == "PS_OS_PAYMENT"
