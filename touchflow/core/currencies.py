"""ISO 4217 currency codes: what a purchase's or a store's currency may be.

Source: ISO 4217 "List One — current currency & funds", published by its maintenance
agency (SIX Group, https://www.six-group.com/en/products-services/financial-information/
data-standards.html), as amended up to 2025 (XCG for the Caribbean guilder, ZWG for the
Zimbabwe Gold). Vendored because no package already installed carries the list (babel and
pycountry are not dependencies; babel's CLDR list also accepts withdrawn codes such as
DEM). Left out on purpose: fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW),
precious metals (XAU, XAG, XPD, XPT), bond-market units (XBA–XBD), SDR and SUCRE (XDR,
XSU, XUA) and the testing / no-currency codes (XTS, XXX): nobody pays a shop in them.
A currency being replaced (ANG → XCG, ZWL → ZWG) stays until its successor has been in
use for a while, so older till exports still import. The list changes a few times a
decade; a new code is added here with the amendment that introduced it.
"""

from __future__ import annotations

_LIST = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
    BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
    MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
    PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN
    SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV
    WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """
CODES = frozenset(_LIST.split())


def is_currency(code: str) -> bool:
    """True for a current ISO 4217 code, in capitals (``"PLN"``; not ``"pln"``, not ``"ABC"``)."""
    return code in CODES
