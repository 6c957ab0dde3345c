"""The demo travel agency's inventory: the tables, the SQLite file that holds them, the counting rules.

Deterministic, so task sets can vary without a model or a clock deciding: eight cities; Lisbon
is a hub linked both ways with every other city, London (the demo's default origin) with every
city but Porto, and five more pairs are direct (every route flies a morning and an evening flight
each way, on different carriers); the other pairs have no route at all (Porto-Berlin,
Madrid-Berlin...), where a search finds nothing. A flight offer's id is `FLIGHT@DATE` and its price
per seat a fixed function of both (a crc32 spread of 85-115% of the base). Hotels have a nightly
price per room and a number of rooms.

A party of n travellers takes n seats of a flight and ceil(n / 2) rooms of a hotel for each night
of its stay; seats and rooms are counted against the confirmed bookings, so a flight or a hotel
can sell out (TP1947 has 2 seats, Casa do Fado 3 rooms). A booking row records what a checker
needs to verify a plan without re-deriving it: cities by name, dates, nights, travellers, rooms
and the total charged.

The city, route and hotel tables are rewritten from the code at every opening (they are the
code's, not data); the bookings are data and are kept. A file written by an older version has a
bookings table without the party columns: they are added with ALTER TABLE and filled from the row
(one traveller, one room, nights from the dates, city names from the item), so its bookings and
idempotency keys still count. A new file takes the same path from the first shape of the table,
so every opening exercises the migration.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from fastmcp.exceptions import ToolError
from pydantic import BaseModel

from moot.tools.types import RETRY_PREFIX

CITIES = [("LIS", "Lisbon", "Portugal"), ("OPO", "Porto", "Portugal"), ("MAD", "Madrid", "Spain"),
          ("BCN", "Barcelona", "Spain"), ("PAR", "Paris", "France"), ("LON", "London", "United Kingdom"),
          ("ROM", "Rome", "Italy"), ("BER", "Berlin", "Germany")]
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
"""How every date is written, in the tools' schemas and in offer ids."""
CITY_NAMES = tuple(name for _, name, _ in CITIES)
_NAME = {code: name for code, name, _ in CITIES}
_CODE = {name: code for code, name, _ in CITIES}

