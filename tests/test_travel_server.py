"""The demo travel server (issue 4): a real FastMCP server over its own SQLite inventory.

`moot mcp travel` is driven by the official `mcp` SDK client over stdio and streamable HTTP, as
any MCP client would; the published schemas are checked as the contract they are (with jsonschema,
as moot's ToolRuntime checks arguments), and the inventory's rules (parties, sold out, rooms per
night, routes, idempotency, persistence, an old database file, bad input) in-process through
FastMCP's in-memory client, a real protocol session.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from clitools import cli_env
from fastmcp import Client
from jsonschema import Draft202012Validator
from mcptools import data, error_text, http_server, http_session, stdio_session

from moot.builtin.servers.travel import CITIES, HOTELS, ROUTES, make_travel_server

DAY = "2026-12-10"
TOOLS = {"search_flights", "search_hotels", "book", "cancel", "list_bookings"}
NAMES = [name for _, name, _ in CITIES]
DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
HUB = "Lisbon"
DIRECT = {frozenset(p) for p in [("Madrid", "Barcelona"), ("Paris", "London"), ("Madrid", "Paris"), ("Barcelona", "Rome"),
                                 ("Paris", "Berlin"), ("London", "Berlin"), ("Rome", "Paris"), ("London", "Madrid"),
                                 ("London", "Barcelona"), ("London", "Rome")]}


def hotel(item: str = "H-LIS-ALFAMA", checkin: str = DAY, nights: int = 3, traveller: str = "Ana Sousa", **kw: Any) -> dict[str, Any]:
    return {"kind": "hotel", "item_id": item, "traveller": traveller, "checkin": checkin, "nights": nights, **kw}


def flight(item: str, traveller: str = "Ana Sousa", **kw: Any) -> dict[str, Any]:
    return {"kind": "flight", "item_id": item, "traveller": traveller, **kw}


# --- the official SDK client against `moot mcp travel` ---------------------------------------------


async def test_sdk_client_over_stdio_searches_books_and_cancels(tmp_path: Path) -> None:
    db = tmp_path / "travel.db"
    async with stdio_session(["travel", "--db", str(db)], cli_env(tmp_path / "home"), tmp_path / "server.log") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert set(tools) == TOOLS
        book_schema = tools["book"].input_schema
        assert book_schema["properties"]["kind"]["enum"] == ["flight", "hotel"]
        assert set(book_schema["required"]) == {"kind", "item_id", "traveller"}
        assert tools["search_hotels"].input_schema["properties"]["city"]["enum"] == NAMES
        assert all(t.description for t in tools.values())

        flights = data(await s.call_tool("search_flights", {"origin": "Porto", "destination": "Lisbon", "date": DAY}))
        assert [f["id"] for f in flights] == [f"TP1947@{DAY}", f"TP1941@{DAY}"]
        hotels = data(await s.call_tool("search_hotels", {"city": "Lisbon", "checkin": DAY, "nights": 3, "max_price_eur": 100}))
        assert [(h["id"], h["total_eur"]) for h in hotels] == [("H-LIS-ALFAMA", 255.0), ("H-LIS-BELEM", 285.0)]
        coded = await s.call_tool("search_hotels", {"city": "LIS", "checkin": DAY, "nights": 3})
        assert coded.is_error and "Input should be 'Lisbon'" in error_text(coded)

        # the same idempotency key twice books once and answers the same booking
        key = {"idempotency_key": "run-abc:0"}
        first = data(await s.call_tool("book", hotel(), meta=key))
        again = data(await s.call_tool("book", hotel(), meta=key))
        assert again == first and first["status"] == "confirmed" and first["idempotency_key"] == "run-abc:0"
        # without a key every call books
        one = data(await s.call_tool("book", flight(flights[1]["id"])))
        two = data(await s.call_tool("book", flight(flights[1]["id"])))
        assert one["booking_id"] != two["booking_id"]

        unknown = await s.call_tool("book", flight(f"XX0000@{DAY}"))
        assert "unknown flight 'XX0000@2026-12-10'" in error_text(unknown)

        cancelled = data(await s.call_tool("cancel", {"booking_id": two["booking_id"]}))
        assert cancelled["status"] == "cancelled"
        listed = data(await s.call_tool("list_bookings", {}))
        assert [(b["booking_id"], b["status"]) for b in listed] == [
            (first["booking_id"], "confirmed"), (one["booking_id"], "confirmed"), (two["booking_id"], "cancelled")
        ]


async def test_sdk_client_over_http_books_once_across_processes(tmp_path: Path) -> None:
    """The HTTP server and an in-process server share one database file: a key used through
    one of them is honoured by the other."""
    db = tmp_path / "travel.db"
    with http_server(["travel", "--db", str(db)], cli_env(tmp_path / "home"), tmp_path / "server.log") as url:
        async with http_session(url) as s:
            assert {t.name for t in (await s.list_tools()).tools} == TOOLS
            offers = data(await s.call_tool("search_flights", {"origin": "Lisbon", "destination": "London", "date": DAY}))
            assert [o["flight"] for o in offers] == ["TP1350", "BA0501"]
            booked = data(await s.call_tool("book", flight(offers[0]["id"]), meta={"idempotency_key": "run-h:1"}))
            async with Client(make_travel_server(db)) as local:
                replay = await local.call_tool("book", flight(offers[1]["id"]), meta={"idempotency_key": "run-h:1"})
            assert replay.structured_content == booked  # the key names the call: its first booking stands
            assert len(data(await s.call_tool("list_bookings", {}))) == 1
            bad = await s.call_tool("cancel", {"booking_id": "BK-99999"})
            assert "unknown booking 'BK-99999'" in error_text(bad)


# --- the published schemas: the contract ---------------------------------------------------------


async def call(client: Client, tool: str, args: dict[str, Any], **kw: Any) -> Any:
    result = await client.call_tool(tool, args, raise_on_error=False, **kw)
    if result.is_error:
        return "error: " + " ".join(getattr(b, "text", "") for b in result.content)
    content = result.structured_content or {}
    return content["result"] if set(content) == {"result"} else content


async def schemas() -> dict[str, dict[str, Any]]:
    async with Client(make_travel_server(":memory:")) as c:
        return {t.name: t.input_schema for t in await c.list_tools()}


def props(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A property's schema without its description (and, for an optional one, its non-null branch)."""
    prop = {k: v for k, v in schema["properties"][name].items() if k != "description"}
    if "anyOf" in prop:
        (prop,) = [branch for branch in prop["anyOf"] if branch != {"type": "null"}]
    return prop


