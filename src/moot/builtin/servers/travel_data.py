"""The demo travel agency's tables: cities, routes (two flights a day each way) and hotels.

Plain data, kept apart from the code that counts seats and rooms (`moot.builtin.servers.travel_inventory`),
so a task set's author can read what exists: which pairs of cities have a route, which hotel is
small enough to sell out. Prices are in EUR; a flight's price per seat on a given day is a fixed
function of its base fare and the date.
"""

from __future__ import annotations

CITIES = [("LIS", "Lisbon", "Portugal"), ("OPO", "Porto", "Portugal"), ("MAD", "Madrid", "Spain"),
          ("BCN", "Barcelona", "Spain"), ("PAR", "Paris", "France"), ("LON", "London", "United Kingdom"),
          ("ROM", "Rome", "Italy"), ("BER", "Berlin", "Germany")]
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
"""How every date is written, in the tools' schemas and in offer ids."""
CITY_NAMES = tuple(name for _, name, _ in CITIES)

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


__all__ = ["CITIES", "CITY_NAMES", "DATE_PATTERN", "HOTELS", "ROUTES"]
