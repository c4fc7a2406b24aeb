"""The service's API as a client sees it: the greeting its contract promises, and reading every acknowledged
write back after a drill."""

import datetime
import http.client
import json
from dataclasses import dataclass

from harness.stores import Store


def greeting(username: str, birth: datetime.date, today: datetime.date) -> str:
    """The service's contract, so that a GET proves it read the date last written, not just any date."""

    def birthday_in(year: int) -> datetime.date:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        day = 28 if (birth.month, birth.day) == (2, 29) and not leap else birth.day
        return datetime.date(year, birth.month, day)

    upcoming = birthday_in(today.year)
    if upcoming < today:
        upcoming = birthday_in(today.year + 1)
    days = (upcoming - today).days
    if days == 0:
        return f"Hello, {username}! Happy birthday!"
    return f"Hello, {username}! Your birthday is in {days} day(s)"


@dataclass(frozen=True)
class ReadBack:
    # Not in the store with the date last acknowledged.
    lost: set[str]
    # Not answered through the API with 200 and the greeting for that date.
    unreadable: set[str]


def read_back(acked: dict[str, str], store: Store, port: int, timeout: float = 5) -> ReadBack:
    """Every acknowledged write (username -> ISO date), from the store itself (`hello-birthday export`) and
    through the API on 127.0.0.1:PORT."""
    stored = store.export()
    lost = {user for user, date in acked.items() if stored.get(user) != date}
    unreadable = set()
    today = datetime.datetime.now(datetime.UTC).date()
    connection = None
    for user, date in acked.items():
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            connection.request("GET", f"/hello/{user}")
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            unreadable.add(user)
            connection = None
            continue
        expected = greeting(user, datetime.date.fromisoformat(date), today)
        if response.status != 200 or json.loads(body or b"{}").get("message") != expected:
            unreadable.add(user)
    if connection is not None:
        connection.close()
    return ReadBack(lost, unreadable)