async def test_the_published_schemas_carry_enums_dates_and_bounds() -> None:
    s = await schemas()
    for tool, name in [("search_flights", "origin"), ("search_flights", "destination"), ("search_hotels", "city")]:
        assert props(s[tool], name) == {"type": "string", "enum": NAMES}, (tool, name)
        assert "LIS" not in s[tool]["properties"][name]["description"]  # the enum lists the cities, once
    for tool, name in [("search_flights", "date"), ("search_hotels", "checkin"), ("book", "checkin")]:
        assert props(s[tool], name) == DATE, (tool, name)
    for tool in ("search_hotels", "book"):
        assert props(s[tool], "nights") == {"type": "integer", "minimum": 1, "maximum": 30}
    for tool in ("search_flights", "search_hotels", "book"):
        assert props(s[tool], "travellers") == {"type": "integer", "minimum": 1, "maximum": 9, "default": 1}
        assert "travellers" not in s[tool]["required"]
    assert props(s["search_hotels"], "max_price_eur") == {"type": "number", "minimum": 0}
    assert props(s["book"], "kind") == {"type": "string", "enum": ["flight", "hotel"]}
    assert all(schema["additionalProperties"] is False for schema in s.values())


async def test_the_schema_alone_refuses_codes_bad_dates_and_out_of_range_numbers() -> None:
    """What moot's ToolRuntime does before a call: jsonschema against the published schema."""
    s = await schemas()
    hotels, flights = Draft202012Validator(s["search_hotels"]), Draft202012Validator(s["search_flights"])
    good = {"city": "Lisbon", "checkin": DAY, "nights": 3, "travellers": 2, "max_price_eur": 100}
    assert hotels.is_valid(good)
    for bad in ({"city": "LIS"}, {"city": "lisbon"}, {"checkin": "10/12/2026"}, {"checkin": "2026-12-10T10:00"},
                {"nights": 0}, {"nights": 31}, {"travellers": 0}, {"travellers": 10}, {"max_price_eur": -1}, {"rooms": 1}):
        assert not hotels.is_valid(good | bad), bad
    assert not flights.is_valid({"origin": "OPO", "destination": "Lisbon", "date": DAY})


