"""The demo travel agency's inventory: the SQLite file that holds the tables (travel_data), the counting rules.

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

from moot.builtin.servers.travel_data import CITIES, CITY_NAMES, DATE_PATTERN, HOTELS, ROUTES
from moot.tools.types import RETRY_PREFIX

_NAME = {code: name for code, name, _ in CITIES}
_CODE = {name: code for code, name, _ in CITIES}

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
