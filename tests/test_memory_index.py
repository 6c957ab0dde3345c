"""The hybrid index and recall: isolation, budgets, fusion, neighbours, hops, updates, snapshots.

The real MiniLM embedder is loaded once for the module; tests that only need vectors of some
shape pass their own (`add(items, vectors=...)`), which is also how a store restores a snapshot.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from moot.errors import UsageError
from moot.memory.retrieval import shard as retrieval_shard
from moot.memory.embedder import get_embedder
from moot.memory.retrieval.index import HybridIndex
from moot.memory.retrieval import RecallConfig, Retriever
from moot.memory.retrieval.rank import fuse_scores, rrf, top_rows
from moot.memory.retrieval.text import mentioned, stem, strip_words, terms
from moot.memory.types import Embedder, MemoryItem

DAY = 86_400.0
T0 = 1_683_504_000.0  # 8 May 2023


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder("minilm")


def dialogue(user: str, session: str, lines: list[tuple[str, str]], day: int = 0) -> list[MemoryItem]:
    return [
        MemoryItem(id=f"{user}:{session}:{i}", layer="episodic", text=f"{who}: {text}", user_id=user,
                   session_id=f"{user}/{session}", ts=T0 + day * DAY + i, meta={"seq": i, "speaker": who})
        for i, (who, text) in enumerate(lines)
    ]


TRIP = [
    ("Ana", "Morning! I booked the train to Porto for Friday."),
    ("Ben", "Nice. Which station does it leave from?"),
    ("Ana", "Santa Apolonia, at 9:40. The ticket code is XJ-4420."),
    ("Ben", "Do you need a hotel there?"),
    ("Ana", "No, I'm staying with my cousin Rita near the river."),
]
FOOD = [
    ("Ben", "I started a sourdough starter last week."),
    ("Ana", "How is it going?"),
    ("Ben", "It smells great; I bake my first loaf on Sunday."),
    ("Ana", "Rita makes amazing pastel de nata, you should ask her."),
]


@pytest.fixture
def index(embedder: Embedder) -> HybridIndex:
    idx = HybridIndex(embedder)
    idx.add(dialogue("u1", "trip", TRIP, day=0))
    idx.add(dialogue("u1", "food", FOOD, day=3))
    # Another user with the same words: nothing of theirs may ever come back to u1.
    idx.add(dialogue("u2", "trip", [(w, t.replace("Porto", "Faro")) for w, t in TRIP], day=1))
    return idx


# -- isolation -----------------------------------------------------------------------------------
def test_search_and_recall_never_cross_users(index: HybridIndex) -> None:
    retriever = Retriever(index)
    for query in ["train to Porto", "train to Faro", "XJ-4420", "sourdough", "Ana", "station"]:
        assert all(item.user_id == "u1" for item in index.search("u1", query, k=50))
        assert all(item.user_id == "u2" for item in index.search("u2", query, k=50))
        recalled = retriever.recall("u1", query, 1000)
        assert recalled.items and all(item.user_id == "u1" for item in recalled.items)
        assert "Faro" not in recalled.text


def test_filters_cannot_reach_another_user(index: HybridIndex) -> None:
    retriever = Retriever(index)
    assert index.search("u1", "train", filters={"session_id": "u2/trip"}) == []
    assert retriever.recall("u1", "train", 1000, filters={"session_id": "u2/trip"}).items == []
    assert index.search("nobody", "train") == []
    with pytest.raises(UsageError, match="user_id is required"):
        index.search("", "train")
    with pytest.raises(UsageError, match="user_id is required"):
        retriever.recall("", "train")


def test_isolation_holds_for_many_users_with_identical_items(embedder: Embedder) -> None:
    idx = HybridIndex(embedder)
    rng = np.random.default_rng(1)
    vec = rng.normal(size=(1, embedder.dim)).astype(np.float32)
    vec /= np.linalg.norm(vec)
    for u in range(50):
        idx.add([MemoryItem(id=f"m{u}", layer="semantic", text="prefers trains over flights", user_id=f"user{u}")],
                vectors=vec)
    for u in range(50):
        hits = Retriever(idx).recall(f"user{u}", "prefers trains", 1000).items
        assert [h.id for h in hits] == [f"m{u}"]


def test_ids_are_scoped_by_user(embedder: Embedder) -> None:
    idx = HybridIndex(embedder)
    idx.add([MemoryItem(id="fact-1", layer="semantic", text="Ana prefers trains", user_id="ana")])
    idx.add([MemoryItem(id="fact-1", layer="semantic", text="Ben prefers planes", user_id="ben")])
    assert idx.get("ana", "fact-1").text == "Ana prefers trains"  # type: ignore[union-attr]
    assert idx.get("ben", "fact-1").text == "Ben prefers planes"  # type: ignore[union-attr]
    assert idx.remove(["fact-1"], user_id="ben") == 1
    assert idx.get("ana", "fact-1") is not None and idx.get("ben", "fact-1") is None
    assert len(idx) == 1


# -- filters -------------------------------------------------------------------------------------
def test_filters_by_layer_session_and_meta(index: HybridIndex, embedder: Embedder) -> None:
    index.add([MemoryItem(id="fact", layer="semantic", text="Ana prefers trains to planes", user_id="u1",
                          meta={"kind": "preference"})])
    assert [i.id for i in index.search("u1", "train", filters={"layer": "semantic"})] == ["fact"]
    assert {i.id for i in index.search("u1", "train", k=20, filters={"speaker": ["Ben"]})} == {
        "u1:trip:1", "u1:trip:3", "u1:food:0", "u1:food:2"}
    assert all(i.session_id == "u1/food" for i in index.search("u1", "bread", filters={"session_id": "u1/food"}))
    assert index.search("u1", "train", filters={"no_such_key": 1}) == []
    assert index.search("u1", "train", filters={"kind": "other"}) == []


# -- budget ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("budget", [0, 1, 3, 8, 20, 40, 75, 150, 1000])
def test_recall_never_exceeds_the_budget(index: HybridIndex, embedder: Embedder, budget: int) -> None:
    retriever = Retriever(index)
    for query in ["Where is Ana staying in Porto?", "bread", "What is the ticket code?", "Rita"]:
        recalled = retriever.recall("u1", query, budget)
        assert recalled.tokens <= budget
        assert embedder.count_tokens(recalled.text) == recalled.tokens
        assert bool(recalled.items) == bool(recalled.text)


def test_packing_groups_a_session_under_one_date(index: HybridIndex) -> None:
    recalled = Retriever(index).recall("u1", "Rita", 1000)
    lines = recalled.text.splitlines()
    assert lines.count("[8 May 2023]") == 1 and lines.count("[11 May 2023]") == 1
    assert lines.index("[8 May 2023]") < lines.index("[11 May 2023]")  # sessions in time order
    trip = [line for line in lines[lines.index("[8 May 2023]") + 1 : lines.index("[11 May 2023]")]]
    assert trip == sorted(trip, key=[f"{w}: {t}" for w, t in TRIP].index)  # turns in session order
    assert {item.session_id for item in recalled.items} == {"u1/trip", "u1/food"}


def test_a_tight_budget_keeps_the_best_item(index: HybridIndex, embedder: Embedder) -> None:
    best = index.search("u1", "What is the ticket code?", k=1)[0]
    cost = embedder.count_tokens(best.text) + embedder.count_tokens("[8 May 2023]")
    recalled = Retriever(index, RecallConfig(neighbour_top=0)).recall("u1", "What is the ticket code?", cost)
    assert recalled.ids == [best.id] and recalled.tokens == cost


# -- ranking ---------------------------------------------------------------------------------------
def test_lexical_match_wins_where_meaning_is_weak(index: HybridIndex) -> None:
    assert index.search("u1", "XJ-4420", k=1)[0].id == "u1:trip:2"


def test_fusion_functions() -> None:
    mask = np.array([True, True, True, False])
    dense = np.array([0.9, 0.1, 0.5, 1.0])
    lexical = np.array([0.0, 8.0, 0.0, 9.0])
    fused = fuse_scores(dense, lexical, mask, w_dense=1.0, w_lexical=0.5)
    assert fused[3] == 0.0  # masked out, however high its scores
    assert fused[0] == pytest.approx(1.0) and fused[1] == pytest.approx(0.5) and fused[2] == pytest.approx(0.5)
    ranks = rrf(dense, lexical, mask)
    assert ranks[3] == 0.0 and ranks[1] > ranks[2]  # row 1 is first lexically, row 2 has no term
    assert top_rows(fused, mask, 2).tolist() == [0, 1]
    assert top_rows(fused, np.ones(4, dtype=bool), 10).tolist()[0] == 0


def test_text_analysis() -> None:
    assert stem("painting") == stem("painted") == stem("paints") == stem("paint")
    assert stem("camping") == stem("camped")
    assert terms("What did Melanie paint?") == [stem("melanie"), stem("paint")]
    assert mentioned("What activities does Melanie's kid like?", {"melanie": 0, "caroline": 1}) == [0]
    assert strip_words("What did Melanie's kids paint?", {"melanie"}) == "What did kids paint?"


def test_speaker_mention_prefers_that_speakers_lines(index: HybridIndex) -> None:
    recalled = Retriever(index).recall("u1", "What did Ben start baking?", 60)
    assert recalled.items[0].meta["speaker"] == "Ben"


def test_neighbours_come_along_with_a_hit(index: HybridIndex) -> None:
    # The hit is the answer (trip:2); the question before it (trip:1) comes along.
    query = "ticket code XJ-4420"
    plain = Retriever(index, RecallConfig(neighbour_top=0, neighbour_smoothing=0, session_boost=0, hops=1))
    shard = index.shard("u1")
    assert shard is not None
    with_neighbours = Retriever(index, RecallConfig(neighbour_top=1))
    ids_plain = plain.recall("u1", query, 30).ids
    ids_near = with_neighbours.recall("u1", query, 60).ids
    assert ids_plain == ["u1:trip:2"]
    assert "u1:trip:2" in ids_near and ({"u1:trip:1", "u1:trip:3"} & set(ids_near))


def test_second_hop_reaches_evidence_that_shares_no_words_with_the_question(embedder: Embedder) -> None:
    """'Where did she move from?' finds 'moved from my home country'; only that line links to
    'Sweden' through 'home country'. Distractors fill the rest."""
    filler = [
        ("Kim", "The football match last night went to penalties."),
        ("Lee", "It rained all weekend, so we stayed in."),
        ("Kim", "My new phone takes amazing night photos."),
        ("Lee", "I finally filed my taxes, what a relief."),
        ("Kim", "The tomatoes in the garden are turning red."),
        ("Lee", "I cooked pasta with fresh basil for dinner."),
        ("Kim", "We watched an old western movie on Friday."),
        ("Lee", "These running shoes gave me blisters."),
        ("Kim", "I listen to a history podcast on my commute."),
        ("Lee", "The office moved to the fifth floor."),
        ("Kim", "Our coffee machine broke again this morning."),
        ("Lee", "The museum had a new dinosaur exhibit."),
    ]
    lines = [*filler[:6], ("Kim", "I've lived in this city since I moved from my home country four years ago."),
             *filler[6:], ("Kim", "This necklace was a gift from my grandma back in my home country, Sweden.")]
    idx = HybridIndex(embedder)
    idx.add(dialogue("u", "s", lines))
    question = "Where did Kim move from four years ago?"
    # The names are dropped from the embedded query: in Kim's voice ("Where did I move from?")
    # the first hop alone already ranks the target second, and this test is about the second hop.
    off = RecallConfig(session_boost=0, neighbour_smoothing=0, neighbour_top=0, query_voice="strip")
    one = Retriever(idx, replace(off, hops=1))
    two = Retriever(idx, replace(off, hops=2))
    target = f"u:s:{len(lines) - 1}"
    rank_one = one.recall("u", question, 10_000).ids
    rank_two = two.recall("u", question, 10_000).ids
    by_score_one = [i.id for i in sorted(one.recall("u", question, 10_000).items, key=lambda i: -i.score)]
    by_score_two = [i.id for i in sorted(two.recall("u", question, 10_000).items, key=lambda i: -i.score)]
    assert set(rank_one) == set(rank_two)
    assert by_score_two.index(target) < by_score_one.index(target)
    assert by_score_two.index(target) <= 2


# -- updates ---------------------------------------------------------------------------------------
def test_incremental_add_replace_and_remove(index: HybridIndex) -> None:
    assert index.count("u1") == 9 and len(index) == 14
    index.add([MemoryItem(id="pref", layer="semantic", text="Ana prefers flights", user_id="u1")])
    assert index.search("u1", "Ana prefers flights", k=1)[0].text == "Ana prefers flights"
    index.add([MemoryItem(id="pref", layer="semantic", text="Ana now prefers trains", user_id="u1")])
    assert index.count("u1") == 10  # replaced, not duplicated
    assert [i.text for i in index.search("u1", "Ana prefers", k=20) if i.id == "pref"] == ["Ana now prefers trains"]
    assert index.remove(["pref", "unknown-id"]) == 1
    assert index.get("u1", "pref") is None and all(i.id != "pref" for i in index.search("u1", "prefers trains", k=20))
    assert index.get("u1", "u1:trip:0") is not None


def test_removal_relinks_neighbours_and_out_of_order_adds_are_placed(index: HybridIndex) -> None:
    index.remove(["u1:trip:2"])
    assert [i.id for i in index.items("u1", "u1/trip")] == ["u1:trip:0", "u1:trip:1", "u1:trip:3", "u1:trip:4"]
    shard = index.shard("u1")
    assert shard is not None
    row = {item.id: r for r, item in enumerate(shard.items) if item is not None}
    assert shard.next[row["u1:trip:1"]] == row["u1:trip:3"] and shard.prev[row["u1:trip:3"]] == row["u1:trip:1"]
    late = MemoryItem(id="late", layer="episodic", text="Ana: the code is XJ-4420", user_id="u1",
                      session_id="u1/trip", ts=T0 + 2, meta={"seq": 2})
    index.add([late])
    assert [i.id for i in index.items("u1", "u1/trip")][2] == "late"


def test_remove_user_and_compaction(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    from moot.memory.retrieval import index as index_module

    monkeypatch.setattr(index_module, "COMPACT_MIN_DEAD", 4)
    idx = HybridIndex(embedder)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(30, embedder.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    idx.add([MemoryItem(id=f"i{k}", layer="episodic", text=f"note number {k}", user_id="u", session_id="s",
                        meta={"seq": k}) for k in range(30)], vectors=vecs)
    idx.remove([f"i{k}" for k in range(20)])
    shard = idx.shard("u")
    assert shard is not None and shard.n == 10 and shard.dead == 0  # rebuilt without the dead rows
    assert [i.id for i in idx.items("u", "s")] == [f"i{k}" for k in range(20, 30)]
    assert idx.search("u", "note number 25", k=1)[0].id == "i25"
    assert idx.remove_user("u") == 10 and idx.shard("u") is None and len(idx) == 0


def test_bad_input_is_a_usage_error(index: HybridIndex, embedder: Embedder) -> None:
    with pytest.raises(UsageError, match="has no user_id"):
        index.add([MemoryItem(id="x", layer="semantic", text="t", user_id="")])
    with pytest.raises(UsageError, match="shape"):
        index.add([MemoryItem(id="x", layer="semantic", text="t", user_id="u")], vectors=np.zeros((1, 3)))


# -- snapshots -------------------------------------------------------------------------------------
def test_snapshot_round_trip(index: HybridIndex, embedder: Embedder, tmp_path: Path) -> None:
    index.remove(["u1:food:1"])
    path = tmp_path / "index.npz"
    np.savez(path, **index.to_arrays())
    with np.load(path, allow_pickle=False) as arrays:
        restored = HybridIndex.from_arrays(embedder, dict(arrays))
    assert len(restored) == len(index) == 13
    for user in ("u1", "u2"):
        for query in ["Where is Ana staying?", "sourdough", "XJ-4420"]:
            a = Retriever(index).recall(user, query, 200)
            b = Retriever(restored).recall(user, query, 200)
            assert (a.ids, a.text, a.tokens) == (b.ids, b.text, b.tokens)
    assert restored.get("u1", "u1:trip:0") == index.get("u1", "u1:trip:0")


def test_snapshot_from_another_embedder_is_refused(index: HybridIndex, embedder: Embedder) -> None:
    arrays = index.to_arrays()
    arrays["embedder"] = np.array("some-other-model")
    with pytest.raises(UsageError, match="re-index"):
        HybridIndex.from_arrays(embedder, arrays)


# -- scale path ------------------------------------------------------------------------------------
def test_coarse_to_fine_scan_keeps_the_exact_top(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieval_shard, "COARSE_MIN_ROWS", 500)
    monkeypatch.setattr(retrieval_shard, "COARSE_POOL", 100)
    rng = np.random.default_rng(3)
    topics = rng.normal(size=(40, embedder.dim))
    vecs = (topics[rng.integers(0, 40, 3000)] + 0.3 * rng.normal(size=(3000, embedder.dim))).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    idx = HybridIndex(embedder)
    idx.add([MemoryItem(id=f"m{k}", layer="episodic", text=f"memory {k}", user_id="u") for k in range(3000)],
            vectors=vecs)
    shard = idx.shard("u")
    assert shard is not None
    for q in vecs[:20]:
        exact = vecs @ q
        approx = shard.dense(q)
        top = np.argsort(-exact)[:10]
        assert np.allclose(approx[top], exact[top], atol=1e-5)  # the best rows are scored exactly
        assert np.argsort(-approx)[:10].tolist() == top.tolist()


def test_items_outside_sessions_are_not_neighbours_and_share_a_layer_header(index: HybridIndex) -> None:
    facts = [MemoryItem(id=f"f{k}", layer="semantic", text=text, user_id="u1", ts=T0 + k)
             for k, text in enumerate(["Ana prefers trains to planes.", "Ana's cousin Rita lives in Porto."])]
    index.add(facts)
    shard = index.shard("u1")
    assert shard is not None
    rows = [r for r, item in enumerate(shard.items) if item is not None and item.layer == "semantic"]
    assert all(shard.prev[r] == -1 and shard.next[r] == -1 for r in rows)
    recalled = Retriever(index).recall("u1", "Where does Rita live?", 1000)
    lines = recalled.text.splitlines()
    assert lines.count("[semantic]") == 1
    assert {"f0", "f1"} <= set(recalled.ids)


def test_concurrent_writes_and_recalls(index: HybridIndex, embedder: Embedder) -> None:
    import threading

    errors: list[BaseException] = []
    retriever = Retriever(index)

    def write(user: str) -> None:
        try:
            for k in range(40):
                index.add([MemoryItem(id=f"{user}-{k}", layer="episodic", text=f"{user} note {k} about trains",
                                      user_id=user, session_id=f"{user}/s", meta={"seq": k})])
                if k % 3 == 0:
                    index.remove([f"{user}-{k - 1}"])
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    def read(user: str) -> None:
        try:
            for _ in range(15):
                recalled = retriever.recall(user, "notes about trains", 300)
                assert recalled.tokens <= 300 and all(i.user_id == user for i in recalled.items)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=f, args=(u,)) for u in ("u1", "u2") for f in (write, read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert index.count("u1") == 9 + 40 - 13