async def test_the_server_refuses_what_the_schema_refuses_and_books_nothing() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        cases = [
            ("search_hotels", {"city": "LIS", "checkin": DAY, "nights": 1}, "Input should be 'Lisbon', 'Porto'"),
            ("search_flights", {"origin": "Porto", "destination": "Lisbon", "date": "10/12/2026"}, "should match pattern"),
            ("search_hotels", {"city": "Lisbon", "checkin": DAY, "nights": 0}, "greater than or equal to 1"),
            ("search_flights", {"origin": "Porto", "destination": "Lisbon", "date": DAY, "travellers": 10}, "less than or equal to 9"),
            ("search_hotels", {"city": "Lisbon", "checkin": DAY, "nights": 1, "max_price_eur": -5}, "greater than or equal to 0"),
            ("book", hotel(travellers=0), "greater than or equal to 1"),
        ]
        for tool, args, expected in cases:
            answer = await call(c, tool, args)
            assert isinstance(answer, str) and expected in answer, (tool, args, answer)
        assert await call(c, "list_bookings", {}) == []


async def test_an_impossible_day_fits_the_pattern_and_is_refused_by_the_server() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        for tool, args, what in [
            ("search_flights", {"origin": "Porto", "destination": "Lisbon", "date": "2026-02-30"}, "date '2026-02-30'"),
            ("search_hotels", {"city": "Lisbon", "checkin": "2026-13-01", "nights": 1}, "checkin '2026-13-01'"),
            ("book", hotel(checkin="2026-02-29"), "checkin '2026-02-29'"),
            ("book", flight("TP1941@2026-04-31"), "the flight's date '2026-04-31'"),
        ]:
            assert await call(c, tool, args) == f"error: {what} is not a day of the calendar; write a real date as YYYY-MM-DD"


# --- the inventory's rules, in-process -----------------------------------------------------------


async def test_a_party_takes_a_seat_each_and_pays_per_seat() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        one = await call(c, "search_flights", {"origin": "Porto", "destination": "Lisbon", "date": DAY})
        three = await call(c, "search_flights", {"origin": "Porto", "destination": "Lisbon", "date": DAY, "travellers": 3})
        assert [(o["id"], o["seats_left"]) for o in one] == [(f"TP1947@{DAY}", 2), (f"TP1941@{DAY}", 150)]
        assert [(o["id"], o["price_eur"], o["total_eur"]) for o in three] == [(f"TP1941@{DAY}", 61.0, 183.0)]  # the shuttle has 2 seats
        shuttle = f"TP1947@{DAY}"
        assert await call(c, "book", flight(shuttle, travellers=3)) == (
            f"error: flight {shuttle} has 2 seat(s) left, too few for 3 travellers; "
            "search_flights with travellers=3 lists the flights that can take them"
        )
        pair = await call(c, "book", flight(shuttle, travellers=2))
        assert (pair["travellers"], pair["price_eur"]) == (2, 2 * one[0]["price_eur"])
        assert await call(c, "book", flight(shuttle)) == (
            f"error: flight {shuttle} is sold out; search_flights lists the flights with seats left"
        )


