"""The demo travel server: a real FastMCP server over a SQLite inventory it creates and seeds itself.

The demo workspace's booking stage acts through it; `moot mcp travel` serves it to any MCP client.
The inventory is deterministic: five cities, daily flights (an offer's id is `FLIGHT@DATE`, its
price a fixed function of both), hotels with a nightly price and rooms. Seats and rooms are counted
against confirmed bookings, so a flight or a hotel can sell out.

`book` is idempotent by the key a caller puts in the request's `_meta`
(`{"idempotency_key": "<run id>:<position>"}`, as moot's ToolRuntime does): the key names the
call, not its arguments, so a repeated key returns the booking the first call made and books
nothing. The check and the insert share one `BEGIN IMMEDIATE` transaction, so this holds across
processes sharing the database file too. Without a key, every call books.

The database defaults to `$MOOT_HOME/travel.db`, not memory: bookings must outlive the process
(a resumed run must find them; over stdio each client starts its own). `":memory:"` throws away.
It is opened at the first tool call, so listing the tools (`moot graph`) writes nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from pydantic import BaseModel

from moot.persistence import moot_home
from moot.tools.types import RETRY_PREFIX, idempotency_key

CITIES = [("LIS", "Lisbon", "Portugal"), ("OPO", "Porto", "Portugal"), ("MAD", "Madrid", "Spain"),
          ("PAR", "Paris", "France"), ("LON", "London", "United Kingdom")]
# flight, carrier, origin, destination, departs, arrives (local times), base price EUR, seats
ROUTES = [
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
]
# id, city, name, nightly price EUR, rooms
HOTELS = [
    ("H-LIS-ALFAMA", "LIS", "Casa do Fado guesthouse, Alfama", 85, 3),
    ("H-LIS-BELEM", "LIS", "Belém River Inn", 95, 10),
    ("H-LIS-BAIXA", "LIS", "Pombalina Baixa Suites", 120, 12),
    ("H-LIS-CHIADO", "LIS", "Chiado Loft Hotel", 165, 8),
    ("H-LIS-AVENIDA", "LIS", "Avenida Grand", 240, 20),
    ("H-OPO-RIBEIRA", "OPO", "Ribeira Guesthouse", 75, 6),
    ("H-MAD-SOL", "MAD", "Hostal Puerta del Sol", 70, 10),
    ("H-PAR-MARAIS", "PAR", "Hôtel du Marais", 180, 8),
    ("H-LON-BLOOMS", "LON", "Bloomsbury Rooms", 160, 10),
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cities (code TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, country TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS routes (
    flight TEXT PRIMARY KEY, carrier TEXT NOT NULL, origin TEXT NOT NULL REFERENCES cities(code),
    destination TEXT NOT NULL REFERENCES cities(code), departs TEXT NOT NULL, arrives TEXT NOT NULL,
    base_eur REAL NOT NULL, seats INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hotels (
    id TEXT PRIMARY KEY, city TEXT NOT NULL REFERENCES cities(code), name TEXT NOT NULL,
    nightly_eur REAL NOT NULL, rooms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bookings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, item_id TEXT NOT NULL,
    traveller TEXT NOT NULL, description TEXT NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
    price_eur REAL NOT NULL, status TEXT NOT NULL, idempotency_key TEXT UNIQUE, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS bookings_item ON bookings(item_id, status);
"""


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
    price_eur: float
    seats_left: int


class HotelOffer(BaseModel):
    id: str
    name: str
    city: str
    checkin: str
    checkout: str
    nights: int
    nightly_eur: float
    total_eur: float
    rooms_left: int


