"""The seed data both sandboxes share, so that what the shop sells is what the ERP stocks.

A PrestaShop product's ``reference`` (or a combination's) is the Infor item number (ITNO). One product,
``LEGACY-LAMP``, exists in the shop but not in Infor: the demo orders it on purpose to show a rejection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Currency:
    id: int
    iso_code: str
    conversion_rate: Decimal  # PrestaShop semantics: units of this currency per 1 unit of the default currency


@dataclass(frozen=True)
class Country:
    id: int
    iso_code: str
    name: str
    contains_states: bool = False
    need_zip_code: bool = True
    zip_code_format: str = ""


@dataclass(frozen=True)
class State:
    id: int
    id_country: int
    iso_code: str
    name: str


@dataclass(frozen=True)
class Combination:
    id: int
    reference: str  # = Infor ITNO
    ean13: str
    attributes: tuple[tuple[str, str], ...]  # (("Color", "Red"), ("Size", "M"))
    price_impact: Decimal = Decimal("0")
    stock: int = 0


@dataclass(frozen=True)
class Product:
    id: int
    reference: str  # = Infor ITNO for simple products; the style number for products with combinations
    ean13: str
    name: str
    price_tax_excl: Decimal
    weight: Decimal
    stock: int = 0  # simple products only; with combinations the stock is the sum of the variants
    combinations: tuple[Combination, ...] = ()
    in_erp: bool = True
    id_tax_rules_group: int = 1


@dataclass(frozen=True)
class Address:
    id: int
    alias: str
    firstname: str
    lastname: str
    company: str
    address1: str
    address2: str
    postcode: str
    city: str
    id_country: int
    phone: str
    id_state: int = 0
    vat_number: str = ""


@dataclass(frozen=True)
class Customer:
    id: int
    firstname: str
    lastname: str
    email: str
    company: str = ""
    id_default_group: int = 3
    addresses: tuple[Address, ...] = field(default_factory=tuple)


SHOP_TIMEZONE = "Europe/Paris"
DEFAULT_CURRENCY_ID = 1
TAX_RATE = Decimal("0.20")  # the seeded tax rules group 1: 20 % VAT

CURRENCIES = (
    Currency(1, "EUR", Decimal("1.000000")),
    Currency(2, "USD", Decimal("1.085000")),
    Currency(3, "GBP", Decimal("0.856000")),
)

COUNTRIES = (
    Country(8, "FR", "France", zip_code_format="NNNNN"),
    Country(1, "DE", "Germany", zip_code_format="NNNNN"),
    Country(6, "ES", "Spain", zip_code_format="NNNNN"),
    Country(10, "IT", "Italy", zip_code_format="NNNNN"),
    Country(17, "GB", "United Kingdom", zip_code_format=""),
    Country(21, "US", "United States", contains_states=True, zip_code_format="NNNNN"),
    Country(24, "AU", "Australia", contains_states=True, zip_code_format="NNNN"),
    Country(145, "MX", "Mexico", contains_states=True, zip_code_format="NNNNN"),
)

# PrestaShop's states keep their own iso_code (up to 7 characters): Australia's and Mexico's are 3 letters,
# which M3's 2-character ECAR cannot take as they are.
STATES = (
    State(4, 21, "CA", "California"),
    State(32, 21, "NY", "New York"),
    State(313, 24, "NSW", "New South Wales"),
    State(316, 24, "VIC", "Victoria"),
    State(314, 24, "QLD", "Queensland"),
    State(57, 145, "AGU", "Aguascalientes"),
    State(70, 145, "JAL", "Jalisco"),
)

PRODUCTS = (
    Product(1, "TS-CLASSIC", "3700000000017", "Classic T-shirt", Decimal("19.900000"), Decimal("0.200"),
            combinations=(
                Combination(1, "TS-CLS-WHT-S", "3700000000024", (("Color", "White"), ("Size", "S")), stock=40),
                Combination(2, "TS-CLS-WHT-M", "3700000000031", (("Color", "White"), ("Size", "M")), stock=55),
                Combination(3, "TS-CLS-BLK-M", "3700000000048", (("Color", "Black"), ("Size", "M")), stock=60),
                Combination(4, "TS-CLS-BLK-L", "3700000000055", (("Color", "Black"), ("Size", "L")),
                            price_impact=Decimal("1.000000"), stock=25),
            )),
    Product(2, "HD-ZIP", "3700000000062", "Zip hoodie", Decimal("49.000000"), Decimal("0.650"),
            combinations=(
                Combination(5, "HD-ZIP-GRY-M", "3700000000079", (("Color", "Grey"), ("Size", "M")), stock=20),
                Combination(6, "HD-ZIP-GRY-L", "3700000000086", (("Color", "Grey"), ("Size", "L")), stock=18),
                Combination(7, "HD-ZIP-NAV-XL", "3700000000093", (("Color", "Navy"), ("Size", "XL")),
                            price_impact=Decimal("3.000000"), stock=9),
            )),
    Product(3, "MUG-CERAMIC-350", "3700000000109", "Ceramic mug 350 ml", Decimal("9.500000"), Decimal("0.400"),
            stock=300),
    Product(4, "BOTTLE-STL-750", "3700000000116", "Steel bottle 750 ml", Decimal("24.900000"), Decimal("0.350"),
            stock=120),
    Product(5, "NOTEBOOK-A5-DOT", "3700000000123", "Dotted notebook A5", Decimal("7.250000"), Decimal("0.250"),
            stock=500),
    Product(6, "PEN-GEL-BLU", "3700000000130", "Gel pen, blue", Decimal("1.990000"), Decimal("0.020"), stock=2000),
    Product(7, "BACKPACK-20L", "3700000000147", "Backpack 20 l", Decimal("69.000000"), Decimal("0.900"), stock=35),
    Product(8, "CAP-BB", "3700000000154", "Baseball cap", Decimal("15.000000"), Decimal("0.120"),
            combinations=(
                Combination(8, "CAP-BB-RED", "3700000000161", (("Color", "Red"),), stock=45),
                Combination(9, "CAP-BB-BLK", "3700000000178", (("Color", "Black"),), stock=50),
            )),
    Product(9, "POSTER-50X70", "3700000000185", "Poster 50 x 70 cm", Decimal("12.000000"), Decimal("0.300"),
            stock=80),
    Product(10, "LEGACY-LAMP", "3700000000192", "Desk lamp (legacy)", Decimal("39.000000"), Decimal("1.200"),
            stock=3, in_erp=False),
)

CUSTOMERS = (
    Customer(1, "Camille", "Martin", "camille.martin@example.fr", addresses=(
        Address(1, "Home", "Camille", "Martin", "", "12 rue de la République", "Bâtiment B, 3e étage",
                "69002", "Lyon", 8, "+33 4 78 12 34 56"),)),
    Customer(2, "Jonas", "Müller", "jonas.mueller@example.de", company="Müller Werkzeuge GmbH",
             id_default_group=4, addresses=(
        Address(2, "Office", "Jonas", "Müller", "Müller Werkzeuge GmbH", "Königsallee 27", "",
                "40212", "Düsseldorf", 1, "0211 1234567", vat_number="DE123456789"),)),
    Customer(3, "Lucía", "García", "lucia.garcia@example.es", addresses=(
        Address(3, "Casa", "Lucía", "García", "", "Calle de Alcalá 45, 2º izquierda", "", "28014", "Madrid", 6,
                "+34 912 345 678"),)),
    Customer(4, "Emily", "Johnson", "emily.johnson@example.com", addresses=(
        Address(4, "Home", "Emily", "Johnson", "", "1600 Amphitheatre Parkway Building 40, Suite 1200", "",
                "94043", "Mountain View", 21, "(650) 253-0000", id_state=4),)),
    Customer(5, "Oliver", "Smith", "oliver.smith@example.co.uk", addresses=(
        Address(5, "Home", "Oliver", "Smith", "", "221B Baker Street", "", "NW1 6XE", "London", 17,
                "020 7946 0958"),)),
    Customer(6, "Giulia", "Rossi", "giulia.rossi@example.it", addresses=(
        Address(6, "Casa", "Giulia", "Rossi", "", "Via del Corso 101", "", "00186", "Roma", 10,
                "+39 06 1234 5678"),)),
    Customer(7, "Théo", "Lefèvre", "theo.lefevre@example.fr", company="Atelier Lefèvre SARL",
             id_default_group=4, addresses=(
        Address(7, "Atelier", "Théo", "Lefèvre", "Atelier Lefèvre SARL",
                "Zone Industrielle des Grandes Terres, 8 allée des Artisans", "", "33700", "Mérignac", 8,
                "05 56 00 00 00", vat_number="FR40303265045"),
        Address(8, "Livraison", "Théo", "Lefèvre", "Atelier Lefèvre SARL", "3 quai des Chartrons", "",
                "33000", "Bordeaux", 8, "05 56 11 11 11"),)),
    Customer(8, "Noah", "Williams", "noah.williams@example.com", addresses=(
        Address(9, "Home", "Noah", "Williams", "", "350 Fifth Avenue", "Floor 34", "10118", "New York", 21,
                "+1 212-736-3100", id_state=32),)),
)

# Customers real shops have and the first eight do not show: Australian and Mexican addresses with 3-letter
# states, and e-mail addresses longer than M3's 50-character MAIL (PrestaShop allows 255). They take part in
# the realistic checkout mix; an order placed without naming a customer or the mix picks from CUSTOMERS only.
MORE_CUSTOMERS = (
    Customer(9, "Charlotte", "Harrington-Fitzgerald",
             "charlotte.harrington-fitzgerald.purchasing@harbourside-trading.com.au", addresses=(
        Address(10, "Home", "Charlotte", "Harrington-Fitzgerald", "", "Level 12, 88 Phillip Street", "",
                "2000", "Sydney", 24, "+61 2 9251 5600", id_state=313),)),
    Customer(10, "María José", "Hernández", "maria.jose.hernandez@example.com.mx", addresses=(
        Address(11, "Casa", "María José", "Hernández", "", "Av. Francisco I. Madero 215", "Zona Centro",
                "20000", "Aguascalientes", 145, "+52 449 915 1234", id_state=57),)),
    Customer(11, "Maximilian-Alexander", "von Hohenstein-Liebenfels",
             "maximilian-alexander.von-hohenstein@einkauf.beispiel-gmbh.de", addresses=(
        Address(12, "Büro", "Maximilian-Alexander", "von Hohenstein-Liebenfels", "", "Friedrichstraße 68", "",
                "10117", "Berlin", 1, "+49 30 2025 0000"),)),
)

# Infor side: warehouse and division the seeded items are stocked in.
INFOR_COMPANY = "100"
INFOR_DIVISION = "AAA"
INFOR_WAREHOUSE = "100"
INFOR_FACILITY = "A01"
INFOR_CUSTOMER_TEMPLATE = "WEBTMPL"
INFOR_ORDER_TYPE = "WEB"


def erp_items() -> list[tuple[str, str, str, int]]:
    """(ITNO, description, EAN, stock) for every sellable unit the ERP knows: simple products and variants."""
    items: list[tuple[str, str, str, int]] = []
    for product in PRODUCTS:
        if not product.in_erp:
            continue
        if product.combinations:
            for combo in product.combinations:
                label = ", ".join(v for _, v in combo.attributes)
                items.append((combo.reference, f"{product.name} - {label}", combo.ean13, combo.stock))
        else:
            items.append((product.reference, product.name, product.ean13, product.stock))
    return items