async def test_a_flight_sells_out_and_a_cancellation_frees_the_seat() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        shuttle = f"TP1947@{DAY}"  # two seats
        first = await call(c, "book", flight(shuttle))
        await call(c, "book", flight(shuttle, "Rui Lopes"))
        assert "is sold out" in await call(c, "book", flight(shuttle, "Eva Lima"))
        offers = await call(c, "search_flights", {"origin": "Porto", "destination": "Lisbon", "date": DAY})
        assert shuttle not in [o["id"] for o in offers]
        await call(c, "cancel", {"booking_id": first["booking_id"]})
        assert (await call(c, "book", flight(shuttle, "Eva Lima")))["status"] == "confirmed"


async def test_a_party_takes_a_room_per_two_travellers_on_every_night() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        for travellers, rooms in [(1, 1), (2, 1), (3, 2), (5, 3), (6, 3), (9, 5)]:
            stays = await call(c, "search_hotels", {"city": "Lisbon", "checkin": DAY, "nights": 2, "travellers": travellers})
            assert {(s["rooms"], s["total_eur"]) for s in stays if s["id"] == "H-LIS-BELEM"} == {(rooms, 95.0 * 2 * rooms)}
            assert ("H-LIS-ALFAMA" in [s["id"] for s in stays]) == (rooms <= 3)  # Casa do Fado has three rooms
        booked = await call(c, "book", hotel(travellers=5))  # three rooms, three nights
        assert (booked["rooms"], booked["nights"], booked["price_eur"]) == (3, 3, 85.0 * 3 * 3)
        assert "is sold out from 2026-12-12 to 2026-12-13" in await call(c, "book", hotel(checkin="2026-12-12", nights=1))
        # the night of the checkout is free again
        assert (await call(c, "book", hotel(checkin="2026-12-13", nights=2, travellers=3)))["rooms"] == 2
        assert await call(c, "book", hotel(checkin="2026-12-14", nights=1, travellers=4)) == (
            "error: hotel H-LIS-ALFAMA has 1 room(s) free from 2026-12-14 to 2026-12-15, too few for 4 travellers "
            "(2 rooms); search_hotels with travellers=4 lists hotels that can take them"
        )
        stays = await call(c, "search_hotels", {"city": "Lisbon", "checkin": DAY, "nights": 1})
        assert "H-LIS-ALFAMA" not in [h["id"] for h in stays]


async def test_routes_link_the_hub_and_the_direct_pairs_and_nothing_else() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        for origin in NAMES:
            for destination in (n for n in NAMES if n != origin):
                offers = await call(c, "search_flights", {"origin": origin, "destination": destination, "date": DAY})
                linked = HUB in (origin, destination) or frozenset((origin, destination)) in DIRECT
                assert len(offers) == (2 if linked else 0), (origin, destination, offers)
                assert all((o["origin"], o["destination"]) == (origin, destination) for o in offers)
                if linked:  # earlier and later, on two carriers (but TAP's own Lisbon-Porto shuttle)
                    assert offers[0]["departs"] < "12:00" <= offers[1]["departs"], offers
                    assert offers[0]["carrier"] != offers[1]["carrier"] or {origin, destination} == {"Lisbon", "Porto"}
        for origin, destination in [("Porto", "Berlin"), ("Porto", "Rome"), ("Porto", "London"), ("Madrid", "Berlin"), ("Barcelona", "Paris")]:
            assert await call(c, "search_flights", {"origin": origin, "destination": destination, "date": DAY}) == []
        assert "choose two different cities" in await call(c, "search_flights", {"origin": "Rome", "destination": "Rome", "date": DAY})
        for _, city, _ in CITIES:
            stays = await call(c, "search_hotels", {"city": city, "checkin": DAY, "nights": 1})
            assert 3 <= len(stays) <= 5 and all(60 <= s["nightly_eur"] <= 300 for s in stays), city
    assert len({r[0] for r in ROUTES}) == len(ROUTES) and len({h[0] for h in HOTELS}) == len(HOTELS)
    assert [h[0] for h in HOTELS if h[1] == "LIS"] == ["H-LIS-ALFAMA", "H-LIS-BELEM", "H-LIS-BAIXA", "H-LIS-CHIADO", "H-LIS-AVENIDA"]