class Booking(BaseModel):
    booking_id: str
    kind: Literal["flight", "hotel"]
    item_id: str
    traveller: str
    description: str
    start_date: str
    end_date: str
    price_eur: float
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
        """Opened, created and seeded at the first call (under the lock): listing tools writes nothing."""
        if self._conn is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")  # readers in other processes never block
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR IGNORE INTO cities VALUES (?, ?, ?)", CITIES)
            conn.executemany("INSERT OR IGNORE INTO routes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ROUTES)
            conn.executemany("INSERT OR IGNORE INTO hotels VALUES (?, ?, ?, ?, ?)", HOTELS)
            conn.execute("COMMIT")
            self._conn = conn
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

    def _city(self, name: str) -> str:
        """A city's code from its name or code, in any case."""
        row = self._one("SELECT code FROM cities WHERE code = upper(?) OR lower(name) = lower(?)", name.strip(), name.strip())
        if row is None:
            known = ", ".join(f"{n} ({c})" for c, n, _ in CITIES)
            raise TravelError(f"unknown city {name!r}; this inventory has {known}")
        return str(row["code"])

    # --- searches ----------------------------------------------------------------------------

    def flights(self, origin: str, destination: str, day: date) -> list[FlightOffer]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT * FROM routes WHERE origin = ? AND destination = ? ORDER BY departs",
                (self._city(origin), self._city(destination)),
            ).fetchall()
            offers = [self._offer(row, day) for row in rows]
        return [o for o in offers if o.seats_left > 0]

    def hotels(self, city: str, checkin: date, nights: int) -> list[HotelOffer]:
        with self.lock:
            rows = self.conn.execute("SELECT * FROM hotels WHERE city = ? ORDER BY nightly_eur", (self._city(city),))
            offers = [self._stay(row, checkin, nights) for row in rows.fetchall()]
        return [o for o in offers if o.rooms_left > 0]

    def _offer(self, row: sqlite3.Row, day: date) -> FlightOffer:
        offer_id = f"{row['flight']}@{day.isoformat()}"
        spread = (zlib.crc32(offer_id.encode()) % 1000) / 999  # a fixed price per flight and day: 85-115% of base
        sold = self._one("SELECT count(*) FROM bookings WHERE item_id = ? AND status = 'confirmed'", offer_id)
        return FlightOffer(
            id=offer_id, flight=row["flight"], carrier=row["carrier"], origin=row["origin"],
            destination=row["destination"], date=day.isoformat(), departs=row["departs"], arrives=row["arrives"],
            price_eur=float(round(row["base_eur"] * (0.85 + 0.3 * spread))), seats_left=row["seats"] - sold[0],
        )

    def _stay(self, row: sqlite3.Row, checkin: date, nights: int) -> HotelOffer:
        taken = max(
            self._one(
                "SELECT count(*) FROM bookings WHERE item_id = ? AND status = 'confirmed' AND start_date <= ? AND end_date > ?",
                row["id"], night, night,
            )[0]
            for night in ((checkin + timedelta(days=i)).isoformat() for i in range(nights))
        )
        return HotelOffer(
            id=row["id"], name=row["name"], city=row["city"], checkin=checkin.isoformat(),
            checkout=(checkin + timedelta(days=nights)).isoformat(), nights=nights,
            nightly_eur=row["nightly_eur"], total_eur=row["nightly_eur"] * nights, rooms_left=row["rooms"] - taken,
        )

    # --- bookings ----------------------------------------------------------------------------

    def book(self, kind: str, item_id: str, traveller: str, checkin: str | None, nights: int | None, key: str | None) -> Booking:
        traveller = traveller.strip()
        if not traveller:
            raise TravelError("traveller is empty; give the traveller's full name")
        with self.tx():
            if key is not None and (done := self._one("SELECT * FROM bookings WHERE idempotency_key = ?", key)):
                return _booking(done)
            if kind == "flight":
                item = self._flight(item_id)
            elif kind == "hotel":
                item = self._hotel(item_id, checkin, nights)
            else:
                raise TravelError(f"kind {kind!r} is not bookable; use 'flight' or 'hotel'")
            cursor = self.conn.execute(
                "INSERT INTO bookings (kind, item_id, description, start_date, end_date, price_eur, traveller, "
                "status, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'confirmed', ?, ?)",
                (kind, *item, traveller, key, time.time()),
            )
            return _booking(self._one("SELECT * FROM bookings WHERE seq = ?", cursor.lastrowid))

    def _flight(self, item_id: str) -> tuple[str, str, str, str, float]:
        flight, _, day = item_id.partition("@")
        row = self._one("SELECT * FROM routes WHERE flight = ?", flight.strip().upper())
        if row is None or not day:
            raise TravelError(f"unknown flight {item_id!r}; book an id that search_flights returned, like 'TP1941@2026-12-10'")
        o = self._offer(row, _day(day, "the flight's date"))
        if o.seats_left <= 0:
            raise TravelError(f"flight {o.id} is sold out; search_flights lists the flights with seats left")
        return o.id, f"{o.carrier} {o.flight} {o.origin}-{o.destination} on {o.date} at {o.departs}", o.date, o.date, o.price_eur

    def _hotel(self, item_id: str, checkin: str | None, nights: int | None) -> tuple[str, str, str, str, float]:
        row = self._one("SELECT * FROM hotels WHERE id = ?", item_id.strip().upper())
        if row is None:
            raise TravelError(f"unknown hotel {item_id!r}; book an id that search_hotels returned, like 'H-LIS-BAIXA'")
        if checkin is None or nights is None:
            raise TravelError(f"booking hotel {row['id']} needs checkin (YYYY-MM-DD) and nights")
        s = self._stay(row, _day(checkin, "checkin"), _nights(nights))
        if s.rooms_left <= 0:
            raise TravelError(f"hotel {s.id} is sold out from {s.checkin} to {s.checkout}; search_hotels lists hotels with rooms left")
        return s.id, f"{s.name}, {s.nights} night(s) from {s.checkin}", s.checkin, s.checkout, s.total_eur

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


