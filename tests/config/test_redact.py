"""One masking function for every printed URL or DSN (issue 13: `?password=` was printed)."""

from __future__ import annotations

import pytest

from config.redact import mask_url
from storage.db import describe_url, make_engine


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://vw:hunter2@db:5432/vw", "postgresql+psycopg://vw:***@db:5432/vw"),
        ("postgresql://vw:hun@ter2@db/vw", "postgresql://vw:***@db/vw"),
        ("postgresql://db/vw?password=hunter2", "postgresql://db/vw?password=***"),
        (
            "postgresql://db/vw?sslmode=require&PassWord=hunter2&application_name=x",
            "postgresql://db/vw?sslmode=require&PassWord=***&application_name=x",
        ),
        ("postgresql://db/vw?sslpassword=hunter2", "postgresql://db/vw?sslpassword=***"),
        ("host=db password=hunter2 dbname=vw", "host=db password=*** dbname=vw"),
        ("host=db password = 'hun ter2' dbname=vw", "host=db password = *** dbname=vw"),
        ("https://api.example/v1?key=hunter2&q=clip", "https://api.example/v1?key=***&q=clip"),
        ("https://api.example/v1?access_token=hunter2", "https://api.example/v1?access_token=***"),
        ("sqlite:///viralwatch.db", "sqlite:///viralwatch.db"),
        ("postgresql://vw@db/vw?sslmode=require", "postgresql://vw@db/vw?sslmode=require"),
    ],
)
def test_mask_url_hides_every_secret_and_keeps_the_rest(url, masked):
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://vw:{s}@db/vw",
        "postgresql://db/vw?password={s}",
        "postgresql://db/vw?a=1&password={s}&b=2",
        "host=db password={s}",
    ],
)
@pytest.mark.parametrize("secret", ["hunter2", "p%40ssw0rd", "a/b?c9z:q", "Zq=9;x"])
def test_no_secret_survives_whatever_it_holds(template, secret):
    shown = mask_url(template.format(s=secret))
    assert secret not in shown and "***" in shown


def test_describe_url_masks_query_string_passwords_too():
    engine = make_engine("postgresql+psycopg://vw:one@127.0.0.1/vw?password=two")
    shown = describe_url(engine)
    engine.dispose()
    assert "one" not in shown and "two" not in shown and shown.count("***") == 2


def test_urls_inside_a_message_are_masked_too():
    message = (
        "youtube: cannot reach https://bot:hunter2@api.example/v3/search?key=AIza123 (timeout)"
    )
    assert mask_url(message) == (
        "youtube: cannot reach https://bot:***@api.example/v3/search?key=*** (timeout)"
    )


def test_collectors_redact_is_the_same_masking():
    from collectors.base import redact

    url = "https://x.example/api?client_secret=abc&q=1"
    assert redact(url) == mask_url(url) == "https://x.example/api?client_secret=***&q=1"


def test_a_rejected_url_setting_is_named_with_its_secret_masked(tmp_path):
    from config.settings import ConfigError
    from viralwatch.catalog import load_settings

    path = tmp_path / "c.toml"
    path.write_text('[collectors.rss]\nfeeds = ["ftp://reader:hunter2@feeds.example/x.xml"]\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "collectors.rss.feeds" in str(err.value) and "hunter2" not in str(err.value)