async def test_prices_are_a_fixed_function_of_flight_and_day() -> None:
    async with Client(make_travel_server(":memory:")) as c, Client(make_travel_server(":memory:")) as d:
        args = {"origin": "Paris", "destination": "Berlin", "date": DAY}
        assert await call(c, "search_flights", args) == await call(d, "search_flights", args)
        later = await call(c, "search_flights", args | {"date": "2026-12-11"})
        assert [o["price_eur"] for o in later] != [o["price_eur"] for o in await call(c, "search_flights", args)]


async def test_bookings_carry_what_a_checker_needs() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        (offer, _) = await call(c, "search_flights", {"origin": "Madrid", "destination": "Barcelona", "date": DAY, "travellers": 2})
        flown = await call(c, "book", flight(offer["id"], travellers=2))
        stay = await call(c, "book", hotel("H-BCN-GOTIC", checkin=DAY, nights=4, travellers=3))
        assert {k: v for k, v in flown.items() if k not in ("booking_id", "description")} == {
            "kind": "flight", "item_id": f"IB3010@{DAY}", "traveller": "Ana Sousa", "travellers": 2, "start_date": DAY,
            "end_date": DAY, "nights": None, "rooms": None, "city": None, "origin": "Madrid", "destination": "Barcelona",
            "price_eur": offer["total_eur"], "status": "confirmed", "idempotency_key": None,
        }
        assert {k: v for k, v in stay.items() if k not in ("booking_id", "description")} == {
            "kind": "hotel", "item_id": "H-BCN-GOTIC", "traveller": "Ana Sousa", "travellers": 3, "start_date": DAY,
            "end_date": "2026-12-14", "nights": 4, "rooms": 2, "city": "Barcelona", "origin": None, "destination": None,
            "price_eur": 130.0 * 4 * 2, "status": "confirmed", "idempotency_key": None,
        }
        assert await call(c, "list_bookings", {"traveller": "ana sousa"}) == [flown, stay]


async def test_concurrent_calls_with_one_key_book_once() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        key = {"idempotency_key": "run-c:3"}
        answers = await asyncio.gather(*(call(c, "book", hotel(), meta=key) for _ in range(5)))
        assert all(a == answers[0] for a in answers)
        assert len(await call(c, "list_bookings", {})) == 1


async def test_bookings_and_keys_outlive_the_server(moot_home: Path) -> None:
    async with Client(make_travel_server()) as c:  # default: $MOOT_HOME/travel.db
        assert {t.name for t in await c.list_tools()} == TOOLS
        assert not moot_home.exists(), "listing the tools (as `moot graph` does) must write nothing"
        booked = await call(c, "book", hotel(), meta={"idempotency_key": "run-p:0"})
    assert (moot_home / "travel.db").is_file()
    async with Client(make_travel_server()) as c:
        assert await call(c, "book", hotel(), meta={"idempotency_key": "run-p:0"}) == booked
        assert await call(c, "list_bookings", {"traveller": "ana sousa"}) == [booked]


