"""The shipped emotion reader and strategy chooser, run for real (NumPy MiniLM + tuned layers)."""

from pathlib import Path

import numpy as np
import pytest

from os1.affect.emotion import MODEL_FILE, EmotionReader
from os1.affect.errors import AffectError
from os1.affect.language import traits_of
from os1.affect.strategy import STRATEGIES, StrategyChooser, feature_vector
from os1.memory.embedder import Embedder


@pytest.fixture(scope="module")
def reader() -> EmotionReader:
    return EmotionReader(Embedder.load())


def test_divorce_papers_read_as_sadness(reader: EmotionReader) -> None:
    """Issue 4's example: no feeling word in it, yet it is hard news (learned from ESConv's
    situations: Reddit rarely says this kind of thing)."""
    read = reader.read("my divorce papers came today")
    assert "sadness" in read.ekman
    assert {"sadness", "grief", "disappointment", "remorse"} & set(read.labels)
    assert read.valence <= -0.5 and read.confidence > 0.3


def test_good_news_reads_as_joy(reader: EmotionReader) -> None:
    read = reader.read("I got the job!! I can't believe it, I'm so happy")
    assert "joy" in read.ekman
    assert read.valence > 0.5 and read.sentiment == "positive"


def test_everyday_chat_reads_as_neutral(reader: EmotionReader) -> None:
    for text in ("What time does the pharmacy close?", "I had pasta for lunch.",
                 "Let's talk about the weekend plans."):
        read = reader.read(text)
        assert read.labels == ("neutral",), (text, read.labels)
        assert read.valence == 0.0


def test_chat_calibration_reads_everyday_replies_as_neutral(reader: EmotionReader) -> None:
    """With Reddit's thresholds mild replies read as approval or curiosity; the chat margin
    (from DailyDialog) keeps them neutral, and clear feelings still come through."""
    mild = ["ok sure, that works", "I guess that's fine", "What time does the pharmacy close?",
            "Let's talk about the weekend plans."]
    reddit = sum(reader.read(t, chat=False).labels != ("neutral",) for t in mild)
    chat = sum(reader.read(t, chat=True).labels != ("neutral",) for t in mild)
    assert reddit >= 2 and chat == 0
    assert reader.read("I miss my mom so much", chat=True).labels != ("neutral",)


def test_other_languages_are_unknown_not_guessed(reader: EmotionReader) -> None:
    for text in ("estoy muy triste porque mi perro murió", "私はとても悲しいです",
                 "je suis tellement heureuse aujourd'hui"):
        read = reader.read(text)
        assert read.unknown == "not English" and read.labels == () and read.confidence == 0


def test_emoji_only_is_read_through_words(reader: EmotionReader) -> None:
    assert "sadness" in reader.read("😭😭😭").ekman
    assert reader.read("🎉🥳").valence > 0.3
    assert reader.read("🜁").unknown == "no words"  # a symbol os1 cannot put into words


def test_shouting_raises_arousal_and_sarcasm_lowers_confidence(reader: EmotionReader) -> None:
    calm = reader.read("why does this keep happening to me")
    loud = reader.read("WHY DOES THIS KEEP HAPPENING TO ME")
    assert loud.arousal > calm.arousal
    assert traits_of("great, another flat tire /s").sarcasm
    plain = reader.read("I just love waiting two hours at the DMV")
    marked = reader.read("I just love waiting two hours at the DMV /s")
    assert plain.labels != ("neutral",)  # the words alone sound pleased…
    assert abs(marked.confidence - plain.confidence / 2) < 0.02  # …the marker halves the trust


def test_empty_and_huge_messages(reader: EmotionReader) -> None:
    assert reader.read("   ").unknown == "no words"
    huge = "I am so tired of all of this. " * 2000  # 60,000 characters
    # read as the model was trained: its first 128 tokens (about 420 characters here)
    assert reader.read(huge) == reader.read(huge[:3000])


def test_reading_is_deterministic(reader: EmotionReader) -> None:
    a, b = reader.read("I miss my mom so much"), reader.read("I miss my mom so much")
    assert a == b


def test_a_damaged_model_file_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "emotion_model.safetensors"
    broken.write_bytes(MODEL_FILE.read_bytes()[:5000])  # cut short, as by a failed copy
    with pytest.raises(AffectError, match=r"could not be read.*make train-emotion"):
        EmotionReader(Embedder.load(), broken)
    with pytest.raises(AffectError, match="could not be read"):
        StrategyChooser(tmp_path / "missing.safetensors")


def test_chooser_gives_a_distribution_and_the_low_trend_lifts_reassurance(
        reader: EmotionReader) -> None:
    chooser = StrategyChooser()
    pooled = reader.pooled("I failed my exam again and I feel worthless")
    scores = reader.probabilities(pooled)["original"]
    features = feature_vector(pooled, scores, "Question", 3, "I failed my exam again")
    probs = chooser.probabilities(features)
    assert probs.shape == (len(STRATEGIES),) and abs(float(probs.sum()) - 1.0) < 1e-5
    lifted = chooser.probabilities(features, low_trend=True)
    index = STRATEGIES.index("Affirmation and Reassurance")
    assert lifted[index] > probs[index]


def test_chooser_opens_a_conversation_differently_than_it_goes_on(
        reader: EmotionReader) -> None:
    """The chooser uses the conversation, not only the words: position and the last strategy."""
    chooser = StrategyChooser()
    pooled = reader.pooled("Hi")
    scores = reader.probabilities(pooled)["original"]
    opening = chooser.probabilities(feature_vector(pooled, scores, None, 0, "Hi"))
    later = chooser.probabilities(feature_vector(pooled, scores, "Providing Suggestions", 7,
                                                 "Hi"))
    assert not np.allclose(opening, later, atol=0.02)


def test_only_unpleasant_feelings_shape_the_prompt(reader: EmotionReader) -> None:
    """The note costs first-token time, so it goes where it matters: distress."""
    from datetime import date

    from os1.affect.engine import TurnAffect
    from os1.affect.strategy import StrategyChoice
    from os1.affect.trend import trend_of

    def note(text: str) -> str:
        read = reader.read(text)
        return TurnAffect(read, None, read.valence, read.arousal, read.confidence,
                          StrategyChoice("Question", 0.4), trend_of([], date.today())).note()

    sad = note("my divorce papers came today")
    assert sad.startswith("They seem to feel sadness: acknowledge that before anything else.")
    assert sad.endswith("Ask one gentle, open question.")
    assert note("I got the job!! I can't believe it, I'm so happy") == ""
    assert note("What time does the pharmacy close?") == ""
