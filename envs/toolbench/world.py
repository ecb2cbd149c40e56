"""A seeded world of related entities that the synthetic ToolBench APIs read.

Entities link by id so that one API's output is another's input (a city search yields ``city_id``, which the
weather APIs take; an artist search yields ``artist_id``, which the discography APIs take). Everything is drawn
from `random.Random(seed)` in a fixed order, so the world is identical in every process; generation takes a
few milliseconds. Records are plain dicts (read-only by convention) keyed by their id.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Collection", "World", "build_world", "norm_text"]

Record = dict[str, Any]

# Real countries with their capital, currency and calling code; other cities are invented per country.
_COUNTRIES = (
    ("FR", "France", "Paris", "EUR", "Europe", 33, "French"),
    ("DE", "Germany", "Berlin", "EUR", "Europe", 49, "German"),
    ("ES", "Spain", "Madrid", "EUR", "Europe", 34, "Spanish"),
    ("IT", "Italy", "Rome", "EUR", "Europe", 39, "Italian"),
    ("GB", "United Kingdom", "London", "GBP", "Europe", 44, "English"),
    ("CH", "Switzerland", "Bern", "CHF", "Europe", 41, "German"),
    ("SE", "Sweden", "Stockholm", "SEK", "Europe", 46, "Swedish"),
    ("NO", "Norway", "Oslo", "NOK", "Europe", 47, "Norwegian"),
    ("PL", "Poland", "Warsaw", "PLN", "Europe", 48, "Polish"),
    ("US", "United States", "Washington", "USD", "Americas", 1, "English"),
    ("CA", "Canada", "Ottawa", "CAD", "Americas", 1, "English"),
    ("MX", "Mexico", "Mexico City", "MXN", "Americas", 52, "Spanish"),
    ("BR", "Brazil", "Brasilia", "BRL", "Americas", 55, "Portuguese"),
    ("AR", "Argentina", "Buenos Aires", "ARS", "Americas", 54, "Spanish"),
    ("JP", "Japan", "Tokyo", "JPY", "Asia", 81, "Japanese"),
    ("KR", "South Korea", "Seoul", "KRW", "Asia", 82, "Korean"),
    ("CN", "China", "Beijing", "CNY", "Asia", 86, "Chinese"),
    ("IN", "India", "New Delhi", "INR", "Asia", 91, "Hindi"),
    ("TH", "Thailand", "Bangkok", "THB", "Asia", 66, "Thai"),
    ("SG", "Singapore", "Singapore", "SGD", "Asia", 65, "English"),
    ("AU", "Australia", "Canberra", "AUD", "Oceania", 61, "English"),
    ("NZ", "New Zealand", "Wellington", "NZD", "Oceania", 64, "English"),
    ("ZA", "South Africa", "Pretoria", "ZAR", "Africa", 27, "English"),
    ("EG", "Egypt", "Cairo", "EGP", "Africa", 20, "Arabic"),
    ("KE", "Kenya", "Nairobi", "KES", "Africa", 254, "Swahili"),
    ("MA", "Morocco", "Rabat", "MAD", "Africa", 212, "Arabic"),
    ("TR", "Turkey", "Ankara", "TRY", "Asia", 90, "Turkish"),
    ("AE", "United Arab Emirates", "Abu Dhabi", "AED", "Asia", 971, "Arabic"),
)
_CURRENCY_NAMES = {
    "EUR": ("Euro", "€"), "GBP": ("British Pound", "£"), "CHF": ("Swiss Franc", "CHF"),
    "SEK": ("Swedish Krona", "kr"), "NOK": ("Norwegian Krone", "kr"), "PLN": ("Polish Zloty", "zł"),
    "USD": ("US Dollar", "$"), "CAD": ("Canadian Dollar", "C$"), "MXN": ("Mexican Peso", "$"),
    "BRL": ("Brazilian Real", "R$"), "ARS": ("Argentine Peso", "$"), "JPY": ("Japanese Yen", "¥"),
    "KRW": ("South Korean Won", "₩"), "CNY": ("Chinese Yuan", "¥"), "INR": ("Indian Rupee", "₹"),
    "THB": ("Thai Baht", "฿"), "SGD": ("Singapore Dollar", "S$"), "AUD": ("Australian Dollar", "A$"),
    "NZD": ("New Zealand Dollar", "NZ$"), "ZAR": ("South African Rand", "R"), "EGP": ("Egyptian Pound", "E£"),
    "KES": ("Kenyan Shilling", "KSh"), "MAD": ("Moroccan Dirham", "DH"), "TRY": ("Turkish Lira", "₺"),
    "AED": ("UAE Dirham", "AED"),
}
_SYLLABLES = ("ar", "be", "lo", "mi", "ra", "ten", "vo", "ka", "lin", "dor", "sa", "mer", "ta", "ven", "qui",
              "zel", "no", "ri", "an", "bel", "cor", "das", "el", "fa", "gra", "hol", "ist", "ju", "mon", "pel")
_FIRST = ("Ava", "Liam", "Maya", "Noah", "Zara", "Leo", "Iris", "Omar", "Nina", "Hugo", "Lena", "Ravi", "Sofia",
          "Kai", "Elena", "Jonas", "Amara", "Felix", "Yuki", "Mateo", "Clara", "Idris", "Freya", "Tomas", "Aiko",
          "Bruno", "Dalia", "Emil", "Greta", "Hana", "Ivan", "Jade", "Karim", "Lucia", "Milo", "Nora")
_LAST = ("Castell", "Morrow", "Okafor", "Lindqvist", "Tanaka", "Ferreira", "Novak", "Brennan", "Haddad",
         "Kowalski", "Moreau", "Sato", "Varga", "Whitlock", "Alvarez", "Demir", "Eriksen", "Fontaine", "Gallo",
         "Hartmann", "Ibarra", "Jansen", "Kaur", "Laine", "Mendes", "Nakamura", "Oyelaran", "Petrov", "Quinn",
         "Rossi", "Silva", "Thorne", "Ueda", "Vance", "Weber", "Yilmaz")
_ADJ = ("Silent", "Golden", "Crimson", "Midnight", "Electric", "Velvet", "Hidden", "Broken", "Neon", "Wild",
        "Frozen", "Distant", "Paper", "Iron", "Lucky", "Hollow", "Bright", "Secret", "Restless", "Northern")
_NOUN = ("Harbor", "Echo", "Garden", "River", "Signal", "Mirror", "Horizon", "Lantern", "Orbit", "Canyon",
         "Tide", "Engine", "Meadow", "Parade", "Compass", "Summit", "Theory", "Avenue", "Circuit", "Ember")
_SUFFIX = ("Blues", "Dreams", "Nights", "Lullaby", "Anthem", "Waltz", "Story", "Diaries", "Reprise", "Letters")
_CONDITIONS = ("Sunny", "Partly Cloudy", "Overcast", "Light Rain", "Heavy Rain", "Thunderstorm", "Snow", "Fog",
               "Clear", "Drizzle", "Windy")
_GENRES = ("Pop", "Rock", "Jazz", "Hip-Hop", "Electronic", "Folk", "Classical", "R&B", "Indie", "Metal")
_MOVIE_GENRES = ("Drama", "Comedy", "Thriller", "Sci-Fi", "Animation", "Documentary", "Horror", "Romance",
                 "Adventure", "Mystery")
_LEAGUES = (("Premier Division", "football"), ("Continental League", "football"), ("Pacific Hoops", "basketball"),
            ("Atlantic Basketball Association", "basketball"), ("Coastal Cricket League", "cricket"))
_POSITIONS = {"football": ("Goalkeeper", "Defender", "Midfielder", "Forward"),
              "basketball": ("Guard", "Forward", "Center"), "cricket": ("Batter", "Bowler", "All-rounder")}
_SECTORS = ("Technology", "Healthcare", "Energy", "Financials", "Consumer Goods", "Industrials", "Utilities",
            "Telecommunications")
_CUISINES = ("Italian", "Mexican", "Japanese", "Indian", "French", "Thai", "Greek", "Moroccan", "Korean",
             "Lebanese")
_DISHES = ("Risotto", "Tacos", "Ramen", "Curry", "Stew", "Salad", "Dumplings", "Tagine", "Pancakes", "Soup",
           "Flatbread", "Skewers", "Noodles", "Casserole", "Tart")
_DISH_ADJ = ("Smoky", "Spicy", "Lemon", "Garlic", "Herb", "Creamy", "Roasted", "Sweet", "Zesty", "Rustic",
             "Honey", "Ginger", "Coconut", "Saffron")
_INGREDIENTS = ("tomato", "onion", "garlic", "rice", "chicken", "tofu", "lentils", "spinach", "potato", "carrot",
                "chickpeas", "lemon", "ginger", "coconut milk", "basil", "mushroom", "egg", "flour", "butter",
                "yogurt", "cumin", "paprika", "salmon", "beef", "noodles", "bell pepper", "honey", "cheese")
_BRANDS = ("Acme", "Norvik", "Solace", "Pixelon", "Terrafin", "Lumio", "Brightway", "Kestrel", "Orbis", "Vantage")
_PRODUCTS = ("Wireless Earbuds", "Smart Watch", "Blender", "Desk Lamp", "Backpack", "Coffee Grinder",
             "Bluetooth Speaker", "Yoga Mat", "Air Fryer", "Mechanical Keyboard", "Water Bottle", "Power Bank",
             "Running Shoes", "Electric Kettle", "Webcam", "Office Chair")
_BOOK_SUBJECTS = ("History", "Science Fiction", "Biography", "Economics", "Poetry", "Philosophy", "Mystery",
                  "Travel", "Cooking", "Psychology")
_PUBLISHERS = ("Harbor House", "Northwind Press", "Bluepine Books", "Meridian", "Quill & Co", "Atlas Publishing")


def norm_text(text: str) -> str:
    """Case- and whitespace-insensitive form of a name (the key of name indexes)."""
    return " ".join(text.lower().split())


@dataclass(frozen=True, eq=False)
class Collection:
    """Records of one entity type keyed by id, with a normalised-name index."""

    records: Mapping[Any, Record]
    by_name: Mapping[str, tuple[Any, ...]]
    id_field: str
    name_field: str

    @classmethod
    def build(cls, records: list[Record], id_field: str, name_field: str) -> Collection:
        by_id = {r[id_field]: r for r in records}
        by_name: dict[str, list[Any]] = {}
        for r in records:
            by_name.setdefault(norm_text(r[name_field]), []).append(r[id_field])
        return cls(by_id, {k: tuple(v) for k, v in by_name.items()}, id_field, name_field)

    def get(self, key: Any) -> Record | None:
        record = self.records.get(key)
        if record is None and isinstance(key, str) and key.strip().lstrip("-").isdigit():
            # Lenient argument checking lets numeric ids arrive as text, as over HTTP.
            record = self.records.get(int(key))
        return record

    def find(self, name: str, exact: bool = False) -> list[Record]:
        """Records whose name equals `name` (normalised), else (unless `exact`) those containing it."""
        key = norm_text(name)
        if not key:
            return []
        ids = self.by_name.get(key)
        if ids is not None:
            return [self.records[i] for i in ids]
        if exact:
            return []
        return [self.records[i] for n, ids in self.by_name.items() if key in n for i in ids][:10]


class World:
    """All collections of one seed (see the module docstring); build with `build_world`."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = random.Random(f"steptool-toolbench-world-{seed}")
        self._names: set[str] = set()
        self.currencies = self._currencies(rng)
        self.countries, self.cities = self._geo(rng)
        self.hotels = self._hotels(rng)
        self.artists, self.albums, self.songs = self._music(rng)
        self.teams, self.players = self._sports(rng)
        self.people, self.movies = self._movies(rng)
        self.stocks = self._stocks(rng)
        self.cryptos = self._cryptos(rng)
        self.recipes = self._recipes(rng)
        self.products = self._products(rng)
        self.authors, self.books = self._books(rng)
        self.airports = Collection.build(
            [{"iata": c["iata"], "name": f"{c['name']} International", "city_id": c["city_id"],
              "city": c["name"], "country_code": c["country_code"]} for c in self.cities.records.values()],
            "iata", "name")
        del self._names

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return build_world, (self.seed,)

    # ------------------------------------------------------------------ helpers
    def _unique(self, make: Any) -> str:
        """A name not used by any other entity (so that a name in a query identifies one record)."""
        while True:
            name = make()
            if name.lower() not in self._names:
                self._names.add(name.lower())
                return name

    def _place_name(self, rng: random.Random) -> str:
        return self._unique(lambda: "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).title())

    def _person(self, rng: random.Random) -> str:
        return self._unique(lambda: f"{rng.choice(_FIRST)} {rng.choice(_LAST)}")

    def _title(self, rng: random.Random, prefix: str = "") -> str:
        def make() -> str:
            adj, noun, pattern = rng.choice(_ADJ), rng.choice(_NOUN), rng.randrange(3)
            if pattern == 0:
                return f"{prefix}{adj} {noun}"
            if pattern == 1:
                return f"{prefix}{noun} of the {rng.choice(_NOUN)}"
            return f"{prefix}{adj} {noun} {rng.choice(_SUFFIX)}"

        return self._unique(make)

    # ------------------------------------------------------------------ generators
    def _currencies(self, rng: random.Random) -> Collection:
        records = []
        for code, (name, symbol) in _CURRENCY_NAMES.items():
            rate = 1.0 if code == "USD" else round(rng.uniform(0.3, 40.0) if code not in ("KRW", "JPY") else
                                                   rng.uniform(100, 1400), 4)
            records.append({"code": code, "name": name, "symbol": symbol, "per_usd": rate})
        return Collection.build(records, "code", "name")

    def _geo(self, rng: random.Random) -> tuple[Collection, Collection]:
        countries, cities = [], []
        iatas: set[str] = set()
        city_id = 1000
        for code, name, capital, currency, region, calling, language in _COUNTRIES:
            self._names.update((name.lower(), capital.lower()))
            country = {"code": code, "name": name, "capital": capital, "currency": currency, "region": region,
                       "calling_code": f"+{calling}", "language": language,
                       "population": rng.randint(2_000, 300_000) * 1000, "area_km2": rng.randint(700, 9_000_000)}
            countries.append(country)
            for i in range(rng.randint(3, 5)):
                city_id += rng.randint(1, 40)
                city_name = capital if i == 0 else self._place_name(rng)
                iata = ""
                while not iata or iata in iatas:
                    iata = "".join(rng.choice("ABCDEFGHIJKLMNOPRSTUVWXYZ") for _ in range(3))
                iatas.add(iata)
                temp = round(rng.uniform(-8, 36), 1)
                cities.append({
                    "city_id": city_id, "name": city_name, "country_code": code, "country": name,
                    "population": rng.randint(50, 9000) * 1000, "lat": round(rng.uniform(-50, 65), 4),
                    "lon": round(rng.uniform(-120, 150), 4), "timezone": f"UTC{rng.randint(-8, 10):+d}",
                    "elevation_m": rng.randint(0, 2400), "iata": iata, "is_capital": i == 0,
                    "temp_c": temp, "feels_like_c": round(temp + rng.uniform(-4, 2), 1),
                    "condition": rng.choice(_CONDITIONS), "humidity": rng.randint(15, 98),
                    "wind_kph": round(rng.uniform(0, 60), 1), "aqi": rng.randint(5, 240),
                    "uv_index": rng.randint(0, 11), "sunrise": f"0{rng.randint(4, 7)}:{rng.randint(10, 59)}",
                    "sunset": f"{rng.randint(17, 21)}:{rng.randint(10, 59)}",
                    "forecast": [{"date": f"2024-07-{d:02d}", "max_c": round(temp + rng.uniform(0, 6), 1),
                                  "min_c": round(temp - rng.uniform(2, 9), 1), "condition": rng.choice(_CONDITIONS),
                                  "rain_chance": rng.randint(0, 100)} for d in range(1, 8)],
                })
        return Collection.build(countries, "code", "name"), Collection.build(cities, "city_id", "name")

    def _hotels(self, rng: random.Random) -> Collection:
        records, hotel_id = [], 50_000
        for city in self.cities.records.values():
            ids = []
            for _ in range(rng.randint(2, 4)):
                hotel_id += rng.randint(1, 90)
                ids.append(hotel_id)
                name = self._unique(lambda c=city: f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} Hotel {c['name']}")
                records.append({"hotel_id": hotel_id, "name": name, "city_id": city["city_id"],
                                "city": city["name"], "stars": rng.randint(2, 5),
                                "price_per_night": round(rng.uniform(45, 480), 2),
                                "rating": round(rng.uniform(6.0, 9.8), 1), "reviews": rng.randint(20, 5000),
                                "address": f"{rng.randint(1, 250)} {rng.choice(_NOUN)} Street",
                                "free_cancellation": rng.random() < 0.5})
            city["hotel_ids"] = ids
        return Collection.build(records, "hotel_id", "name")

    def _music(self, rng: random.Random) -> tuple[Collection, Collection, Collection]:
        artists, albums, songs = [], [], []
        for n in range(90):
            artist_id = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz")
                                for _ in range(22))
            name = self._person(rng) if rng.random() < 0.5 else self._title(rng, "The ")
            artist = {"artist_id": artist_id, "name": name, "genre": rng.choice(_GENRES),
                      "country": rng.choice(_COUNTRIES)[1], "followers": rng.randint(1_000, 9_000_000),
                      "monthly_listeners": rng.randint(500, 20_000_000), "album_ids": [], "song_ids": []}
            for a in range(rng.randint(2, 4)):
                album_id = f"al{n:03d}{a}{rng.randrange(10**5):05d}"
                album = {"album_id": album_id, "title": self._title(rng), "artist_id": artist_id, "artist": name,
                         "year": rng.randint(1975, 2024), "label": rng.choice(_PUBLISHERS) + " Records",
                         "song_ids": []}
                for t in range(rng.randint(3, 7)):
                    song_id = f"so{n:03d}{a}{t}{rng.randrange(10**4):04d}"
                    song = {"song_id": song_id, "title": self._title(rng), "artist_id": artist_id, "artist": name,
                            "album_id": album_id, "album": album["title"], "track_number": t + 1,
                            "duration_s": rng.randint(120, 420), "plays": rng.randint(10_000, 900_000_000),
                            "bpm": rng.randint(60, 180), "explicit": rng.random() < 0.2}
                    songs.append(song)
                    album["song_ids"].append(song_id)
                    artist["song_ids"].append(song_id)
                album["tracks"] = len(album["song_ids"])
                albums.append(album)
                artist["album_ids"].append(album_id)
            plays = {s["song_id"]: s["plays"] for s in songs[-len(artist["song_ids"]):]}
            artist["top_song_ids"] = sorted(plays, key=lambda s: -plays[s])[:5]
            artists.append(artist)
        return (Collection.build(artists, "artist_id", "name"), Collection.build(albums, "album_id", "title"),
                Collection.build(songs, "song_id", "title"))

    def _sports(self, rng: random.Random) -> tuple[Collection, Collection]:
        teams, players, team_id, player_id = [], [], 300, 9000
        cities = list(self.cities.records.values())
        for league, sport in _LEAGUES:
            for rank in range(1, 9):
                team_id += rng.randint(1, 20)
                city = rng.choice(cities)
                name = self._unique(lambda c=city: f"{c['name']} {rng.choice(_NOUN)}s")
                team = {"team_id": team_id, "name": name, "league": league, "sport": sport, "city": city["name"],
                        "city_id": city["city_id"], "founded": rng.randint(1880, 2015),
                        "stadium": f"{rng.choice(_ADJ)} {rng.choice(('Arena', 'Park', 'Stadium', 'Ground'))}",
                        "coach": self._person(rng), "rank": rank, "wins": rng.randint(2, 30),
                        "losses": rng.randint(0, 20), "points": rng.randint(10, 90), "player_ids": []}
                for _ in range(5):
                    player_id += rng.randint(1, 30)
                    players.append({"player_id": player_id, "name": self._person(rng), "team_id": team_id,
                                    "team": name, "position": rng.choice(_POSITIONS[sport]),
                                    "age": rng.randint(18, 38), "nationality": rng.choice(_COUNTRIES)[1],
                                    "jersey_number": rng.randint(1, 99), "goals": rng.randint(0, 40),
                                    "appearances": rng.randint(1, 60),
                                    "market_value_musd": round(rng.uniform(0.2, 90), 1)})
                    team["player_ids"].append(player_id)
                teams.append(team)
        return Collection.build(teams, "team_id", "name"), Collection.build(players, "player_id", "name")

    def _movies(self, rng: random.Random) -> tuple[Collection, Collection]:
        people = [{"person_id": f"nm{rng.randrange(10**7):07d}", "name": self._person(rng),
                   "birth_year": rng.randint(1940, 2002), "birthplace": rng.choice(_COUNTRIES)[1], "movie_ids": []}
                  for _ in range(80)]
        movies = []
        for _ in range(120):
            cast = rng.sample(people, 3)
            director = rng.choice(people)
            movie = {"movie_id": f"tt{rng.randrange(10**7):07d}", "title": self._title(rng),
                     "year": rng.randint(1970, 2024), "genre": rng.choice(_MOVIE_GENRES),
                     "director": director["name"], "director_id": director["person_id"],
                     "cast": [p["name"] for p in cast], "rating": round(rng.uniform(3.5, 9.3), 1),
                     "runtime_min": rng.randint(78, 190), "box_office_musd": round(rng.uniform(0.5, 900), 1),
                     "language": rng.choice(_COUNTRIES)[6], "votes": rng.randint(1000, 2_500_000)}
            for p in cast:
                p["movie_ids"].append(movie["movie_id"])
            movies.append(movie)
        return Collection.build(people, "person_id", "name"), Collection.build(movies, "movie_id", "title")

    def _stocks(self, rng: random.Random) -> Collection:
        records, symbols = [], set()
        for _ in range(70):
            symbol = ""
            while not symbol or symbol in symbols:
                symbol = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(3, 4)))
            symbols.add(symbol)
            price = round(rng.uniform(4, 900), 2)
            company = self._unique(lambda: f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} "
                                           f"{rng.choice(('Inc', 'Corp', 'Holdings', 'Group', 'Ltd'))}")
            records.append({"symbol": symbol, "company": company, "sector": rng.choice(_SECTORS),
                            "exchange": rng.choice(("NASDAQ", "NYSE", "LSE", "TSE")), "price": price,
                            "change_pct": round(rng.uniform(-6, 6), 2),
                            "market_cap_busd": round(rng.uniform(0.5, 2500), 1),
                            "pe_ratio": round(rng.uniform(5, 80), 1), "dividend_yield": round(rng.uniform(0, 6), 2),
                            "ceo": self._person(rng), "employees": rng.randint(100, 300_000),
                            "history": [{"date": f"2024-06-{d:02d}", "close": round(price * rng.uniform(0.9, 1.1), 2),
                                         "volume": rng.randint(10_000, 90_000_000)} for d in range(24, 29)]})
        return Collection.build(records, "symbol", "company")

    def _cryptos(self, rng: random.Random) -> Collection:
        records = []
        for rank in range(1, 31):
            name = self._unique(lambda: rng.choice(_ADJ) + rng.choice(("coin", "chain", "token", "cash")).title())
            records.append({"symbol": name[:3].upper() + str(rank), "name": name, "rank": rank,
                            "price_usd": round(rng.uniform(0.01, 40_000), 2),
                            "change_24h": round(rng.uniform(-15, 15), 2),
                            "market_cap_musd": round(rng.uniform(10, 800_000), 1),
                            "max_supply": rng.randint(10**6, 10**10)})
        return Collection.build(records, "symbol", "name")

    def _recipes(self, rng: random.Random) -> Collection:
        records = []
        for n in range(100):
            title = self._unique(lambda: f"{rng.choice(_DISH_ADJ)} {rng.choice(_CUISINES)} {rng.choice(_DISHES)}")
            records.append({"recipe_id": 700_000 + n * 37 + rng.randint(0, 30), "title": title,
                            "cuisine": title.split()[1], "calories": rng.randint(180, 1200),
                            "prep_minutes": rng.randint(10, 150), "servings": rng.randint(1, 8),
                            "difficulty": rng.choice(("Easy", "Medium", "Hard")),
                            "protein_g": rng.randint(3, 70), "ingredients": sorted(rng.sample(_INGREDIENTS, 5)),
                            "vegetarian": rng.random() < 0.4, "rating": round(rng.uniform(3.0, 5.0), 1)})
        return Collection.build(records, "recipe_id", "title")

    def _products(self, rng: random.Random) -> Collection:
        records = []
        for _ in range(110):
            title = self._unique(lambda: f"{rng.choice(_BRANDS)} {rng.choice(_PRODUCTS)} {rng.choice(_NOUN)}")
            records.append({"asin": "B0" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8)),
                            "title": title, "brand": title.split()[0], "price": round(rng.uniform(8, 650), 2),
                            "rating": round(rng.uniform(2.5, 5.0), 1), "reviews": rng.randint(3, 40_000),
                            "in_stock": rng.random() < 0.8, "seller": f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} Store",
                            "shipping_days": rng.randint(1, 14),
                            "top_review": {"author": self._person(rng), "stars": rng.randint(1, 5),
                                           "title": f"{rng.choice(('Great', 'Decent', 'Disappointing', 'Solid'))} "
                                                    f"{rng.choice(_PRODUCTS).lower()}"}})
        return Collection.build(records, "asin", "title")

    def _books(self, rng: random.Random) -> tuple[Collection, Collection]:
        authors = [{"author_id": f"OL{rng.randrange(10**6):06d}A", "name": self._person(rng),
                    "birth_year": rng.randint(1900, 1995), "nationality": rng.choice(_COUNTRIES)[1], "book_ids": []}
                   for _ in range(60)]
        books = []
        for _ in range(140):
            author = rng.choice(authors)
            isbn = "978" + "".join(rng.choice("0123456789") for _ in range(10))
            books.append({"isbn": isbn, "title": self._title(rng), "author": author["name"],
                          "author_id": author["author_id"], "year": rng.randint(1950, 2024),
                          "pages": rng.randint(90, 900), "subject": rng.choice(_BOOK_SUBJECTS),
                          "publisher": rng.choice(_PUBLISHERS), "rating": round(rng.uniform(2.8, 4.9), 2),
                          "price": round(rng.uniform(6, 45), 2)})
            author["book_ids"].append(isbn)
        return Collection.build(authors, "author_id", "name"), Collection.build(books, "isbn", "title")


@functools.lru_cache(maxsize=4)
def build_world(seed: int = 0) -> World:
    """The world of `seed`, built once per process."""
    return World(seed)
