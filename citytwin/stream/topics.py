"""MQTT topic filters per feed (`{feed}` expanded) and the feed a topic names. Pure."""

from collections.abc import Iterable

from citytwin.errors import InvalidParameter

FEED = "{feed}"


def check_filter(pattern: str) -> None:
    """Raise `InvalidParameter` unless `pattern` is a valid MQTT topic filter (MQTT 5 §4.7)."""
    levels = pattern.split("/")
    if not pattern or "\x00" in pattern:
        raise InvalidParameter("mqtt_topics", f"{pattern!r} is not a topic filter")
    for number, level in enumerate(levels, start=1):
        if "#" in level and (level != "#" or number != len(levels)):
            raise InvalidParameter("mqtt_topics", f"{pattern!r}: '#' must be the whole last level")
        if "+" in level and level != "+":
            raise InvalidParameter("mqtt_topics", f"{pattern!r}: '+' must be a whole level")


def subscriptions(patterns: Iterable[str], feeds: Iterable[str]) -> dict[str, str | None]:
    """Each topic filter to subscribe to → the feed it names (None: a filter without `{feed}`)."""
    names = list(feeds)
    expanded: dict[str, str | None] = {}
    for pattern in patterns:
        for feed in names if FEED in pattern else [None]:
            topic_filter = pattern.replace(FEED, feed) if feed else pattern
            check_filter(topic_filter)
            expanded.setdefault(topic_filter, feed)
    if not expanded:
        raise InvalidParameter("mqtt_topics", "no topic filter to subscribe to")
    return expanded


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether `topic` matches `topic_filter` (`+` one level, `#` the rest, `$` topics apart)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False  # §4.7.2: wildcards at the first level never match $SYS and the like
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for position, part in enumerate(wanted):
        if part == "#":
            return True  # also matches the parent level itself ("a/#" matches "a")
        if position >= len(levels) or part not in ("+", levels[position]):
            return False
    return len(wanted) == len(levels)


def feed_of(topic: str, subscribed: dict[str, str | None]) -> str | None:
    """The feed of the first filter naming a feed that `topic` matches; None if there is none."""
    for topic_filter, feed in subscribed.items():
        if feed is not None and topic_matches(topic_filter, topic):
            return feed
    return None
