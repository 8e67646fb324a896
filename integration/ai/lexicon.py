"""Words to concepts, across languages: how an M3 description and a PrestaShop field name meet.

M3 names its fields with four-letter codes (CUNM, TOWN, PONO) and describes them in the tenant's language
("Customer name", "City", "Postal code"; "Ort", "Postnummer" on a Swedish or German tenant); PrestaShop uses
English snake_case names (``lastname``, ``city``, ``postcode``). Both sides are reduced to sets of
*concepts* (NAME, CITY, POSTCODE...), through

- a multilingual lexicon (English, French, German, Swedish, Spanish, Italian, Dutch words per concept),
- a table of M3 codes that the e-commerce transactions use, spelled out in words (a synonym table: it says
  what a code *means*, never which shop field fills it),
- the two-letter M3 mnemonics (CU customer, NM name, DT date, QT quantity...) for codes not in the table.

Nothing here knows the labelled evaluation pairs; the evaluation's limits section says how far that goes.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

# concept -> words (lower case, accents removed when matching). Multi-word entries match as phrases.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "NAME": ("name", "names", "nom", "namn", "nombre", "nome", "naam", "designation", "title", "titel"),
    "FIRSTNAME": ("firstname", "first name", "given name", "forename", "prenom", "vorname", "fornamn",
                  "nombre de pila", "voornaam"),
    "LASTNAME": ("lastname", "last name", "surname", "family name", "nom de famille", "nachname", "efternamn",
                 "apellido", "cognome", "achternaam"),
    "PERSON": ("person", "contact", "attention", "personne", "ansprechpartner", "kontakt", "kontaktperson",
               "persona", "referent", "firstname", "lastname"),
    "COMPANY": ("company", "firm", "business", "societe", "entreprise", "firma", "unternehmen", "foretag",
                "bolag", "empresa", "azienda", "bedrijf", "organisation", "organization"),
    "ADDRESS": ("address", "adresse", "adress", "direccion", "indirizzo", "adres", "street", "rue", "strasse",
                "gata", "gatuadress", "calle", "via", "straat", "anschrift"),
    "LINE1": ("address 1", "address line 1", "line 1"),
    "LINE2": ("address 2", "address line 2", "line 2"),
    "LINE3": ("address 3", "address line 3", "line 3", "other", "additional", "complement"),
    "POSTCODE": ("postcode", "post code", "postal code", "postal", "zip", "zipcode", "zip code", "code postal",
                 "postleitzahl", "plz", "postnummer", "codigo postal", "cap", "postcode"),
    "CITY": ("city", "town", "ville", "localite", "stadt", "ort", "stad", "postort", "ciudad", "localidad",
             "citta", "localita", "plaats", "woonplaats"),
    "COUNTRY": ("country", "pays", "land", "pais", "paese", "nazione"),
    "STATE": ("state", "area", "province", "region", "county", "etat", "bundesland", "lan", "provincia",
              "estado", "regione", "provincie"),
    "PHONE": ("phone", "telephone", "tel", "telefon", "telefono", "mobile", "cell", "portable", "handy",
              "mobil", "cellulare", "gsm"),
    "FAX": ("fax", "facsimile", "telecopie", "telefax"),
    "EMAIL": ("email", "e mail", "mail", "courriel", "epost", "e post", "correo", "posta elettronica"),
    "CUSTOMER": ("customer", "customers", "client", "kunde", "kund", "kunden", "cliente", "klant", "buyer",
                 "acheteur", "kaufer"),
    "ORDER": ("order", "orders", "commande", "bestellung", "auftrag", "order", "pedido", "ordine", "bestelling"),
    "PURCHASE": ("purchase", "purchasing", "wholesale", "cost price", "achat", "einkauf", "inkop", "compra",
                 "acquisto", "inkoop", "supplier price"),
    "INVOICE": ("invoice", "invoicing", "billing", "bill", "facture", "rechnung", "faktura", "factura", "fattura",
                "factuur"),
    "BARCODE": ("ean", "ean13", "ean 13", "gtin", "upc", "isbn", "barcode", "bar code", "code barre", "strichcode",
                "streckkod", "codigo de barras"),
    "REFERENCE": ("reference", "referens", "referenz", "referencia", "riferimento", "ref", "referentie"),
    "NUMBER": ("number", "no", "nr", "num", "numero", "nummer", "id", "identity", "identifier", "ident",
               "identifiant", "kennung"),
    "DATE": ("date", "datum", "fecha", "data", "day", "jour", "tag", "dag", "dt"),
    "TIME": ("time", "heure", "zeit", "tid", "hora", "ora"),
    "CURRENCY": ("currency", "devise", "monnaie", "wahrung", "valuta", "moneda", "divisa"),
    "QUANTITY": ("quantity", "qty", "quantite", "menge", "anzahl", "antal", "kvantitet", "cantidad", "quantita",
                 "aantal", "ordered"),
    "PRICE": ("price", "prix", "preis", "pris", "precio", "prezzo", "prijs", "salesprice", "tarif"),
    "AMOUNT": ("amount", "total", "montant", "betrag", "summe", "belopp", "summa", "importe", "importo",
               "bedrag", "value", "valeur", "wert", "varde"),
    "DISCOUNT": ("discount", "discounts", "reduction", "remise", "rabais", "rabatt", "descuento", "sconto",
                 "korting", "voucher"),
    "SHIPPING": ("shipping", "freight", "postage", "livraison", "port", "versand", "fracht", "frakt", "envio",
                 "spedizione", "verzending", "transport"),
    "DELIVERY": ("delivery", "deliver", "ship", "lieferung", "leverans", "entrega", "consegna", "levering"),
    "CARRIER": ("carrier", "forwarder", "transporteur", "spediteur", "transportor", "transportista", "vettore",
                "vervoerder"),
    "METHOD": ("method", "mode", "way", "methode", "art", "satt", "metodo"),
    "CHARGE": ("charge", "charges", "fee", "fees", "cost", "frais", "gebuhr", "kosten", "avgift", "cargo",
               "spese"),
    "WRAPPING": ("wrapping", "gift", "packaging", "emballage", "verpackung", "forpackning", "embalaje"),
    "ITEM": ("item", "product", "article", "artikel", "produit", "produkt", "articulo", "articolo", "sku",
             "goods"),
    "DESCRIPTION": ("description", "beschreibung", "beskrivning", "descripcion", "descrizione", "omschrijving",
                    "libelle"),
    "SHORT": ("short", "brief", "summary", "court", "kurz", "kort"),
    "WEIGHT": ("weight", "poids", "gewicht", "vikt", "peso"),
    "GROSS": ("gross", "brut", "brutto"),
    "NET": ("net", "netto", "neto"),
    "STATUS": ("status", "statut", "estado", "stato", "active", "actif", "aktiv", "activo", "enabled"),
    "UNIT": ("unit", "u m", "uom", "measure", "unite", "einheit", "enhet", "unidad", "unita", "eenheid",
             "unity"),
    "GROUP": ("group", "category", "class", "groupe", "categorie", "gruppe", "kategorie", "grupp", "grupo",
              "categoria", "gruppo", "groep"),
    "VAT": ("vat", "tax", "tva", "mwst", "ust", "moms", "iva", "btw", "steuer", "skatt", "impuesto"),
    "REGISTRATION": ("registration", "registered", "enregistrement", "registrierung", "registrering",
                     "registro"),
    "PAYMENT": ("payment", "pay", "paiement", "zahlung", "betalning", "pago", "pagamento", "betaling", "module"),
    "LANGUAGE": ("language", "lang", "langue", "sprache", "sprak", "idioma", "lingua", "taal"),
    "SALES": ("sales", "sale", "sell", "selling", "vente", "verkauf", "forsaljning", "venta", "vendita",
              "verkoop", "sellable", "retail"),
    "AVAILABLE": ("available", "availability", "disponible", "verfugbar", "tillganglig", "disponibile",
                  "for order"),
    "CHANGE": ("change", "changed", "modified", "modification", "update", "updated", "upd", "anderung",
               "andring", "cambio", "modifica", "wijziging"),
    "ENTRY": ("entry", "entered", "created", "creation", "registration date", "add", "added", "erstellt",
              "skapad", "creado"),
    "LINE": ("line", "row", "rows", "position", "ligne", "zeile", "rad", "linea", "riga", "regel"),
    "HEAD": ("head", "header", "entete", "kopf", "huvud", "cabecera"),
    "TYPE": ("type", "kind", "typ", "tipo", "soort"),
    "CODE": ("code", "iso", "iso code", "kod", "codigo", "codice"),
    "SEARCH": ("search", "alias", "key", "recherche", "suche", "sok", "busqueda"),
    "INCL": ("incl", "included", "including", "wt", "ttc", "inkl"),
    "EXCL": ("excl", "excluded", "excluding", "ht", "exkl"),
    "COMPANYNO": (),  # M3's own company (CONO) is not a shop's company name: reached through codes only
    "WAREHOUSE": ("warehouse", "entrepot", "lager", "almacen", "magazzino", "magazijn", "stock location"),
    "FACILITY": ("facility", "site", "usine", "werk", "anlaggning"),
    "TERMS": ("terms", "term", "conditions", "bedingungen", "villkor", "condiciones"),
}

# M3 codes used by the e-commerce transactions, spelled out: a synonym table of what each code means.
M3_CODES: dict[str, str] = {
    "CUNO": "customer number", "CUNM": "customer name", "CUA1": "address line 1", "CUA2": "address line 2",
    "CUA3": "address line 3", "CUA4": "address line 4", "PONO": "postal code", "TOWN": "town city",
    "CSCD": "country code", "ECAR": "state area", "PHNO": "telephone number", "PHN2": "telephone number mobile",
    "TFNO": "fax number", "MAIL": "email address", "YREF": "your reference contact person",
    "OREF": "our reference", "CUOR": "customer order number", "ORDT": "order entry date",
    "CUDT": "customer purchase order entry date", "CUCD": "currency code", "ORQT": "ordered quantity",
    "SAPR": "sales price", "ITNO": "item number reference", "ITDS": "item name", "FUDS": "further description",
    "UNMS": "basic unit of measure", "GRWE": "gross weight", "NEWE": "net weight", "STAT": "status",
    "LMDT": "last change date", "RGDT": "entry date", "CRAM": "charge amount", "CRID": "charge id",
    "PYCD": "payment method", "MODL": "delivery method carrier", "TEDL": "delivery terms",
    "VRNO": "vat registration number",
    "ADID": "address id", "ADRT": "address type", "LNCD": "language code", "OTBA": "order discount amount",
    "POPN": "alias number ean", "CONO": "company number", "ITGR": "item group", "ITCL": "product group",
    "SALE": "sales item available for order", "SPUN": "sales price unit of measure", "CUTM": "customer template",
    "WHLO": "warehouse",
    "FACI": "facility", "ORTP": "order type", "ALCU": "search key", "CRD0": "charge description",
}

# Two-letter M3 mnemonics, for codes not in the table above (CUxx customer..., xxDT date...).
M3_MNEMONICS: dict[str, str] = {
    "CU": "customer", "NM": "name", "NO": "number", "DT": "date", "CD": "code", "QT": "quantity",
    "PR": "price", "IT": "item", "DS": "description", "WE": "weight", "UN": "unit", "AM": "amount",
    "ID": "id", "PY": "payment", "AD": "address", "OR": "order", "TX": "text", "TP": "type", "ST": "status",
    "RF": "reference", "DL": "delivery", "PH": "phone", "CR": "charge", "VR": "vat", "RT": "type",
}

# Tokens that say little by themselves: matched, but weighted down (they appear everywhere).
WEAK = frozenset({"NUMBER", "CODE", "TYPE", "DATE", "NAME", "DESCRIPTION", "AMOUNT", "ORDER", "CUSTOMER",
                  "ITEM", "LINE", "HEAD", "GROUP", "STATUS", "TIME", "SEARCH", "UNIT"})

_SPLIT = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower case, accents removed, separators as single spaces ("Téléphone-No." → "telephone no")."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"([a-z])([0-9])", r"\1 \2", text)
    return " ".join(t for t in _SPLIT.split(text) if t)


@cache
def _phrases() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for concept, words in CONCEPTS.items():
        for word in words:
            table.setdefault(fold(word), set()).add(concept)
    return {k: frozenset(v) for k, v in table.items()}


def concepts(text: str) -> frozenset[str]:
    """The concepts named in a text; phrases of up to three words are tried before single words."""
    words = fold(text).split()
    phrases = _phrases()
    found: set[str] = set()
    i = 0
    while i < len(words):
        for size in (3, 2, 1):
            chunk = " ".join(words[i:i + size])
            if len(words[i:i + size]) == size and chunk in phrases:
                found |= phrases[chunk]
                i += size
                break
        else:
            # a plural or a glued compound ("salesprice", "postnummer") still finds its root word
            word = words[i]
            if word.endswith("s") and word[:-1] in phrases:
                found |= phrases[word[:-1]]
            i += 1
    return frozenset(found)


def m3_code_words(code: str) -> str:
    """A code in words: the synonym table first, else its two-letter mnemonics ("CUDT" → "customer date")."""
    code = code.upper()
    if code in M3_CODES:
        return M3_CODES[code]
    parts = [M3_MNEMONICS.get(code[i:i + 2], "") for i in (0, 2)]
    return " ".join(p for p in parts if p)


def source_words(name: str) -> str:
    """A PrestaShop field name in words ("id_address_delivery" → "id address delivery")."""
    return fold(name.replace("_", " ").replace("[]", " "))
