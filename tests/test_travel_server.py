"""The demo travel server (issue 4): a real FastMCP server over its own SQLite inventory.

`moot mcp travel` is driven by the official `mcp` SDK client over stdio and streamable HTTP, as
any MCP client would; the inventory's rules (sold out, rooms per night, idempotency, persistence,
bad input) are checked in-process through FastMCP's in-memory client, a real protocol session.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from clitools import cli_env
from fastmcp import Client
from mcptools import data, error_text, http_server, http_session, stdio_session

from moot.tools.travel import make_travel_server

DAY = "2026-12-10"
TOOLS = {"search_flights", "search_hotels", "book", "cancel", "list_bookings"}


def hotel(item: str = "H-LIS-ALFAMA", checkin: str = DAY, nights: int = 3, traveller: str = "Ana Sousa") -> dict[str, Any]:
    return {"kind": "hotel", "item_id": item, "traveller": traveller, "checkin": checkin, "nights": nights}


def flight(item: str, traveller: str = "Ana Sousa") -> dict[str, Any]:
    return {"kind": "flight", "item_id": item, "traveller": traveller}


# --- the official SDK client against `moot mcp travel` ---------------------------------------------


async def test_sdk_client_over_stdio_searches_books_and_cancels(tmp_path: Path) -> None:
    db = tmp_path / "travel.db"
    async with stdio_session(["travel", "--db", str(db)], cli_env(tmp_path / "home"), tmp_path / "server.log") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert set(tools) == TOOLS
        book_schema = tools["book"].input_schema
        assert book_schema["properties"]["kind"]["enum"] == ["flight", "hotel"]
        assert set(book_schema["required"]) == {"kind", "item_id", "traveller"}
        assert tools["search_hotels"].input_schema["properties"]["nights"]["type"] == "integer"
        assert all(t.description for t in tools.values())

        flights = data(await s.call_tool("search_flights", {"origin": "Porto", "destination": "LIS", "date": DAY}))
        assert [f["id"] for f in flights] == [f"TP1947@{DAY}", f"TP1941@{DAY}"]
        hotels = data(await s.call_tool("search_hotels", {"city": "lisbon", "checkin": DAY, "nights": 3, "max_price_eur": 100}))
        assert [(h["id"], h["total_eur"]) for h in hotels] == [("H-LIS-ALFAMA", 255.0), ("H-LIS-BELEM", 285.0)]

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
            offers = data(await s.call_tool("search_flights", {"origin": "LIS", "destination": "London", "date": DAY}))
            assert [o["flight"] for o in offers] == ["TP1350", "BA0501"]
            booked = data(await s.call_tool("book", flight(offers[0]["id"]), meta={"idempotency_key": "run-h:1"}))
            async with Client(make_travel_server(db)) as local:
                replay = await local.call_tool("book", flight(offers[1]["id"]), meta={"idempotency_key": "run-h:1"})
            assert replay.structured_content == booked  # the key names the call: its first booking stands
            assert len(data(await s.call_tool("list_bookings", {}))) == 1
            bad = await s.call_tool("cancel", {"booking_id": "BK-99999"})
            assert "unknown booking 'BK-99999'" in error_text(bad)


# --- the inventory's rules, in-process -----------------------------------------------------------


async def call(client: Client, tool: str, args: dict[str, Any], **kw: Any) -> Any:
    result = await client.call_tool(tool, args, raise_on_error=False, **kw)
    if result.is_error:
        return "error: " + " ".join(getattr(b, "text", "") for b in result.content)
    content = result.structured_content or {}
    return content["result"] if set(content) == {"result"} else content


async def test_a_flight_sells_out_and_a_cancellation_frees_the_seat() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        shuttle = f"TP1947@{DAY}"  # two seats
        first = await call(c, "book", flight(shuttle))
        await call(c, "book", flight(shuttle, "Rui Lopes"))
        assert await call(c, "book", flight(shuttle, "Eva Lima")) == (
            f"error: flight {shuttle} is sold out; search_flights lists the flights with seats left"
        )
        offers = await call(c, "search_flights", {"origin": "OPO", "destination": "LIS", "date": DAY})
        assert shuttle not in [o["id"] for o in offers]
        await call(c, "cancel", {"booking_id": first["booking_id"]})
        assert (await call(c, "book", flight(shuttle, "Eva Lima")))["status"] == "confirmed"


async def test_hotel_rooms_are_counted_per_night() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        for guest in ("A", "B", "C"):  # Casa do Fado has three rooms
            await call(c, "book", hotel(traveller=guest))
        assert "is sold out from 2026-12-12 to 2026-12-13" in await call(c, "book", hotel(checkin="2026-12-12", nights=1))
        # the night of the checkout is free again
        assert (await call(c, "book", hotel(checkin="2026-12-13", nights=2)))["status"] == "confirmed"
        stays = await call(c, "search_hotels", {"city": "LIS", "checkin": DAY, "nights": 1})
        assert "H-LIS-ALFAMA" not in [h["id"] for h in stays]


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


async def test_bad_input_is_a_tool_error_that_says_what_to_do() -> None:
    async with Client(make_travel_server(":memory:")) as c:
        cases = [
            ("search_flights", {"origin": "home", "destination": "LIS", "date": DAY}, "unknown city 'home'; this inventory has Lisbon (LIS)"),
            ("search_flights", {"origin": "OPO", "destination": "LIS", "date": "10/12/2026"}, "write it as YYYY-MM-DD"),
            ("search_hotels", {"city": "Lisbon", "checkin": DAY, "nights": 0}, "nights must be between 1 and 30"),
            ("book", {"kind": "hotel", "item_id": "H-LIS-BAIXA", "traveller": "Ana"}, "needs checkin (YYYY-MM-DD) and nights"),
            ("book", hotel(item="H-NOWHERE"), "unknown hotel 'H-NOWHERE'; book an id that search_hotels returned"),
            ("book", hotel(traveller="  "), "traveller is empty"),
            ("book", flight("TP1941"), "unknown flight 'TP1941'"),
            ("cancel", {"booking_id": "42"}, "booking ids look like 'BK-00001'"),
        ]
        for tool, args, expected in cases:
            answer = await call(c, tool, args)
            assert isinstance(answer, str) and expected in answer, (tool, args, answer)
        assert await call(c, "list_bookings", {}) == []  # nothing half-booked, and the server still answers