# flight, carrier, origin, destination, departs, arrives (local times), base price EUR, seats
ROUTES = [
    # Lisbon, the hub: two flights a day each way to every other city
    ("TP1947", "TAP", "OPO", "LIS", "07:00", "07:55", 49, 2),  # the small morning shuttle sells out
    ("TP1941", "TAP", "OPO", "LIS", "18:30", "19:25", 59, 150),
    ("TP1944", "TAP", "LIS", "OPO", "08:30", "09:25", 55, 150),
    ("TP1946", "TAP", "LIS", "OPO", "20:00", "20:55", 52, 150),
    ("IB3102", "Iberia", "MAD", "LIS", "09:10", "09:25", 89, 180),
    ("TP1015", "TAP", "MAD", "LIS", "17:40", "17:55", 79, 160),
    ("IB3105", "Iberia", "LIS", "MAD", "11:00", "13:15", 92, 180),
    ("TP1016", "TAP", "LIS", "MAD", "19:30", "21:45", 81, 160),
    ("AF1024", "Air France", "PAR", "LIS", "07:25", "09:05", 139, 180),
    ("TP0433", "TAP", "PAR", "LIS", "16:05", "17:45", 119, 170),
    ("AF1025", "Air France", "LIS", "PAR", "10:05", "13:35", 135, 180),
    ("TP0438", "TAP", "LIS", "PAR", "18:50", "22:20", 124, 170),
    ("BA0500", "British Airways", "LON", "LIS", "08:15", "11:00", 149, 190),
    ("TP1363", "TAP", "LON", "LIS", "19:05", "21:50", 129, 170),
    ("BA0501", "British Airways", "LIS", "LON", "12:00", "14:45", 145, 190),
    ("TP1350", "TAP", "LIS", "LON", "06:55", "09:40", 119, 170),
    ("TP1034", "TAP", "LIS", "BCN", "07:45", "10:40", 99, 170),
    ("VY8461", "Vueling", "LIS", "BCN", "19:15", "22:10", 84, 180),
    ("VY8460", "Vueling", "BCN", "LIS", "08:05", "09:10", 82, 180),
    ("TP1035", "TAP", "BCN", "LIS", "18:20", "19:25", 96, 170),
    ("TP0836", "TAP", "LIS", "ROM", "07:10", "11:00", 139, 170),
    ("AZ0591", "ITA Airways", "LIS", "ROM", "17:55", "21:45", 152, 160),
    ("AZ0590", "ITA Airways", "ROM", "LIS", "08:40", "10:45", 149, 160),
    ("TP0837", "TAP", "ROM", "LIS", "18:20", "20:25", 131, 170),
    ("TP0540", "TAP", "LIS", "BER", "06:40", "11:05", 159, 170),
    ("U25724", "easyJet", "LIS", "BER", "18:05", "22:30", 112, 186),
    ("U25723", "easyJet", "BER", "LIS", "07:20", "10:00", 109, 186),
    ("TP0541", "TAP", "BER", "LIS", "17:45", "20:25", 164, 170),
    # direct pairs away from the hub; Porto has none, and Madrid-Berlin, Barcelona-Paris... none either
    ("IB3010", "Iberia", "MAD", "BCN", "07:30", "08:50", 74, 180),
    ("VY1003", "Vueling", "MAD", "BCN", "19:00", "20:20", 61, 180),
    ("VY1004", "Vueling", "BCN", "MAD", "08:15", "09:35", 63, 180),
    ("IB3015", "Iberia", "BCN", "MAD", "20:10", "21:30", 77, 180),
    ("AF1080", "Air France", "PAR", "LON", "07:50", "08:05", 118, 180),
    ("BA0315", "British Airways", "PAR", "LON", "18:40", "18:55", 126, 190),
    ("BA0304", "British Airways", "LON", "PAR", "08:20", "10:35", 121, 190),
    ("AF1381", "Air France", "LON", "PAR", "19:10", "21:25", 114, 180),
    ("IB3402", "Iberia", "MAD", "PAR", "07:40", "09:45", 108, 180),
    ("AF1301", "Air France", "MAD", "PAR", "18:30", "20:35", 121, 180),
    ("AF1300", "Air France", "PAR", "MAD", "08:05", "10:10", 117, 180),
    ("IB3407", "Iberia", "PAR", "MAD", "19:50", "21:55", 104, 180),
    ("VY6102", "Vueling", "BCN", "ROM", "08:25", "10:15", 79, 180),
    ("AZ0079", "ITA Airways", "BCN", "ROM", "17:40", "19:30", 97, 160),
    ("AZ0078", "ITA Airways", "ROM", "BCN", "07:15", "09:05", 94, 160),
    ("VY6107", "Vueling", "ROM", "BCN", "20:05", "21:55", 76, 180),
    ("AF1734", "Air France", "PAR", "BER", "07:05", "08:55", 128, 180),
    ("U24521", "easyJet", "PAR", "BER", "17:25", "19:15", 89, 186),
    ("U24522", "easyJet", "BER", "PAR", "06:55", "08:45", 86, 186),
    ("AF1735", "Air France", "BER", "PAR", "19:35", "21:25", 131, 180),
    ("BA0982", "British Airways", "LON", "BER", "07:35", "10:30", 134, 190),
    ("U28635", "easyJet", "LON", "BER", "18:15", "21:10", 92, 186),
    ("U28636", "easyJet", "BER", "LON", "08:10", "09:05", 88, 186),
    ("BA0983", "British Airways", "BER", "LON", "19:45", "20:40", 138, 190),
    ("AZ0318", "ITA Airways", "ROM", "PAR", "07:55", "10:05", 126, 160),
    ("AF1405", "Air France", "ROM", "PAR", "18:50", "21:00", 141, 180),
    ("AF1404", "Air France", "PAR", "ROM", "08:35", "10:45", 138, 180),
    ("AZ0333", "ITA Airways", "PAR", "ROM", "19:20", "21:30", 122, 160),
    # London, the demo's default origin, reaches every city but Porto directly
    ("BA0458", "British Airways", "LON", "MAD", "07:20", "10:40", 118, 190),
    ("IB3163", "Iberia", "LON", "MAD", "17:55", "21:15", 104, 180),
    ("IB3166", "Iberia", "MAD", "LON", "07:45", "09:15", 101, 180),
    ("BA0461", "British Airways", "MAD", "LON", "19:10", "20:40", 121, 190),
    ("BA0478", "British Airways", "LON", "BCN", "08:05", "11:10", 124, 190),
    ("VY7821", "Vueling", "LON", "BCN", "18:40", "21:45", 84, 180),
    ("VY7822", "Vueling", "BCN", "LON", "06:50", "08:00", 81, 180),
    ("BA0479", "British Airways", "BCN", "LON", "19:25", "20:35", 127, 190),
    ("BA0548", "British Airways", "LON", "ROM", "07:40", "11:20", 139, 190),
    ("AZ0201", "ITA Airways", "LON", "ROM", "16:50", "20:30", 119, 160),
    ("AZ0202", "ITA Airways", "ROM", "LON", "07:05", "08:55", 116, 160),
    ("BA0549", "British Airways", "ROM", "LON", "18:35", "20:25", 142, 190),
]
# id, city, name, nightly price EUR per room, rooms
HOTELS = [
    ("H-LIS-ALFAMA", "LIS", "Casa do Fado guesthouse, Alfama", 85, 3),
    ("H-LIS-BELEM", "LIS", "Belém River Inn", 95, 10),
    ("H-LIS-BAIXA", "LIS", "Pombalina Baixa Suites", 120, 12),
    ("H-LIS-CHIADO", "LIS", "Chiado Loft Hotel", 165, 8),
    ("H-LIS-AVENIDA", "LIS", "Avenida Grand", 240, 20),
    ("H-OPO-BOLHAO", "OPO", "Bolhão Market Rooms", 62, 8),
    ("H-OPO-RIBEIRA", "OPO", "Ribeira Guesthouse", 75, 6),
    ("H-OPO-ALIADOS", "OPO", "Aliados Palace", 145, 12),
    ("H-OPO-FOZ", "OPO", "Foz Atlantic Hotel", 210, 10),
    ("H-MAD-SOL", "MAD", "Hostal Puerta del Sol", 70, 10),
    ("H-MAD-LATINA", "MAD", "La Latina Courtyard", 98, 6),
    ("H-MAD-PRADO", "MAD", "Hotel Paseo del Prado", 175, 14),
    ("H-MAD-SALAMANCA", "MAD", "Salamanca Real", 290, 9),
    ("H-BCN-GRACIA", "BCN", "Gràcia Patio Rooms", 68, 4),
    ("H-BCN-GOTIC", "BCN", "Hotel Barri Gòtic", 130, 10),
    ("H-BCN-BARCELONETA", "BCN", "Barceloneta Seafront", 185, 12),
    ("H-BCN-EIXAMPLE", "BCN", "Eixample Modernista", 260, 8),
    ("H-PAR-MONTMARTRE", "PAR", "Montmartre Studios", 88, 6),
    ("H-PAR-LATIN", "PAR", "Hôtel du Quartier Latin", 135, 10),
    ("H-PAR-MARAIS", "PAR", "Hôtel du Marais", 180, 8),
    ("H-PAR-OPERA", "PAR", "Grand Hôtel Opéra", 295, 15),
    ("H-LON-CAMDEN", "LON", "Camden Lock Rooms", 72, 5),
    ("H-LON-SOUTHWARK", "LON", "Southwark Bridge Inn", 118, 12),
    ("H-LON-BLOOMS", "LON", "Bloomsbury Rooms", 160, 10),
    ("H-LON-MAYFAIR", "LON", "Mayfair Court", 300, 10),
    ("H-ROM-TRASTEVERE", "ROM", "Trastevere Guesthouse", 65, 3),
    ("H-ROM-MONTI", "ROM", "Monti Boutique Hotel", 115, 8),
    ("H-ROM-NAVONA", "ROM", "Palazzo Navona", 205, 10),
    ("H-ROM-SPAGNA", "ROM", "Spagna Grand Hotel", 280, 12),
    ("H-BER-KREUZBERG", "BER", "Kreuzberg Loft Rooms", 60, 10),
    ("H-BER-MITTE", "BER", "Mitte Design Hotel", 110, 14),
    ("H-BER-CHARLOTTENBURG", "BER", "Charlottenburg Residenz", 170, 9),
    ("H-BER-LINDEN", "BER", "Unter den Linden Grand", 265, 12),
]

