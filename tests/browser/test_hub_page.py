"""The page's chat room in Debian's headless Chromium against the real server: two pages on a
room see each other's messages live, markup in a message shows as text, and a page whose
connection was cut resumes with the messages posted meanwhile, saying how many were replayed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import requests
from playwright.sync_api import Page

from showcase.hub.memory import LOG_COUNT
from tests.integration.wire import CutProxy

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
TIMEOUT_S = 10.0


def fresh_room() -> str:
    """A room of this test alone: the session's server keeps every room's log."""
    return f"t-{uuid.uuid4().hex[:12]}"


def join(page: Page, user: str, room: str) -> None:
    page.fill("#hub-join input[name=user]", user)
    page.fill("#hub-join input[name=room]", room)
    page.click('#hub [data-action="join"]')
    # Live once the server has sent this connection's presence (after any replay).
    page.wait_for_function(
        "document.querySelector('#hub').dataset.state === 'live'"
        " && document.querySelector('#hub').dataset.presence !== '–'"
    )


def say(page: Page, text: str) -> None:
    page.fill("#hub-send input[name=text]", text)
    page.click('#hub [data-action="send"]')


def wait_messages(page: Page, count: int) -> None:
    page.wait_for_function(f"Number(document.querySelector('#hub').dataset.messages) >= {count}")


def shown(page: Page) -> list[tuple[str, str]]:
    """(user, text) of every message in the room's list, in order, as the page shows them."""
    items = page.locator("#hub [data-role=log] li")
    return [
        (
            items.nth(i).locator(".hub-user").text_content() or "",
            items.nth(i).locator(".hub-text").text_content() or "",
        )
        for i in range(items.count())
    ]


