"""The demo's words: people's names, companies, titles, places, industries, lead sources and the made-up contact."""
from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Sofía", "Lucas", "Mia", "Elías", "Léa", "Hugo", "Anna", "Jonas", "Zoë",
    "Isabella", "Mohammed", "Fatima", "Yusuf", "Aiko", "Haruto", "Mei", "Wei", "Ananya", "Arjun", "Chiara",
    "Marco", "Ingrid", "Sven", "Zofia", "Jakub", "Camila", "Diego", "Grace", "Samuel", "Nora", "Oscar", "Amara",
    "Kwame", "Seo-yeon", "Min-jun", "Aoife", "Seán", "Eva", "Björn", "Agnieszka", "João", "Inês", "Renée",
    "François", "Jürgen", "Małgorzata", "Ümit", "Daniel", "Laura", "Pedro",
]
LAST_NAMES = [
    "Smith", "Johnson", "Müller", "Schmidt", "Martin", "Bernard", "Rossi", "Bianchi", "García", "Fernández",
    "Kowalski", "Nowak", "Jansen", "de Vries", "Andersson", "Nilsson", "O'Brien", "Murphy", "Tanaka", "Suzuki",
    "Kim", "Park", "Chen", "Wang", "Patel", "Sharma", "Okafor", "Mensah", "Silva", "Santos", "Gonçalves", "Novák",
    "Horváth", "Dubois", "Lefèvre", "Hansen", "Larsen", "Ødegaard", "Costa", "Ferreira", "Cohen", "Levi", "Brown",
    "Wilson", "Nguyen", "Yılmaz", "Åberg", "Żuławski", "Peña", "Brontë", "Schäfer",
]
COMPANY_WORDS = [
    "Northwind", "Bluefin", "Cedar", "Helix", "Quantum", "Summit", "Lumen", "Orbit", "Harbor", "Vertex",
    "Juniper", "Falcon", "Granite", "Nimbus", "Aurora", "Pioneer", "Atlas", "Beacon", "Copper", "Meridian",
    "Fjord", "Élan", "Söderberg", "Córdoba", "Zephyr",
]
COMPANY_KINDS = [
    "Analytics", "Logistics", "Health", "Robotics", "Foods", "Energy", "Systems", "Labs", "Capital", "Retail",
    "Software", "Manufacturing", "Media", "Biotech", "Networks",
]
TITLES = [
    "Head of Marketing", "VP Sales", "Chief Technology Officer", "Operations Manager", "IT Director",
    "Procurement Lead", "Data Analyst", "Founder & CEO", "Head of Growth", "Finance Director", "Product Manager",
    "Engineering Manager", "Customer Success Lead", "Office Manager", "Directeur commercial", "Geschäftsführer",
]
INDUSTRIES = [
    "Technology", "Finance", "Healthcare", "Manufacturing", "Retail", "Education", "Energy", "Telecommunications",
    "Media", "Biotechnology", "Transportation", "Consulting",
]
EMPLOYEES = [8, 25, 60, 150, 400, 1200, 5000, 20000]
# Region -> the legal forms of its companies.
COMPANY_SUFFIXES = {
    "Americas": ["Inc.", "LLC", "Corp.", "Ltda.", "S.A. de C.V."],
    "EMEA": ["GmbH", "Ltd", "SA", "BV", "AB", "S.p.A.", "plc", "AG"],
    "APAC": ["K.K.", "Pte. Ltd.", "Pty Ltd", "Pvt. Ltd."],
}
# Region -> (city, country, calling code).
PLACES = {
    "Americas": [
        ("New York", "United States", 1), ("Austin", "United States", 1), ("Chicago", "United States", 1),
        ("San Francisco", "United States", 1), ("Toronto", "Canada", 1), ("Montréal", "Canada", 1),
        ("São Paulo", "Brazil", 55), ("Ciudad de México", "Mexico", 52), ("Bogotá", "Colombia", 57),
    ],
    "EMEA": [
        ("London", "United Kingdom", 44), ("Manchester", "United Kingdom", 44), ("Berlin", "Germany", 49),
        ("München", "Germany", 49), ("Paris", "France", 33), ("Lyon", "France", 33), ("Madrid", "Spain", 34),
        ("Milano", "Italy", 39), ("Amsterdam", "Netherlands", 31), ("Stockholm", "Sweden", 46),
        ("Kraków", "Poland", 48), ("Dublin", "Ireland", 353), ("Zürich", "Switzerland", 41),
        ("København", "Denmark", 45), ("Dubai", "United Arab Emirates", 971),
    ],
    "APAC": [
        ("Tokyo", "Japan", 81), ("Singapore", "Singapore", 65), ("Sydney", "Australia", 61),
        ("Bangalore", "India", 91),
    ],
}
# Source -> (weight among incoming leads, typical starting score range).
LEAD_SOURCES: dict[str, tuple[int, tuple[int, int]]] = {
    "Web": (30, (10, 45)),
    "Demo Request": (12, (55, 85)),
    "Webinar": (14, (30, 60)),
    "Trade Show": (10, (25, 55)),
    "Partner Referral": (8, (45, 75)),
    "Purchased List": (10, (0, 25)),
    "Content Download": (16, (15, 45)),
}
# Leads from these sources are worked sooner and convert more often.
HOT_SOURCES = ("Demo Request", "Partner Referral")
# The standard Salesforce lead statuses.
STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
OPEN, WORKING, CONVERTED, NOT_CONVERTED = STATUSES
# A lead as it arrives in the CRM: open, neither converted nor deleted.
NEW_LEAD_FIELDS = {
    "Status": OPEN,
    "IsDeleted": False,
    "IsConverted": False,
    "ConvertedDate": None,
    "ConvertedAccountId": None,
    "ConvertedContactId": None,
    "ConvertedOpportunityId": None,
}

# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "ı": "i", "đ": "d"})


def plain(text: str) -> str:
    """A name as it appears in an email address: 'Żuławski' -> 'zulawski', "O'Brien" -> 'obrien'."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED)).encode("ascii", "ignore").decode()
    return "".join(char for char in ascii_text.lower() if char.isalnum())


def lead_source(rng: random.Random, *, exclude: tuple[str, ...] = ()) -> str:
    """A lead source drawn by its weight, leaving out `exclude`."""
    sources = [source for source in LEAD_SOURCES if source not in exclude]
    return rng.choices(sources, weights=[LEAD_SOURCES[source][0] for source in sources])[0]


@dataclass(frozen=True)
class Contact:
    """A made-up person at a made-up company: who a demo lead is."""

    first_name: str
    last_name: str
    title: str
    company: str
    email: str
    phone: str
    city: str
    country: str
    industry: str
    employees: int

    @classmethod
    def draw(cls, rng: random.Random, region: str | None = None) -> Contact:
        """A contact in a place of `region` (of any region when None)."""
        region = region or rng.choice(list(PLACES))
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        word, kind = rng.choice(COMPANY_WORDS), rng.choice(COMPANY_KINDS)
        city, country, calling_code = rng.choice(PLACES[region])
        return cls(
            first_name=first,
            last_name=last,
            title=rng.choice(TITLES),
            company=f"{word} {kind} {rng.choice(COMPANY_SUFFIXES[region])}",
            email=f"{plain(first)}.{plain(last)}@{plain(word)}{plain(kind)}.example",
            phone=f"+{calling_code} {rng.randint(200, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            city=city,
            country=country,
            industry=rng.choice(INDUSTRIES),
            employees=rng.choice(EMPLOYEES),
        )

    @property
    def mobile_phone(self) -> str | None:
        """About two in five have a mobile number too; drawn from the e-mail, so the contact's other draws (and every
        demo story) stay as they were."""
        rng = random.Random(f"mobile:{self.email}")
        if rng.random() >= 0.4:
            return None
        calling_code = self.phone.split(" ", 1)[0]
        return f"{calling_code} {rng.randint(150, 179)} {rng.randint(1000000, 9999999)}"

    def crm_fields(self) -> dict:
        """The contact as the standard fields of a Salesforce Lead."""
        return {
            "FirstName": self.first_name,
            "LastName": self.last_name,
            "Name": f"{self.first_name} {self.last_name}",
            "Title": self.title,
            "Company": self.company,
            "Email": self.email,
            "Phone": self.phone,
            "MobilePhone": self.mobile_phone,
            "City": self.city,
            "Country": self.country,
            "Industry": self.industry,
            "NumberOfEmployees": self.employees,
        }
