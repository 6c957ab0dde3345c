"""The demo travel server: a real FastMCP server over the SQLite inventory of `travel_inventory`.

The demo workspace's booking stage acts through it; `moot mcp travel` serves it to any MCP client.

Its input schemas are the contract. The model only chooses among ids a search returned, and every
argument a model or code sends is checked against the published schema before the call (moot's
ToolRuntime validates with jsonschema), so the schemas say all they can: cities are an `enum` of
the inventory's city names (codes such as "LIS" are refused: one spelling per city), nights are
1-30, travellers 1-9, prices >= 0. Dates are strings with `format: date` AND a
`pattern` of YYYY-MM-DD, not `datetime.date`: jsonschema checks `format` only when asked to (the
runtime does not), and pydantic's lax `date` would take 1765324800 or "2026-12-10T00:00:00" as a
day; a pattern is checked everywhere, and an impossible day that fits it (2026-02-30) is refused
by the server with a TravelError that says how to write it.

Parties of up to nine: a flight takes one seat per traveller, a stay one room per two travellers,
and offers and bookings carry the total, so a checker can verify a plan from the bookings alone
(cities by name, dates, nights, travellers, rooms, total charged). The inventory grew to eight
cities with routes that exist and pairs that do not, so task sets can vary.

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

from pathlib import Path
from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import Field

from moot.builtin.servers.travel_inventory import (
    CITIES,
    CITY_NAMES,
    DATE_PATTERN,
    HOTELS,
    ROUTES,
    Booking,
    FlightOffer,
    HotelOffer,
    Inventory,
    TravelError,
)
from moot.settings import moot_home
from moot.tools.types import idempotency_key

City = Literal[CITY_NAMES]  # type: ignore[valid-type]  # the enum is the CITIES table's names
Day = Annotated[str, Field(pattern=DATE_PATTERN, json_schema_extra={"format": "date"})]
Nights = Annotated[int, Field(ge=1, le=30)]
Travellers = Annotated[int, Field(ge=1, le=9)]


def make_travel_server(db_path: str | Path | None = None) -> FastMCP:
    """The travel server over `db_path` (default `$MOOT_HOME/travel.db`; `":memory:"` for none)."""
    inventory = Inventory(db_path if db_path is not None else moot_home() / "travel.db")
    mcp = FastMCP(
        "moot-travel",
        instructions="A demo travel agency: search flights and hotels, then book an id a search returned.",
    )

    @mcp.tool
    async def search_flights(origin: City, destination: City, date: Day, travellers: Travellers = 1) -> list[FlightOffer]:
        """Direct flights with a seat for every traveller from one city to another on a day, earliest
        first; an empty list when no flight links the two cities.

        Args:
            origin: departure city
            destination: arrival city
            date: day of departure, YYYY-MM-DD
            travellers: people flying together; price_eur is per seat, total_eur for all of them
        """
        return inventory.flights(origin, destination, date, travellers)

    @mcp.tool
    async def search_hotels(
        city: City, checkin: Day, nights: Nights, travellers: Travellers = 1,
        max_price_eur: Annotated[float | None, Field(ge=0)] = None,
    ) -> list[HotelOffer]:
        """Hotels in a city with rooms for the party (one room per two travellers) free on every
        night of the stay, cheapest first.

        Args:
            city: the city
            checkin: day of arrival, YYYY-MM-DD
            nights: number of nights
            travellers: people staying together
            max_price_eur: highest nightly price per room in EUR, if any
        """
        return inventory.hotels(city, checkin, nights, travellers, max_price_eur)

    @mcp.tool
    async def book(
        kind: Literal["flight", "hotel"], item_id: str, traveller: str, ctx: Context,
        checkin: Day | None = None, nights: Nights | None = None, travellers: Travellers = 1,
    ) -> Booking:
        """Book a flight or a hotel stay for the party by an id a search returned; the booking's
        price_eur is the total charged. Retries are safe with an idempotency key in the request's
        `_meta`: a key already used returns its booking again.

        Args:
            kind: what item_id names: a flight offer or a hotel
            item_id: the offer's id from search_flights (e.g. TP1941@2026-12-10) or search_hotels (e.g. H-LIS-BAIXA)
            traveller: the lead traveller's full name
            checkin: for a hotel, day of arrival, YYYY-MM-DD
            nights: for a hotel, number of nights
            travellers: people in the party: seats on a flight, one room per two at a hotel
        """
        return inventory.book(kind, item_id, traveller, checkin, nights, idempotency_key(ctx), travellers)

    @mcp.tool
    async def cancel(booking_id: str) -> Booking:
        """Cancel a booking (its seats or rooms are free again); cancelling twice changes nothing.

        Args:
            booking_id: the id book returned, e.g. BK-00001
        """
        return inventory.cancel(booking_id)

    @mcp.tool
    async def list_bookings(traveller: str | None = None) -> list[Booking]:
        """Every booking, confirmed and cancelled, oldest first.

        Args:
            traveller: only this lead traveller's bookings
        """
        return inventory.bookings(traveller)

    return mcp


__all__ = [
    "CITIES",
    "HOTELS",
    "ROUTES",
    "Booking",
    "FlightOffer",
    "HotelOffer",
    "Inventory",
    "TravelError",
    "make_travel_server",
]