def post(base_url: str, room: str, user: str, text: str) -> str:
    response = requests.post(
        f"{base_url}/chat/send",
        json={"room": room, "user": user, "text": text},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_two_pages_on_a_room_see_each_other_live(
    open_page: Callable[..., Page], base_url: str
) -> None:
    room = fresh_room()
    ann = open_page(f"{base_url}/")
    bob = open_page(f"{base_url}/")
    join(ann, "ann", room)
    join(bob, "bob", room)
    ann.wait_for_function("document.querySelector('#hub').dataset.presence === '2'")
    say(ann, "hello bob")
    wait_messages(bob, 1)
    say(bob, "hi ann")
    wait_messages(ann, 2)
    wait_messages(bob, 2)
    expected = [("ann", "hello bob"), ("bob", "hi ann")]
    assert shown(ann) == expected
    assert shown(bob) == expected
    assert ann.get_attribute("#hub", "data-resume") == ""  # nothing was cut


def test_markup_in_a_message_is_shown_as_text(
    open_page: Callable[..., Page], base_url: str
) -> None:
    room = fresh_room()
    page = open_page(f"{base_url}/")
    join(page, "ann", room)
    markup = '<b>bold</b> <img src=x onerror="window.hubInjected=1">'
    post(base_url, room, "eve", markup)
    wait_messages(page, 1)
    assert shown(page) == [("eve", markup)]
    assert page.locator("#hub [data-role=log] b, #hub [data-role=log] img").count() == 0
    assert page.evaluate("window.hubInjected === undefined")


def test_a_cut_connection_resumes_with_what_was_posted_meanwhile(
    open_page: Callable[..., Page], proxy: CutProxy, base_url: str
) -> None:
    room = fresh_room()
    page = open_page(f"{proxy.url}/")  # every request of the page goes through the proxy
    join(page, "ann", room)
    first = post(base_url, room, "bob", "before the cut")
    wait_messages(page, 1)
    assert page.get_attribute("#hub", "data-last-id") == first

    # Hold every reconnect (a network error) until the messages are posted, so they can only
    # reach the page as a replay, whatever EventSource's retry delay.
    proxy.answer = lambda head: b"" if b"GET /chat/events?" in head else None
    proxy.cut()
    page.wait_for_function("document.querySelector('#hub').dataset.state === 'reconnecting'")
    missed = [f"while cut {n}" for n in range(3)]
    for text in missed:
        post(base_url, room, "bob", text)
    proxy.answer = None

    page.wait_for_function("document.querySelector('#hub').dataset.resume !== ''")
    assert page.get_attribute("#hub", "data-resume") == "resumed"
    assert page.get_attribute("#hub", "data-replayed") == "3"
    assert page.text_content('#hub [data-role="resume"]') == "resumed (3 replayed)"
    assert shown(page) == [("bob", "before the cut")] + [("bob", text) for text in missed]
    resumed = [r for r in proxy.requests if b"GET /chat/events?" in r and b"Last-Event-ID" in r]
    assert resumed and f"Last-Event-ID: {first}".encode() in resumed[-1]
    # Live again after the replay.
    say(page, "back")
    wait_messages(page, 5)
    assert shown(page)[-1] == ("ann", "back")


def test_a_resume_past_the_log_shows_reset_with_the_oldest_id(
    open_page: Callable[..., Page], proxy: CutProxy, base_url: str
) -> None:
    """More messages posted while cut than the room's log holds (the session server keeps the
    default 1,000): the server cannot resume after the page's id and says so; the page shows
    the reset, the oldest id it names, and the whole log replayed."""
    room = fresh_room()
    page = open_page(f"{proxy.url}/")
    join(page, "ann", room)
    first = post(base_url, room, "bob", "before the cut")
    wait_messages(page, 1)

    proxy.answer = lambda head: b"" if b"GET /chat/events?" in head else None
    proxy.cut()
    page.wait_for_function("document.querySelector('#hub').dataset.state === 'reconnecting'")
    with requests.Session() as session:
        ids = []
        for n in range(LOG_COUNT + 1):  # the first one after the cut falls out of the log too
            response = session.post(
                f"{base_url}/chat/send",
                json={"room": room, "user": "bob", "text": f"while cut {n}"},
                timeout=TIMEOUT_S,
            )
            assert response.status_code == 202, response.text
            ids.append(str(response.json()["id"]))
    proxy.answer = None

    page.wait_for_function("document.querySelector('#hub').dataset.resume !== ''")
    assert page.get_attribute("#hub", "data-resume") == "reset"
    assert page.get_attribute("#hub", "data-replayed") == str(LOG_COUNT)
    oldest = ids[1]
    assert oldest != first
    assert (
        page.text_content('#hub [data-role="resume"]')
        == f"reset (oldest id {oldest}, {LOG_COUNT} replayed)"
    )
    assert page.get_attribute("#hub", "data-messages") == str(1 + LOG_COUNT)
    assert page.get_attribute("#hub", "data-last-id") == ids[-1]


def test_the_room_counts_in_the_pages_connection_budget(
    open_page: Callable[..., Page], base_url: str
) -> None:
    """A joined room holds one of the origin's six connections: the page's meter counts it,
    and when the other five are taken a send says so instead of queueing in the browser."""
    page = open_page(f"{base_url}/")
    join(page, "ann", fresh_room())
    assert page.text_content("#connections") == "1"
    page.evaluate("window.held = [1, 2, 3, 4, 5].map(() => window.showcase.budget.acquire())")
    assert page.text_content("#connections") == "6"
    say(page, "queued?")
    status = page.locator('#hub [data-role="send-status"]')
    assert (status.text_content() or "").startswith("not sent: no connection free")
    page.evaluate("window.held.forEach((lease) => lease.release())")
    say(page, "now it fits")
    page.wait_for_function(
        "document.querySelector('#hub [data-role=\"send-status\"]').textContent.startsWith('sent')"
    )
    wait_messages(page, 1)
    page.click('#hub [data-action="leave"]')
    assert page.text_content("#connections") == "0"