def _booking(row: sqlite3.Row) -> Booking:
    fields: dict[str, Any] = {k: row[k] for k in row.keys() if k in Booking.model_fields}
    return Booking(booking_id=f"BK-{row['seq']:05d}", **fields)


def _seq(booking_id: str) -> int:
    prefix, _, number = booking_id.strip().upper().partition("-")
    if prefix != "BK" or not number.isdigit():
        raise TravelError(f"unknown booking {booking_id!r}; booking ids look like 'BK-00001'")
    return int(number)


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise TravelError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD") from None


def _nights(nights: int) -> int:
    if not 1 <= nights <= 30:
        raise TravelError(f"nights must be between 1 and 30 (got {nights})")
    return nights


def make_travel_server(db_path: str | Path | None = None) -> FastMCP:
    """The travel server over `db_path` (default `$MOOT_HOME/travel.db`; `":memory:"` for none)."""
    inventory = Inventory(db_path if db_path is not None else moot_home() / "travel.db")
    mcp = FastMCP(
        "moot-travel",
        instructions="A demo travel agency: search flights and hotels, then book an id a search returned.",
    )

    @mcp.tool
    async def search_flights(origin: str, destination: str, date: str) -> list[FlightOffer]:
        """Flights with seats left from one city to another on a day, earliest first.

        Args:
            origin: departure city, by name (Lisbon) or code (LIS)
            destination: arrival city, by name or code
            date: day of departure, YYYY-MM-DD
        """
        return inventory.flights(origin, destination, _day(date, "date"))

    @mcp.tool
    async def search_hotels(city: str, checkin: str, nights: int, max_price_eur: float | None = None) -> list[HotelOffer]:
        """Hotels in a city with a room free for every night of the stay, cheapest first.

        Args:
            city: city by name (Lisbon) or code (LIS)
            checkin: day of arrival, YYYY-MM-DD
            nights: number of nights, 1 to 30
            max_price_eur: highest nightly price in EUR, if any
        """
        offers = inventory.hotels(city, _day(checkin, "checkin"), _nights(nights))
        return [o for o in offers if max_price_eur is None or o.nightly_eur <= max_price_eur]

    @mcp.tool
    async def book(
        kind: Literal["flight", "hotel"], item_id: str, traveller: str, ctx: Context,
        checkin: str | None = None, nights: int | None = None,
    ) -> Booking:
        """Book a flight or a hotel stay by an id a search returned. Retries are safe with an
        idempotency key in the request's `_meta`: a key already used returns its booking again.

        Args:
            kind: 'flight' or 'hotel'
            item_id: the offer's id from search_flights (e.g. TP1941@2026-12-10) or search_hotels (e.g. H-LIS-BAIXA)
            traveller: the traveller's full name
            checkin: for a hotel, day of arrival, YYYY-MM-DD
            nights: for a hotel, number of nights
        """
        return inventory.book(kind, item_id, traveller, checkin, nights, idempotency_key(ctx))

    @mcp.tool
    async def cancel(booking_id: str) -> Booking:
        """Cancel a booking (its seat or room is free again); cancelling twice changes nothing.

        Args:
            booking_id: the id book returned, e.g. BK-00001
        """
        return inventory.cancel(booking_id)

    @mcp.tool
    async def list_bookings(traveller: str | None = None) -> list[Booking]:
        """Every booking, confirmed and cancelled, oldest first.

        Args:
            traveller: only this traveller's bookings
        """
        return inventory.bookings(traveller)

    return mcp


__all__ = ["Booking", "FlightOffer", "HotelOffer", "Inventory", "TravelError", "make_travel_server"]
