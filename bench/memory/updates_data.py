"""Generated multi-session dialogues in which facts change: the data of `updates.py`.

Each of `USERS` users talks with an assistant over `SESSIONS` dated sessions. Six of eight
attributes are picked per user (home, employer, diet, budget, favourite airline, phone number,
email, hotel booking): 40 users give 240 facts. Every fact is stated in one of the first three
sessions; `CHANGED` of them (at least a third) change one to three times, each change in a later
session than the last. Between statements, distractor chatter: small talk, assistant replies, and
near misses (first-person lines that name an attribute's words without setting it: "my phone is
almost out of battery").

Two template sets, written apart from the pattern set of `moot.memory.facts.keys`:

- `dev`: the phrasings the extractor was developed against (its misses were looked at);
- `held-out`: other phrasings and other near misses, written before the extractor was ever run
  on them and never used to change it. Its numbers say how the patterns generalise.

Rules that keep the scoring fair for every system: values never occur in distractors; a
statement never names the previous value ("I moved from Lisbon to Porto" would put a stale
value in the current line for every system); the versions of one fact are all different.
Everything is drawn from one `random.Random(seed)`: the same seed gives the same dialogues.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

USERS = 40
ATTRIBUTES_PER_USER = 6
SESSIONS = 8
CHANGED = 0.4
"""share of facts that change at least once (the issue asks for at least a third)"""
DISTRACTORS = (10, 16)
"""distractor turns per session (inclusive range)"""

NAMES = (
    "Ana Bruno Carla Dario Elena Filipe Greta Hugo Ines Joao Katja Luis Marta Nuno Olga Pedro Quinn Rita Sofia "
    "Tomas Ursula Vasco Wanda Xavier Yara Zeno Alba Bento Clara Duarte Eva Fabio Gil Helena Ivo Julia Kai Lara "
    "Mateus Nadia"
).split()

VALUES: dict[str, tuple[str, ...]] = {
    "home": ("Lisbon", "Porto", "Madrid", "Berlin", "Oslo", "Vienna", "Prague", "Dublin", "Zurich", "Krakow",
             "Seville", "Lyon", "Ghent", "Bergen", "Turin", "Tallinn"),
    "employer": ("Siemens", "Novartis", "Spotify", "Zalando", "Philips", "Ericsson", "Unilever", "Heineken",
                 "Carlsberg", "Danone", "Bosch", "Nokia", "Infineon", "Adyen"),
    "diet": ("vegetarian", "vegan", "pescatarian", "flexitarian", "keto"),
    "budget": tuple(f"{n} EUR" for n in range(900, 4100, 100)),
    "favourite airline": ("TAP", "Lufthansa", "KLM", "Iberia", "Finnair", "Ryanair", "easyJet", "Vueling",
                          "Aegean", "Transavia", "Icelandair", "Swiss"),
    "phone number": (),  # drawn: +351 9dd ddd ddd
    "email": (),  # drawn: name.word@domain
    "hotel booking": ("booked", "cancelled", "confirmed", "postponed"),
}

QUESTIONS: dict[str, str] = {
    "home": "Where does {n} live now?",
    "employer": "Where does {n} work now?",
    "diet": "What diet does {n} follow now?",
    "budget": "What is {n}'s travel budget now?",
    "favourite airline": "Which airline does {n} prefer now?",
    "phone number": "What is {n}'s current phone number?",
    "email": "What is {n}'s current email address?",
    "hotel booking": "What is the status of {n}'s hotel booking?",
}

# (first statement templates, change templates) per attribute; {v} is the value.
DEV: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "home": (("I live in {v}.", "I'm based in {v} at the moment.", "We live in {v} with two cats."),
             ("I moved to {v} last month.", "My address is now in {v}.", "We relocated to {v} in the spring.")),
    "employer": (("I work at {v}.", "I work for {v} as an engineer.", "My employer is {v}."),
                 ("I just joined {v}.", "My employer is now {v}.", "I started a new job at {v}.")),
    "diet": (("I'm {v}.", "I am {v}, just so you know.", "My diet is {v}."),
             ("I'm {v} now.", "My diet is {v} these days.", "Quick update: I am {v} now.")),
    "budget": (("My budget is {v}.", "Our budget is {v} for the trip.", "My travel budget is {v}."),
               ("My budget is now {v}.", "My budget has changed to {v}.", "Update: our budget is {v} now.")),
    "favourite airline": (("My favourite airline is {v}.", "My favorite airline is {v}, by far."),
                          ("My favourite airline is now {v}.", "My preferred airline changed to {v}.")),
    "phone number": (("My phone number is {v}.", "My mobile number is {v}."),
                     ("My new number is {v}.", "My phone number changed to {v}.")),
    "email": (("My email is {v}.", "My email address is {v}."),
              ("My new email address is {v}.", "My email changed to {v}.")),
    "hotel booking": (("We {v} the hotel.", "I {v} the hotel booking."),
                      ("We {v} the hotel booking.", "I have {v} the hotel reservation.")),
}

HELD_OUT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "home": (("We've been living in {v} for years.", "I reside in {v}.", "Home is {v} for me."),
             ("Big news: we just moved house to {v}!", "I've settled in {v} now.", "These days I live in {v}.")),
    "employer": (("These days I'm working for {v}.", "My company is {v}.", "I'm employed at {v}."),
                 ("I took a job at {v} last week.", "I've switched jobs, I'm at {v} now.", "I got hired by {v}.")),
    "diet": (("I eat a {v} diet.", "Being {v} matters to me.", "I'm strictly {v}."),
             ("I've gone {v}.", "From now on I'm fully {v}.", "Heads up, I am {v} these days.")),
    "budget": (("I can spend up to {v} in total.", "Let's keep the budget at {v}.", "My max budget is {v}."),
               ("Budget update: {v} max.", "I raised my budget to {v}.", "Our total budget is now {v}.")),
    "favourite airline": (("{v} is my favourite airline.", "I always fly {v}, it's my favorite carrier."),
                          ("These days my favorite airline is {v}.", "I switched my favourite airline to {v}.")),
    "phone number": (("My mobile is {v}.", "Call me on {v}."),
                     ("I got a new phone number: {v}.", "My cell number is now {v}.")),
    "email": (("Reach me by email at {v}.", "My e-mail is {v}."),
              ("Please use my new email, {v}.", "My e-mail address has changed to {v}.")),
    "hotel booking": (("The hotel reservation is {v}.", "Our hotel booking is {v}."),
                      ("Our hotel booking got {v}.", "We've {v} our hotel reservation.")),
}

HELD_OUT_2: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "home": (("My place is in {v}.", "I call {v} home.", "I'm living in {v} at present."),
             ("We packed up and now live in {v}.", "I've just finished moving to {v}.", "Our new home is in {v}.")),
    "employer": (("I'm an engineer at {v}.", "I've been with {v} for five years.", "I'm on the payroll at {v}."),
                 ("Starting Monday I work at {v}.", "I left my old job and joined {v}.", "My new employer is {v}.")),
    "diet": (("I follow a {v} diet.", "I've been {v} since college."),
             ("I went {v} last month.", "I switched to a {v} diet.", "Nowadays I'm {v}.")),
    "budget": (("We have {v} to spend on the trip.", "The most I can pay is {v}."),
               ("Let's say {v} for the budget now.", "We increased the budget to {v}.", "Make that {v} for the whole trip budget.")),
    "favourite airline": (("I love flying {v}, they're my favourite.", "My go-to airline is {v}."),
                          ("{v} is now my favourite airline.", "I now prefer {v} over any other airline.")),
    "phone number": (("My number: {v}.", "You can text me at {v}."),
                     ("New phone, new number: {v}.", "Please update my phone to {v}.")),
    "email": (("Send the tickets to {v}.", "I use {v} for email."),
              ("My email is different now: {v}.", "Write to {v} from now on.")),
    "hotel booking": (("The hotel is {v}.", "Hotel status: {v}."),
                      ("Just so you know, the hotel got {v}.", "We had to get the hotel booking {v}.")),
}
"""A second held-out set, written after the patterns were widened on seeing `HELD_OUT`'s result,
and committed before they were run on it."""

HELD_OUT_3: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "home": (("I'm from {v} and still live there.", "My flat is in {v}.", "We live just outside {v}."),
             ("We finally made the move to {v}.", "As of this month, home is {v}.", "I now live in {v}.")),
    "employer": (("I'm a designer at {v}.", "I work in marketing at {v}."),
                 ("I've accepted an offer from {v}.", "Next week I start at {v}.", "I now work for {v}.")),
    "diet": (("I don't eat meat, I'm {v}.", "I've been a {v} for a while."),
             ("I decided to become {v}.", "These days I eat {v}.", "I'm trying a {v} diet now.")),
    "budget": (("Our budget for the holiday is {v}.", "I'd like to stay under {v}."),
               ("We can now afford {v}.", "New budget: {v}.", "Budget's gone up to {v}.")),
    "favourite airline": (("{v} is the airline I like best.", "I mostly fly {v}."),
                          ("My favourite airline these days is {v}.", "I've become a fan of {v}, my new favourite airline.")),
    "phone number": (("Here's my number: {v}.", "My phone number, in case you need it, is {v}."),
                     ("I changed my number to {v}.", "Use {v} to call me from now on.")),
    "email": (("My email address is {v}, by the way.", "You can email me at {v}."),
              ("I have a new email: {v}.", "Please switch to {v} for emails.")),
    "hotel booking": (("I've {v} our hotel.", "The hotel booking is {v}."),
                      ("Update on the hotel: it's {v}.", "Our hotel reservation has been {v}.")),
}
"""A third held-out set, written after the LoCoMo precision fixes and committed before the
patterns were run on it."""

HELD_OUT_4: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "home": (("Our apartment is in {v}.", "{v} is where I live.", "I've lived in {v} my whole life."),
             ("We've moved again, to {v} this time.", "After the move, we're in {v}.", "I'm a {v} resident now.")),
    "employer": (("I'm at {v} in the finance team.", "{v} pays my salary.", "I do software at {v}."),
                 ("I'm joining {v} next month.", "I got a position at {v}.", "I changed companies and I'm with {v} now.")),
    "diet": (("I stick to a {v} diet.", "I've always been {v}."),
             ("I've turned {v}.", "My doctor put me on a {v} diet.", "I eat {v} now.")),
    "budget": (("I'd rather not go above {v}.", "The budget we agreed on is {v}."),
               ("We can stretch to {v} now.", "Let's cap it at {v} instead.", "The new ceiling is {v}.")),
    "favourite airline": (("I prefer {v} to other airlines.", "Whenever I can, I book {v}."),
                          ("Lately {v} has become my favourite airline.", "My new favourite carrier is {v}.")),
    "phone number": (("My number is {v} if you need me.", "Ring me at {v}."),
                     ("I've switched to a new number, {v}.", "From today my phone number is {v}.")),
    "email": (("My inbox is {v}.", "Email me at {v} please."),
              ("I moved my email to {v}.", "Contact me at {v} from now on.")),
    "hotel booking": (("Our room at the hotel is {v}.", "The hotel stay is {v}."),
                      ("The hotel has now been {v}.", "Heads up: the hotel room is {v}.")),
}
"""A fourth held-out set, written blind at the start of the session that followed the
catch-up (2026-12-07, 13:40), committed before any change to the patterns or the topic signal
was made or run on it: after held-out-2 and -3 had been looked at, it is the only blind one."""

_CHATTER = (
    "I watched a documentary about {t} yesterday.", "The weather has been {w} all week.",
    "I tried a new recipe with {f} last night.", "I'm reading a book about {t}.", "We went hiking near the river.",
    "Work has been hectic lately.", "I finally fixed the leaking tap in the kitchen.", "My neighbour plays the drums.",
    "Do you know a good podcast about {t}?", "I spent the weekend gardening.", "The train was packed this morning.",
    "I've been learning to play the guitar.", "We had {f} for dinner with friends.", "It was {w} at the beach.",
)
_REPLIES = (
    "That sounds lovely!", "How did that go?", "Good to know.", "Tell me more about it.", "Noted, thanks.",
    "That must have been fun.", "Let me know if you need anything else.", "Interesting!",
)
NEAR_MISSES = {
    "dev": ("My phone is almost out of battery.", "My flight was delayed two hours last time.",
            "I need to update my budget spreadsheet.", "My sister is visiting next weekend.",
            "The airline food was bland.", "My coffee is getting cold.", "Where do you live, by the way?"),
    "held-out": ("My email inbox is a mess.", "My home office is too small.", "I work best in the morning.",
                 "My diet went out the window at the party.", "I moved the sofa to the other wall.",
                 "My budget app crashed again.", "We reserved a table for Friday."),
    "held-out-2": ("My number one priority is rest.", "I moved the meeting to Friday.", "The budget airlines are so cramped.",
                   "My favourite season is here.", "I called the hotel to ask about parking.", "I could spend 200 hours on this game.",
                   "My mail carrier is very friendly."),
    "held-out-4": ("My apartment needs a new coat of paint.", "I prefer window seats on long trips.",
                   "My email signature looks odd on phones.", "We skipped the dentist appointment.",
                   "My salary is paid at the end of the month.", "I eat breakfast at seven.",
                   "Ring me if the train is late."),
    "held-out-3": ("My phone bill was huge this month.", "I live for weekends like this.", "My favourite part was the dessert.",
                   "I work out three times a week.", "We called off our gym plans because of rain.",
                   "My budget meeting ran late.", "I moved my desk closer to the window."),
}
_TOPICS = ("whales", "volcanoes", "jazz", "chess", "bees", "glaciers", "origami", "the Roman empire")
_WEATHER = ("rainy", "sunny", "windy", "foggy", "mild")
_FOODS = ("mushrooms", "lentils", "pumpkin", "rice", "aubergine")
_DOMAINS = ("mail.pt", "post.eu", "inbox.net", "web.de")
_WORDS = ("sun", "blue", "fox", "river", "oak", "stone", "wave", "pine", "cloud", "reed")


@dataclass(frozen=True)
class Fact:
    """One attribute of one user and every value it had, oldest first (the last is current)."""

    user: str
    attribute: str
    values: tuple[str, ...]
    question: str

    @property
    def current(self) -> str:
        return self.values[-1]

    @property
    def stale(self) -> tuple[str, ...]:
        return self.values[:-1]


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    session: int
    date: str
    ts: float


@dataclass
class Dialogue:
    user: str
    turns: list[Turn] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)


def _draw_values(rng: random.Random, attribute: str, user: str, n: int) -> tuple[str, ...]:
    if attribute == "phone number":
        values = {f"+351 9{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}" for _ in range(n + 3)}
    elif attribute == "email":
        values = {f"{user.lower()}.{rng.choice(_WORDS)}{rng.randint(1, 99)}@{rng.choice(_DOMAINS)}" for _ in range(n + 3)}
    else:
        return tuple(rng.sample(VALUES[attribute], n))
    return tuple(rng.sample(sorted(values), n))


def _chatter(rng: random.Random, templates: str) -> str:
    if rng.random() < 0.12:
        return rng.choice(NEAR_MISSES[templates])
    return rng.choice(_CHATTER).format(t=rng.choice(_TOPICS), w=rng.choice(_WEATHER), f=rng.choice(_FOODS))


def generate(seed: int = 16, templates: str = "dev", users: int = USERS) -> list[Dialogue]:
    """`users` dialogues with their facts; `templates` names a set of `TEMPLATES`."""
    rng = random.Random(f"{seed}:{templates}")
    sets = TEMPLATES[templates]
    start = date(2023, 1, 9)
    dialogues = []
    for name in NAMES[:users]:
        dialogue = Dialogue(name)
        said: dict[int, list[str]] = {s: [] for s in range(SESSIONS)}
        for attribute in rng.sample(sorted(sets), ATTRIBUTES_PER_USER):
            changes = rng.randint(1, 3) if rng.random() < CHANGED else 0
            values = _draw_values(rng, attribute, name, changes + 1)
            first, later = sets[attribute]
            sessions = [rng.randint(0, 2)]
            for _ in range(changes):
                sessions.append(rng.randint(sessions[-1] + 1, SESSIONS - changes + len(sessions) - 1))
            for i, (session, value) in enumerate(zip(sessions, values, strict=True)):
                said[session].append(rng.choice(first if i == 0 else later).format(v=value))
            dialogue.facts.append(Fact(name, attribute, values, QUESTIONS[attribute].format(n=name)))
        for session in range(SESSIONS):
            day = start + timedelta(days=21 * session + rng.randint(0, 6))
            lines = [_chatter(rng, templates) for _ in range(rng.randint(*DISTRACTORS))]
            for statement in said[session]:
                lines.insert(rng.randint(0, len(lines)), statement)
            base = (day - date(1970, 1, 1)).total_seconds() + 9 * 3600
            for i, line in enumerate(lines):
                dialogue.turns.append(Turn(name, line, session, day.isoformat(), base + 120 * i))
                if rng.random() < 0.5:
                    dialogue.turns.append(Turn("Assistant", rng.choice(_REPLIES), session, day.isoformat(), base + 120 * i + 60))
        dialogues.append(dialogue)
    return dialogues


TEMPLATES = {"dev": DEV, "held-out": HELD_OUT, "held-out-2": HELD_OUT_2, "held-out-3": HELD_OUT_3, "held-out-4": HELD_OUT_4}

__all__ = ["DEV", "HELD_OUT", "HELD_OUT_2", "HELD_OUT_3", "HELD_OUT_4", "TEMPLATES", "QUESTIONS", "Dialogue", "Fact", "Turn", "generate"]