_TABLES = (
    "CREATE TABLE IF NOT EXISTS cities (code TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, country TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS routes (
        flight TEXT PRIMARY KEY, carrier TEXT NOT NULL, origin TEXT NOT NULL REFERENCES cities(code),
        destination TEXT NOT NULL REFERENCES cities(code), departs TEXT NOT NULL, arrives TEXT NOT NULL,
        base_eur REAL NOT NULL, seats INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hotels (
        id TEXT PRIMARY KEY, city TEXT NOT NULL REFERENCES cities(code), name TEXT NOT NULL,
        nightly_eur REAL NOT NULL, rooms INTEGER NOT NULL)""",
    # the first shape of the table: _PARTY_COLUMNS brings it, new or old, up to date
    """CREATE TABLE IF NOT EXISTS bookings (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, item_id TEXT NOT NULL,
        traveller TEXT NOT NULL, description TEXT NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
        price_eur REAL NOT NULL, status TEXT NOT NULL, idempotency_key TEXT UNIQUE, created_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS bookings_item ON bookings(item_id, status)",
)
_PARTY_COLUMNS = {"travellers": "INTEGER NOT NULL DEFAULT 1", "rooms": "INTEGER", "nights": "INTEGER",
                  "city": "TEXT", "origin": "TEXT", "destination": "TEXT"}
_BACKFILL = (  # rows booked before the party columns: one traveller, one room
    """UPDATE bookings SET rooms = 1, nights = CAST(julianday(end_date) - julianday(start_date) AS INTEGER),
        city = (SELECT c.name FROM hotels h JOIN cities c ON c.code = h.city WHERE h.id = bookings.item_id)
       WHERE kind = 'hotel' AND rooms IS NULL""",
    """UPDATE bookings SET
        origin = (SELECT c.name FROM routes r JOIN cities c ON c.code = r.origin
                  WHERE r.flight = substr(bookings.item_id, 1, instr(bookings.item_id, '@') - 1)),
        destination = (SELECT c.name FROM routes r JOIN cities c ON c.code = r.destination
                       WHERE r.flight = substr(bookings.item_id, 1, instr(bookings.item_id, '@') - 1))
       WHERE kind = 'flight' AND origin IS NULL""",
)


class TravelError(ToolError):
    """A refusal the caller must act on (unknown item, sold out, bad date): an answer, logged at INFO."""

    def __init__(self, message: str) -> None:
        super().__init__(message, log_level=logging.INFO)


class FlightOffer(BaseModel):
    id: str
    flight: str
    carrier: str
    origin: str
    destination: str
    date: str
    departs: str
    arrives: str
    travellers: int
    price_eur: float
    """Per seat."""
    total_eur: float
    """For the party: price_eur * travellers."""
    seats_left: int


class HotelOffer(BaseModel):
    id: str
    name: str
    city: str
    checkin: str
    checkout: str
    nights: int
    travellers: int
    rooms: int
    """Rooms the party takes: ceil(travellers / 2)."""
    nightly_eur: float
    """Per room."""
    total_eur: float
    """For the stay: nightly_eur * nights * rooms."""
    rooms_left: int
    """Free on the fullest night of the stay."""


class Booking(BaseModel):
    booking_id: str
    kind: Literal["flight", "hotel"]
    item_id: str
    traveller: str
    travellers: int
    description: str
    start_date: str
    """A flight's date; a stay's checkin."""
    end_date: str
    """A flight's date again; a stay's checkout."""
    nights: int | None = None
    rooms: int | None = None
    city: str | None = None
    """A stay's city, by name."""
    origin: str | None = None
    destination: str | None = None
    price_eur: float
    """The total charged for the party."""
    status: Literal["confirmed", "cancelled"]
    idempotency_key: str | None = None


class Inventory:
    """The SQLite inventory: one connection, one lock; a booking is one `BEGIN IMMEDIATE` transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """Opened, migrated and seeded at the first call: listing tools writes nothing."""
        if self._conn is None:
            self._conn = _open(self.path)
        return self._conn

    @contextmanager
    def tx(self) -> Iterator[None]:
        """A write transaction taken at once, so check-then-insert cannot race another process."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # locked past the timeout: nothing was done
                raise TravelError(f"{RETRY_PREFIX} the inventory is busy ({exc})") from exc
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def _one(self, sql: str, *args: Any) -> Any:
        return self.conn.execute(sql, args).fetchone()

    # --- searches ----------------------------------------------------------------------------

    def flights(self, origin: str, destination: str, day: str, travellers: int = 1) -> list[FlightOffer]:
        """The flights that can take the party; an empty list where no route flies."""
        src, dst, when, party = _code(origin), _code(destination), _day(day, "date"), _party(travellers)
        if src == dst:
            raise TravelError(f"origin and destination are both {origin}; choose two different cities")
        with self.lock:
            rows = self.conn.execute(
                "SELECT * FROM routes WHERE origin = ? AND destination = ? ORDER BY departs", (src, dst)
            ).fetchall()
            offers = [self._offer(row, when, party) for row in rows]
        return [o for o in offers if o.seats_left >= party]

    def hotels(
        self, city: str, checkin: str, nights: int, travellers: int = 1, max_nightly_eur: float | None = None
    ) -> list[HotelOffer]:
        """The hotels with rooms for the party on every night of the stay."""
        code, start, stay, party = _code(city), _day(checkin, "checkin"), _nights(nights), _party(travellers)
        with self.lock:
            rows = self.conn.execute("SELECT * FROM hotels WHERE city = ? ORDER BY nightly_eur", (code,)).fetchall()
            offers = [self._stay(row, start, stay, party) for row in rows]
        return [o for o in offers if o.rooms_left >= o.rooms and (max_nightly_eur is None or o.nightly_eur <= max_nightly_eur)]

    def _offer(self, row: sqlite3.Row, day: date, travellers: int) -> FlightOffer:
        offer_id = f"{row['flight']}@{day.isoformat()}"
        spread = (zlib.crc32(offer_id.encode()) % 1000) / 999  # a fixed price per flight and day: 85-115% of base
        price = float(round(row["base_eur"] * (0.85 + 0.3 * spread)))
        sold = self._one(
            "SELECT coalesce(sum(travellers), 0) FROM bookings WHERE item_id = ? AND status = 'confirmed'", offer_id
        )[0]
        return FlightOffer(
            id=offer_id, flight=row["flight"], carrier=row["carrier"], origin=_NAME[row["origin"]],
            destination=_NAME[row["destination"]], date=day.isoformat(), departs=row["departs"], arrives=row["arrives"],
            travellers=travellers, price_eur=price, total_eur=price * travellers, seats_left=row["seats"] - sold,
        )

    def _stay(self, row: sqlite3.Row, checkin: date, nights: int, travellers: int) -> HotelOffer:
        taken = max(
            self._one(
                "SELECT coalesce(sum(rooms), 0) FROM bookings "
                "WHERE item_id = ? AND status = 'confirmed' AND start_date <= ? AND end_date > ?",
                row["id"], night, night,
            )[0]
            for night in ((checkin + timedelta(days=i)).isoformat() for i in range(nights))
        )
        rooms = -(-travellers // 2)
        return HotelOffer(
            id=row["id"], name=row["name"], city=_NAME[row["city"]], checkin=checkin.isoformat(),
            checkout=(checkin + timedelta(days=nights)).isoformat(), nights=nights, travellers=travellers, rooms=rooms,
            nightly_eur=row["nightly_eur"], total_eur=row["nightly_eur"] * nights * rooms, rooms_left=row["rooms"] - taken,
        )

    # --- bookings ----------------------------------------------------------------------------

    def book(
        self, kind: str, item_id: str, traveller: str, checkin: str | None = None, nights: int | None = None,
        key: str | None = None, travellers: int = 1,
    ) -> Booking:
        """Book for the party in one row; a key already used returns its booking and books nothing."""
        traveller, party = traveller.strip(), _party(travellers)
        if not traveller:
            raise TravelError("traveller is empty; give the lead traveller's full name")
        with self.tx():
            if key is not None and (done := self._one("SELECT * FROM bookings WHERE idempotency_key = ?", key)):
                return _booking(done)
            if kind == "flight":
                item = self._flight(item_id, party)
            elif kind == "hotel":
                item = self._hotel(item_id, checkin, nights, party)
            else:
                raise TravelError(f"kind {kind!r} is not bookable; use 'flight' or 'hotel'")
            row = {**item, "kind": kind, "traveller": traveller, "travellers": party, "status": "confirmed",
                   "idempotency_key": key, "created_at": time.time()}
            cursor = self.conn.execute(
                f"INSERT INTO bookings ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})", row
            )
            return _booking(self._one("SELECT * FROM bookings WHERE seq = ?", cursor.lastrowid))

    def _flight(self, item_id: str, travellers: int) -> dict[str, Any]:
        flight, _, day = item_id.partition("@")
        row = self._one("SELECT * FROM routes WHERE flight = ?", flight.strip().upper())
        if row is None or not day:
            raise TravelError(f"unknown flight {item_id!r}; book an id that search_flights returned, like 'TP1941@2026-12-10'")
        o = self._offer(row, _day(day, "the flight's date"), travellers)
        if o.seats_left <= 0:
            raise TravelError(f"flight {o.id} is sold out; search_flights lists the flights with seats left")
        if o.seats_left < travellers:
            raise TravelError(
                f"flight {o.id} has {o.seats_left} seat(s) left, too few for {travellers} travellers; "
                f"search_flights with travellers={travellers} lists the flights that can take them"
            )
        return {"item_id": o.id, "description": f"{o.carrier} {o.flight} {o.origin}-{o.destination} on {o.date} "
                f"at {o.departs}, {travellers} seat(s)", "start_date": o.date, "end_date": o.date,
                "price_eur": o.total_eur, "origin": o.origin, "destination": o.destination}

    def _hotel(self, item_id: str, checkin: str | None, nights: int | None, travellers: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM hotels WHERE id = ?", item_id.strip().upper())
        if row is None:
            raise TravelError(f"unknown hotel {item_id!r}; book an id that search_hotels returned, like 'H-LIS-BAIXA'")
        if checkin is None or nights is None:
            raise TravelError(f"booking hotel {row['id']} needs checkin (YYYY-MM-DD) and nights")
        s = self._stay(row, _day(checkin, "checkin"), _nights(nights), travellers)
        if s.rooms_left <= 0:
            raise TravelError(f"hotel {s.id} is sold out from {s.checkin} to {s.checkout}; search_hotels lists hotels with rooms left")
        if s.rooms_left < s.rooms:
            raise TravelError(
                f"hotel {s.id} has {s.rooms_left} room(s) free from {s.checkin} to {s.checkout}, too few for "
                f"{travellers} travellers ({s.rooms} rooms); search_hotels with travellers={travellers} lists hotels that can take them"
            )
        return {"item_id": s.id, "description": f"{s.name}, {s.rooms} room(s) for {s.nights} night(s) from {s.checkin}",
                "start_date": s.checkin, "end_date": s.checkout, "price_eur": s.total_eur, "nights": s.nights,
                "rooms": s.rooms, "city": s.city}

    def cancel(self, booking_id: str) -> Booking:
        seq = _seq(booking_id)
        with self.tx():
            self.conn.execute("UPDATE bookings SET status = 'cancelled' WHERE seq = ?", (seq,))
            row = self._one("SELECT * FROM bookings WHERE seq = ?", seq)
        if row is None:
            raise TravelError(f"unknown booking {booking_id!r}; list_bookings shows the bookings")
        return _booking(row)

    def bookings(self, traveller: str | None = None) -> list[Booking]:
        where, args = ("WHERE lower(traveller) = lower(?)", (traveller.strip(),)) if traveller else ("", ())
        with self.lock:
            rows = self.conn.execute(f"SELECT * FROM bookings {where} ORDER BY seq", args).fetchall()
        return [_booking(row) for row in rows]


def _open(path: str) -> sqlite3.Connection:
    """Connect, bring the bookings table up to date and rewrite the inventory, in one transaction."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")  # readers in other processes never block
    try:
        conn.execute("BEGIN IMMEDIATE")  # two processes opening one old file cannot both add a column
        for statement in _TABLES:
            conn.execute(statement)
        conn.execute("DELETE FROM cities")
        conn.execute("DELETE FROM routes")
        conn.execute("DELETE FROM hotels")
        conn.executemany("INSERT INTO cities VALUES (?, ?, ?)", CITIES)
        conn.executemany("INSERT INTO routes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ROUTES)
        conn.executemany("INSERT INTO hotels VALUES (?, ?, ?, ?, ?)", HOTELS)
        have = {row["name"] for row in conn.execute("PRAGMA table_info(bookings)")}
        missing = [name for name in _PARTY_COLUMNS if name not in have]
        for name in missing:
            conn.execute(f"ALTER TABLE bookings ADD COLUMN {name} {_PARTY_COLUMNS[name]}")
        if missing:
            for statement in _BACKFILL:
                conn.execute(statement)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise
    conn.execute("COMMIT")
    return conn


def _booking(row: sqlite3.Row) -> Booking:
    fields: dict[str, Any] = {k: row[k] for k in row.keys() if k in Booking.model_fields}
    return Booking(booking_id=f"BK-{row['seq']:05d}", **fields)


def _seq(booking_id: str) -> int:
    prefix, _, number = booking_id.strip().upper().partition("-")
    if prefix != "BK" or not number.isdigit():
        raise TravelError(f"unknown booking {booking_id!r}; booking ids look like 'BK-00001'")
    return int(number)


def _code(city: str) -> str:
    if city not in _CODE:
        raise TravelError(f"unknown city {city!r}; this inventory has {', '.join(CITY_NAMES)}")
    return _CODE[city]


def _day(value: str, what: str) -> date:
    """A day the calendar has: the schema's pattern lets 2026-02-30 through, this does not."""
    try:
        if not re.match(DATE_PATTERN, value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise TravelError(f"{what} {value!r} is not a day of the calendar; write a real date as YYYY-MM-DD") from None


def _nights(nights: int) -> int:
    if not 1 <= nights <= 30:
        raise TravelError(f"nights must be between 1 and 30 (got {nights})")
    return nights


def _party(travellers: int) -> int:
    if not 1 <= travellers <= 9:
        raise TravelError(f"travellers must be between 1 and 9 (got {travellers})")
    return travellers


__all__ = ["CITIES", "CITY_NAMES", "DATE_PATTERN", "HOTELS", "ROUTES", "Booking", "FlightOffer", "HotelOffer", "Inventory", "TravelError"]