# the first version's tables, as a file written by it holds them
OLD_SCHEMA = """
CREATE TABLE cities (code TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, country TEXT NOT NULL);
CREATE TABLE routes (
    flight TEXT PRIMARY KEY, carrier TEXT NOT NULL, origin TEXT NOT NULL REFERENCES cities(code),
    destination TEXT NOT NULL REFERENCES cities(code), departs TEXT NOT NULL, arrives TEXT NOT NULL,
    base_eur REAL NOT NULL, seats INTEGER NOT NULL);
CREATE TABLE hotels (
    id TEXT PRIMARY KEY, city TEXT NOT NULL REFERENCES cities(code), name TEXT NOT NULL,
    nightly_eur REAL NOT NULL, rooms INTEGER NOT NULL);
CREATE TABLE bookings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, item_id TEXT NOT NULL,
    traveller TEXT NOT NULL, description TEXT NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
    price_eur REAL NOT NULL, status TEXT NOT NULL, idempotency_key TEXT UNIQUE, created_at REAL NOT NULL);
CREATE INDEX bookings_item ON bookings(item_id, status);
INSERT INTO cities VALUES ('LIS', 'Lisbon', 'Portugal'), ('OPO', 'Porto', 'Portugal');
INSERT INTO routes VALUES ('TP1947', 'TAP', 'OPO', 'LIS', '07:00', '07:55', 49, 2);
INSERT INTO hotels VALUES ('H-LIS-ALFAMA', 'LIS', 'Casa do Fado guesthouse, Alfama', 85, 3);
INSERT INTO bookings (kind, item_id, traveller, description, start_date, end_date, price_eur, status, idempotency_key, created_at)
VALUES ('hotel', 'H-LIS-ALFAMA', 'Ana Sousa', 'Casa do Fado guesthouse, Alfama, 3 night(s) from 2026-12-10',
        '2026-12-10', '2026-12-13', 255.0, 'confirmed', 'old:0', 0),
       ('flight', 'TP1947@2026-12-10', 'Rui Lopes', 'TAP TP1947 OPO-LIS on 2026-12-10 at 07:00',
        '2026-12-10', '2026-12-10', 52.0, 'confirmed', 'old:1', 0);
"""


async def test_an_old_database_file_keeps_its_bookings_and_keys(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.executescript(OLD_SCHEMA)
    async with Client(make_travel_server(db)) as c:
        stay, seat = await call(c, "list_bookings", {})
        assert (stay["travellers"], stay["rooms"], stay["nights"], stay["city"]) == (1, 1, 3, "Lisbon")
        assert (seat["travellers"], seat["origin"], seat["destination"], seat["rooms"]) == (1, "Porto", "Lisbon", None)
        assert await call(c, "book", hotel("H-LIS-BAIXA"), meta={"idempotency_key": "old:0"}) == stay
        # the old bookings still take their seat and room
        for travellers, shuttle in [(1, True), (2, False)]:
            args = {"origin": "Porto", "destination": "Lisbon", "date": DAY, "travellers": travellers}
            assert (f"TP1947@{DAY}" in [o["id"] for o in await call(c, "search_flights", args)]) == shuttle
        for travellers, fado in [(4, True), (5, False)]:  # two rooms left of three
            args = {"city": "Lisbon", "checkin": DAY, "nights": 1, "travellers": travellers}
            assert ("H-LIS-ALFAMA" in [h["id"] for h in await call(c, "search_hotels", args)]) == fado
        assert len(await call(c, "search_hotels", {"city": "Berlin", "checkin": DAY, "nights": 1})) == 4
        booked = await call(c, "book", flight(f"TP1947@{DAY}"))
        assert (booked["booking_id"], booked["origin"]) == ("BK-00003", "Porto")
    async with Client(make_travel_server(db)) as c:  # opening a migrated file again changes nothing
        assert len(await call(c, "list_bookings", {})) == 3


async def test_bad_input_is_a_tool_error_that_says_what_to_do() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        cases = [
            ("book", {"kind": "hotel", "item_id": "H-LIS-BAIXA", "traveller": "Ana"}, "needs checkin (YYYY-MM-DD) and nights"),
            ("book", hotel(item="H-NOWHERE"), "unknown hotel 'H-NOWHERE'; book an id that search_hotels returned"),
            ("book", hotel(traveller="  "), "traveller is empty"),
            ("book", flight("TP1941"), "unknown flight 'TP1941'; book an id that search_flights returned, like 'TP1941@2026-12-10'"),
            ("cancel", {"booking_id": "42"}, "booking ids look like 'BK-00001'"),
        ]
        for tool, args, expected in cases:
            answer = await call(c, tool, args)
            assert isinstance(answer, str) and expected in answer, (tool, args, answer)
        assert await call(c, "list_bookings", {}) == []  # nothing half-booked, and the server still answers
