"""Small English vocabularies the intake readers share: calendar names, function words, fillers.

They are lists, not a language model, on purpose: each reader asks one narrow question ("is this
word a month?", "is this word ordinary English, so not a place name?") and a short list answers it
the same way every time. No place names live here: places always come from the caller.
"""

from __future__ import annotations

MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
"""Month names and their usual abbreviations, lower case, to the month number."""

WEEKDAYS: dict[str, int] = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5,
    "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
"""Weekday names and abbreviations, lower case, to `date.weekday()` numbers."""

MONTH_RE = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?"
WEEKDAY_RE = r"(?:" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\b\.?"

FUNCTION_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing don't down during each either
    else every few for from further had has have having he her here hers him his how i i'd i'll
    i'm i've if in into is it it's its just let's me might more most must my myself near need
    next no nor not now of off on once only or other our ours out over own per please same she
    should so some such than that the their them then there these they this those though through
    till to too under until up upon us very via was we we'd we'll we're we've were what when
    where which while who whom why will with within without would you your yours""".split()
)
"""English function words: present in almost every English sentence, rare as place names."""

TRAVEL_WORDS = frozenset(
    """adult adults airport arrive arriving away back beach book booking break budget cancel
    cancellation cheap cheapest city couple day days depart departing departure destination
    direct euro euros family fly flying flight flights friend friends get getaway go going group
    guest guests hello help holiday holidays hotel hotels hostel how leave leaving like long
    looking love max maximum min minimum night nights cost costs pound pounds dollar dollars people
    person persons place plan planning price prices stay staying return returning room rooms see
    solo spend sunny ticket tickets total travel traveller travellers traveler travelers trip
    trips vacation visit visiting want week weeks weekend wife husband partner kids children
    find show give make take cheap nice good best around total overall refundable breakfast
    included include including sea view pool pet pets free wifi parking quiet central""".split()
)
"""Everyday travel-request words, so a short English task ("lisbon 3 days cheap") reads as English."""

COMMON_WORDS = (
    FUNCTION_WORDS
    | TRAVEL_WORDS
    | frozenset(
        """anywhere somewhere everywhere home abroad town city country there here it me myself
        us christmas xmas easter new year years eve holidays halloween thanksgiving summer winter
        spring autumn fall morning evening afternoon noon midnight today tomorrow tonight week
        weekend month year beautiful lovely sunny warm old historic capital coast north south
        east west central centre center downtown english my our your his her their someone
        something business work conference wedding honeymoon meeting mom mum dad mother father
        sister brother son daughter boyfriend girlfriend fiance fiancee colleague colleagues
        everything nothing anything""".split()
    )
)
"""Words that are never taken for an unknown place name after a cue ("trip to the coast")."""

HOLIDAYS = frozenset({"christmas", "xmas", "easter", "new year", "new years", "new year's", "halloween", "thanksgiving"})

FOREIGN_WORDS = frozenset(
    """de da do das dos em um uma uns umas para por com sem que viagem dias noites semana menos
    mais planeie planeia reserve quero gostaria ao aos na no nas nos pela pelo
    le la les un une des du au aux pour avec sans et est voyage jours nuits semaine moins
    organisez organiser réservez je nous vous à où
    el los las unos unas y viaje días noches semana menos quiero por
    der das ein eine einen und mit ohne für nach tage nächte woche reise weniger als ich
    il gli uno di del della senza viaggio giorni notti settimana meno
    het een en voor naar dagen nachten reis minder""".split()
) - FUNCTION_WORDS - TRAVEL_WORDS
"""Function and travel words of Portuguese, French, Spanish, German, Italian and Dutch that are
not also English words: a task full of them was written in another language."""
