"""Customers both ways, end to end: the PrestaShop sandbox sends signed customer and address webhooks to our
receiver over HTTP, an embedded Celery worker on the live Redis runs the flows, and the Infor sandbox is M3
(its control API plays the M3 users). The race runs on SQLite and on PostgreSQL (``db_url``)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from integration.connectors.prestashop import webhooks
from integration.flows.customer_sync import address_id, poll_m3_customers, poll_shop_changes
from integration.store import models as m
from tests.integration.conftest import WEBHOOK_SECRET, wait_until


class Shop:
    """The two sandboxes, our receiver and store, as a test drives them."""

    def __init__(self, systems: Any):
        self.ps, self.infor, self.receiver, self.rt = systems.ps, systems.infor, systems.receiver, systems.rt
        self.store = self.rt.store

    # the shop
    def register(self, **body: Any) -> tuple[int, int]:
        response = requests.post(f"{self.ps.url}/_sandbox/customers", json=body, timeout=30)
        response.raise_for_status()
        return int(response.json()["id_customer"]), int(response.json()["id_address"])

    def place(self, **body: Any) -> list[int]:
        response = requests.post(f"{self.ps.url}/_sandbox/orders", json={"count": 1, **body}, timeout=30)
        response.raise_for_status()
        return [int(i) for i in response.json()["orders"]]

    def webhooks_off(self) -> None:
        requests.post(f"{self.ps.url}/_sandbox/webhooks", json={"url": ""}, timeout=10).raise_for_status()

    def post_webhook(self, event: str, object_id: int) -> requests.Response:
        body = json.dumps({"event": event, "shop_id": 1, webhooks.EVENTS[event]: object_id}).encode()
        headers = webhooks.sign_headers(WEBHOOK_SECRET, str(uuid.uuid4()), body)
        return requests.post(f"{self.receiver.url}/webhooks/prestashop", data=body, headers=headers, timeout=30)

    @property
    def client(self) -> Any:
        return self.rt.prestashop("default")

    # M3
    def m3_customers(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{self.infor.url}/_sandbox/customers", timeout=10).json()["customers"])

    def m3_customer(self, cuno: str) -> dict[str, Any]:
        [found] = [c for c in self.m3_customers() if c["CUNO"] == cuno]
        return found

    def m3_user_creates(self, **fields: Any) -> dict[str, Any]:
        response = requests.post(f"{self.infor.url}/_sandbox/customers", json=fields, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def m3_user_changes(self, cuno: str, **body: Any) -> dict[str, Any]:
        response = requests.post(f"{self.infor.url}/_sandbox/customers/{cuno}", json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def m3_calls(self) -> dict[str, int]:
        return dict(requests.get(f"{self.infor.url}/_sandbox/stats", timeout=10).json()["by_transaction"])

    # our side
    def events(self, entity: str | None = None, source_id: object = None) -> list[m.SyncEvent]:
        return [e for e in self.store.recent_events(limit=5000) if (entity is None or e.entity == entity)
                and (source_id is None or e.source_id == str(source_id))]

    def settle(self, timeout: float = 90) -> list[m.SyncEvent]:
        """Wait until the shop has sent every webhook and every event is final."""
        requests.post(f"{self.ps.url}/_sandbox/webhooks/drain", json={"timeout": 30}, timeout=60)

        def done() -> list[m.SyncEvent] | None:
            events = self.events()
            return events if events and all(e.status in m.FINAL_STATUSES for e in events) else None

        return list(wait_until(done, timeout=timeout))

    def enqueue(self) -> Any:
        from tasks.dispatch import enqueue

        return enqueue


@pytest.fixture
def shop(systems, worker) -> Shop:
    return Shop(systems)


def test_a_registration_becomes_one_m3_customer_with_its_address(shop: Shop):
    customer_id, address = shop.register(firstname="Inès", lastname="Roux", email="ines.roux@example.fr",
                                         address={"address1": "8 rue des Lilas", "postcode": "69003",
                                                  "city": "Lyon"})
    events = shop.settle()
    assert {e.status for e in events} <= {m.SUCCEEDED, m.SKIPPED}, [(e.entity, e.last_error) for e in events]
    cuno = shop.store.get_binding("default", "customer", str(customer_id))
    assert cuno == "PS" + f"{customer_id:07d}"
    created = shop.m3_customer(cuno)
    assert created["MAIL"] == "ines.roux@example.fr" and created["CUNM"] == "Inès Roux"
    assert created["PONO"] == "69003" and created["TOWN"] == "Lyon" and created["CUCD"] == "EUR"
    [m3_address] = created["addresses"]
    assert (m3_address["ADRT"], m3_address["ADID"]) == ("1", address_id(address))
    assert m3_address["CUA1"] == "8 rue des Lilas"
    assert shop.store.get_binding("default", "address", str(address)) == f"{cuno}/1/{address_id(address)}"
    assert shop.m3_calls().get("CRS610MI/Add") == 1


def test_twenty_concurrent_deliveries_give_one_m3_customer(shop: Shop):
    """A new customer registers and orders at once: registration, address and order webhooks, each delivered
    more than once, race on the receiver and the worker (on PostgreSQL too)."""
    shop.webhooks_off()
    customer_id, address = shop.register(firstname="Zoé", lastname="Faure", email="zoe.faure@example.fr")
    orders = [shop.place(customer_id=customer_id, send_webhook=False)[0] for _ in range(3)]
    deliveries = ([("customer.created", customer_id)] * 4 + [("customer.updated", customer_id)] * 4
                  + [("address.created", address)] * 3 + [("order.created", o) for o in orders for _ in range(3)])
    assert len(deliveries) == 20
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda d: shop.post_webhook(*d), deliveries))
    assert {a.status_code for a in answers} == {202}
    events = shop.settle(timeout=120)
    assert len(events) == 20
    assert {e.status for e in events} <= {m.SUCCEEDED, m.SKIPPED}, [(e.entity, e.last_error) for e in events]
    same = [c for c in shop.m3_customers() if c.get("MAIL") == "zoe.faure@example.fr"]
    assert len(same) == 1
    cuno = same[0]["CUNO"]
    assert shop.store.get_binding("default", "customer", str(customer_id)) == cuno
    assert {e.result["cuno"] for e in events if e.entity == "order" and e.status == m.SUCCEEDED} == {cuno}
    assert shop.m3_calls().get("CRS610MI/Add") == 1
    assert len(same[0]["addresses"]) == 1


def test_an_m3_customer_under_another_number_is_bound_not_recreated(shop: Shop):
    shop.m3_user_creates(CUNO="C0000777", CUNM="Marc Petit", CUA1="2 place Bellecour", PONO="69002",
                         TOWN="Lyon", CSCD="FR", MAIL="marc.petit@example.fr")
    shop.m3_user_creates(CUNO="C0000888", CUNM="Bois & Fils SARL", CUA1="1 rue du Port", PONO="33000",
                         TOWN="Bordeaux", CSCD="FR", VRNO="FR40303265045")
    b2c, _ = shop.register(firstname="Marc", lastname="Petit", email="marc.petit@example.fr")
    b2b, _ = shop.register(firstname="Paul", lastname="Bois", email="paul@bois-fils.fr", company="Bois & Fils SARL",
                           address={"company": "Bois & Fils SARL", "vat_number": "FR 403 032 650 45"})
    shop.settle()
    assert shop.store.get_binding("default", "customer", str(b2c)) == "C0000777"
    assert shop.store.get_binding("default", "customer", str(b2b)) == "C0000888"
    numbers = [c["CUNO"] for c in shop.m3_customers()]
    assert f"PS{b2c:07d}" not in numbers and f"PS{b2b:07d}" not in numbers
    assert shop.m3_calls().get("CRS610MI/Add") is None


def test_ambiguous_matches_are_held_for_review_with_both_candidates(shop: Shop):
    for cuno in ("C0000901", "C0000902"):
        shop.m3_user_creates(CUNO=cuno, CUNM="Anne Morel", CUA1="3 rue Neuve", PONO="75001", TOWN="Paris",
                             CSCD="FR", MAIL="anne.morel@example.fr")
    customer_id, _ = shop.register(firstname="Anne", lastname="Morel", email="anne.morel@example.fr")
    events = shop.settle()
    held = [e for e in events if e.status == m.HELD]
    assert held and {e.entity for e in held} <= {"customer", "address"}
    candidates = held[0].last_error["details"]["candidates"]
    assert sorted(c["cuno"] for c in candidates) == ["C0000901", "C0000902"]
    assert shop.store.binding_row("default", "customer", str(customer_id)) is None  # no claim left behind
    assert f"PS{customer_id:07d}" not in [c["CUNO"] for c in shop.m3_customers()]


def test_an_m3_correction_reaches_the_shop_and_does_not_come_back(shop: Shop):
    """No ping-pong: the address M3 corrects and the credit stop M3 sets are written to the shop; the webhooks
    the shop sends for those writes find nothing the shop owns changed, and M3 is not written again."""
    poll_m3_customers(shop.rt, "default", shop.enqueue())  # the feed starts now
    customer_id, address = shop.register(firstname="Hugo", lastname="Blanc", email="hugo.blanc@example.fr",
                                         address={"address1": "10 rue Victor Hugo", "postcode": "75016",
                                                  "city": "Paris"})
    shop.settle()
    cuno = shop.store.get_binding("default", "customer", str(customer_id))
    shop.m3_user_changes(cuno, fields={"STAT": "90"},
                         address={"ADRT": "1", "ADID": address_id(address), "CUA1": "12 rue Victor Hugo",
                                  "PONO": "75116"})
    before = shop.m3_calls()
    lmts = shop.m3_user_changes(cuno)["LMTS"]  # no change: just the customer as M3 has it
    result = poll_m3_customers(shop.rt, "default", shop.enqueue())
    assert result["enqueued"] == 1
    events = shop.settle()
    [synced] = [e for e in events if e.entity == "m3_customer"]
    assert synced.status == m.SUCCEEDED, synced.last_error
    shop_address = shop.client.get("addresses", address)
    assert shop_address["address1"] == "12 rue Victor Hugo" and shop_address["postcode"] == "75116"
    assert shop.client.get("customers", customer_id)["id_default_group"] == 5  # credit stop, as the mapping says
    echoes = [e for e in shop.events() if e.id > synced.id and e.entity in ("customer", "address")]
    assert echoes and {e.status for e in echoes} == {m.SKIPPED}
    assert all("nothing the shop owns changed" in e.result["skipped"] for e in echoes)
    after = shop.m3_calls()
    for write in ("CRS610MI/ChgBasicData", "CRS610MI/ChgAddress", "CRS610MI/ChgFinancial", "CRS610MI/Add"):
        assert after.get(write, 0) == before.get(write, 0)
    assert shop.m3_user_changes(cuno)["LMTS"] == lmts
    # the next poll sees nothing new; lifting the stop gives the customer its group back
    assert poll_m3_customers(shop.rt, "default", shop.enqueue())["enqueued"] == 0
    shop.m3_user_changes(cuno, fields={"STAT": "20"})
    poll_m3_customers(shop.rt, "default", shop.enqueue())
    shop.settle()
    assert shop.client.get("customers", customer_id)["id_default_group"] == 3


def test_each_field_travels_only_from_the_system_that_owns_it(shop: Shop):
    poll_m3_customers(shop.rt, "default", shop.enqueue())
    customer_id, address = shop.register(firstname="Léo", lastname="Girard", email="leo.girard@example.fr",
                                         address={"address1": "4 quai Saint-Vincent", "postcode": "69001",
                                                  "city": "Lyon", "phone": "04 72 00 00 01"})
    shop.settle()
    cuno = shop.store.get_binding("default", "customer", str(customer_id))
    # M3 changes the e-mail, which the shop owns: the shop keeps its own
    shop.m3_user_changes(cuno, fields={"MAIL": "someone.else@example.fr"})
    poll_m3_customers(shop.rt, "default", shop.enqueue())
    shop.settle()
    assert shop.client.get("customers", customer_id)["email"] == "leo.girard@example.fr"
    # the shop changes the postcode, which M3 owns: M3 keeps its own; and the phone, which the shop owns: it goes
    shop.client.patch("addresses", address, {"postcode": "69005"})
    shop.settle()
    [m3_address] = shop.m3_customer(cuno)["addresses"]
    assert m3_address["PONO"] == "69001"
    shop.client.patch("addresses", address, {"phone": "04 72 00 00 02"})
    shop.settle()
    [m3_address] = shop.m3_customer(cuno)["addresses"]
    assert m3_address["PHNO"] == "+33472000002" and m3_address["PONO"] == "69001"


def test_bad_input_is_refused_clearly_and_nothing_is_lost(shop: Shop):
    assert shop.post_webhook("customer.created", 99999).status_code == 202  # an unknown customer id
    customer_id, _ = shop.register(firstname="Eva", lastname="Klein", email="eva@klein.example", company="Klein AG",
                                   address={"company": "Klein AG", "vat_number": "FR123"})  # a malformed VAT number
    shop.settle()
    letters = {(d.entity, d.source_id): d for d in shop.store.list_dead_letters()}
    unknown = letters[("customer", "99999")]
    assert "customer 99999 does not exist in the shop" in unknown.message and unknown.resolution
    assert unknown.payload["id_customer"] == 99999
    bad_vat = letters[("customer", str(customer_id))]
    assert bad_vat.error_type == "ValidationFailed" and "VAT number 'FR123'" in bad_vat.message
    assert shop.store.get_binding("default", "customer", str(customer_id)) is None
    assert f"PS{customer_id:07d}" not in [c["CUNO"] for c in shop.m3_customers()]
    # the safety-net poller finds the customer again; still refused, never half-written
    assert poll_shop_changes(shop.rt, "default", shop.enqueue(), "customers")["seen"] >= 1


def test_an_account_without_an_address_reaches_m3_with_its_first_address(shop: Shop):
    created = shop.client.create("customers", {"lastname": "Weber", "firstname": "Nina", "email": "nina@weber.example",
                                               "passwd": "a-secret-1234", "active": True, "id_default_group": 3})
    customer_id = int(created["id"])
    [first] = [e for e in shop.settle() if e.entity == "customer"]
    assert first.status == m.SKIPPED and "no address yet" in first.result["skipped"]
    address = shop.client.create("addresses", {"id_customer": customer_id, "id_country": 1, "alias": "Home",
                                               "lastname": "Weber", "firstname": "Nina", "address1": "Hauptstr. 5",
                                               "postcode": "10115", "city": "Berlin"})
    shop.settle()
    cuno = shop.store.get_binding("default", "customer", str(customer_id))
    created_in_m3 = shop.m3_customer(cuno)
    assert created_in_m3["CSCD"] == "DE" and created_in_m3["TOWN"] == "Berlin"
    assert [a["ADID"] for a in created_in_m3["addresses"]] == [address_id(int(address["id"]))]
