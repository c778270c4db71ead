"""One matcher for every collector (issue 9: no false match, no missed match)."""

from __future__ import annotations

import pytest

from collectors.base import TrackedVideo
from collectors.matching import matches_video

YT = "dQw4w9WgXcQ"


def video(**terms: tuple[str, ...]) -> TrackedVideo:
    return TrackedVideo(slug="clip", title="Clip", **terms)


TELEGRAM = video(urls=("https://t.me/kyiv_witness/418",))
YOUTUBE = video(urls=(f"https://www.youtube.com/watch?v={YT}",))


@pytest.mark.parametrize(
    "link",
    [
        f"https://youtu.be/{YT}?si=Jq8fW2xYbK1",
        f"https://www.youtube.com/watch?v={YT}&t=30s",
        f"https://m.youtube.com/watch?v={YT}",
        f"https://www.youtube.com/shorts/{YT}",
        f"https://www.youtube.com/watch?v={YT}&utm_source=newsletter&fbclid=IwAR3",
        f"https://youtube.com/watch?feature=share&v={YT}",
    ],
)
def test_short_forms_and_tracking_parameters_match_the_tracked_url(link):
    assert matches_video("", [link], YOUTUBE) == f"url:https://www.youtube.com/watch?v={YT}"
    assert matches_video(f"look: {link}", [], YOUTUBE) is not None


@pytest.mark.parametrize(
    "text",
    [
        "https://t.me/kyiv_witness/41821",
        "t.me/kyiv_witness/4180 and t.me/kyiv_witness/41",
        "https://t.me/kyiv_witness/418/extra",
        "https://example.com/?u=https://t.me/kyiv_witness/4189",
    ],
)
def test_a_url_never_matches_as_a_substring_or_prefix(text):
    assert matches_video(text, [text.split()[0]], TELEGRAM) is None


def test_a_url_in_text_matches_without_its_scheme():
    assert matches_video("via t.me/kyiv_witness/418.", [], TELEGRAM) == (
        "url:https://t.me/kyiv_witness/418"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ukraine war: soldier calls his mother", "keyword:ukraine war"),
        ("UKRAINE  WAR footage", "keyword:ukraine war"),
        ("the ukraine\nwar in one clip", "keyword:ukraine war"),
        ("Ｕｋｒａｉｎｅ war", "keyword:ukraine war"),  # full-width letters, NFKC
        ("ukraine warships sighted", None),
        ("newukraine war", None),
        ("ukraine-war", None),
    ],
)
def test_keywords_match_whole_words_only(text, expected):
    assert matches_video(text, [], video(keywords=("ukraine war",))) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Полонений солдат дзвонить мамі", "keyword:полонений солдат"),
        ("ПОЛОНЕНИЙ СОЛДАТ", "keyword:полонений солдат"),
        ("полонений солдатик", None),
        ("неполонений солдат", None),
    ],
)
def test_cyrillic_keywords_match_whole_words_in_any_case(text, expected):
    assert matches_video(text, [], video(keywords=("полонений солдат",))) == expected


def test_typographic_apostrophes_match_plain_ones():
    assert matches_video("the soldier’s mother", [], video(keywords=("soldier's mother",)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#Kyiv tonight", "hashtag:#kyiv"),
        ("news #kyiv, more", "hashtag:#kyiv"),
        ("#КИЇВ", None),
        ("#kyivcity", None),
        ("mykyiv", None),
        ("kyiv", None),
        ("##kyiv", None),
    ],
)
def test_hashtags_match_whole_tags(text, expected):
    assert matches_video(text, [], video(hashtags=("#kyiv",))) == expected


def test_cyrillic_hashtags_match_whole_tags():
    tracked = video(hashtags=("київ",))
    assert matches_video("Вибух #Київ", [], tracked) == "hashtag:київ"
    assert matches_video("#київщина", [], tracked) is None


def test_empty_terms_match_nothing():
    assert matches_video("anything at all", [], video(keywords=("", "  "), hashtags=("#",))) is None


def test_url_evidence_is_reported_before_keywords():
    tracked = video(keywords=("soldier",), urls=("https://t.me/kyiv_witness/418",))
    assert matches_video("soldier", ["https://t.me/s/kyiv_witness/418"], tracked) == (
        "url:https://t.me/kyiv_witness/418"
    )
